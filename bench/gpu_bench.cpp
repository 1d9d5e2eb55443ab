// GPU benchmark through the CUDA plugin (the app's dlopen path), against yardsticks
// measured in the same run:
//   * device-to-device copy bandwidth (bytes read + written per second): the machine's own
//     memory bandwidth, the denominator of the two bandwidth goals;
//   * fused residual add + LayerNorm + GeLU, rows x 4096 floats: GB/s and share of copy;
//   * Q4_0 GEMV (decode, one token): GB/s of weights read and share of copy;
//   * Q4_0 vs FP16 GEMV (cuBLAS) on the same shape: time ratio (goal >= 3x);
//   * Q4_0 WMMA GEMM vs cuBLAS FP16 GEMM for a 512-token prefill: TFLOP/s.
// Matrices are larger than the L2 cache so the GEMVs read from memory.
//
// Usage: gpu_bench [OUTPUT.json]   (JSON to stdout when no path is given)
// Exit codes: 0 measured, 77 no usable GPU (prints "SKIPPED: <reason>"), 1 a call failed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "inference/device.h"
#include "kernels/cpu/dtype.h"
#include "kernels/cuda/plugin_api.h"

using namespace consilium;

namespace {

struct Bench {
    const ConsiliumCudaPlugin* api = nullptr;
    ConsiliumCudaContext* ctx = nullptr;
    std::string error;

    bool ok(int rc, const char* what) {
        if (rc == CONSILIUM_CUDA_OK) return true;
        if (error.empty()) error = std::string(what) + ": " + api->last_error(ctx);
        return false;
    }
    void* alloc(size_t bytes) {
        void* p = nullptr;
        return ok(api->alloc(ctx, bytes, &p), "alloc") ? p : nullptr;
    }
    bool upload(void* dst, const void* src, size_t bytes) {
        return ok(api->copy(ctx, nullptr, dst, src, bytes, CONSILIUM_CUDA_HOST_TO_DEVICE), "copy");
    }
    // Mean seconds per call of `op` over `iters` calls after `warmup` calls.
    double time(const std::function<int()>& op, int warmup, int iters) {
        for (int i = 0; i < warmup; ++i)
            if (!ok(op(), "warm-up")) return -1.0;
        if (!ok(api->stream_synchronize(ctx, nullptr), "sync")) return -1.0;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i)
            if (!ok(op(), "timed op")) return -1.0;
        if (!ok(api->stream_synchronize(ctx, nullptr), "sync")) return -1.0;
        const auto t1 = std::chrono::steady_clock::now();
        return std::chrono::duration<double>(t1 - t0).count() / iters;
    }
};

// Rows of `type` built from `distinct` random rows repeated (building 16k quantised rows on
// the CPU would dominate the run; repetition does not help the GPU's caches here).
std::vector<uint8_t> makeMatrix(kernels::DType type, int64_t rows, int64_t cols, int64_t distinct) {
    const size_t rb = kernels::dtypeRowBytes(type, cols);
    std::vector<uint8_t> out(rb * size_t(rows));
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 0.5f);
    std::vector<float> f(static_cast<size_t>(cols));
    for (int64_t r = 0; r < distinct && r < rows; ++r) {
        for (auto& v : f)
            v = nd(rng);
        kernels::convertRow(type, f.data(), out.data() + size_t(r) * rb, cols);
    }
    for (int64_t r = distinct; r < rows; ++r)
        std::memcpy(out.data() + size_t(r) * rb, out.data() + size_t(r % distinct) * rb, rb);
    return out;
}

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    const auto& probe = inference::probeCuda();
    std::string skip;
    if (!probe.pluginBuilt) {
        skip = "this build has no CUDA plugin";
    } else if (!probe.pluginLoaded) {
        skip = "the CUDA plugin did not load: " + probe.loadError;
    } else if (probe.gpus.empty()) {
        skip = "no usable GPU: " + (probe.gpuError.empty() ? "no CUDA device" : probe.gpuError);
    }
    if (!skip.empty()) {
        std::printf("SKIPPED: %s\n", skip.c_str());
        return 77;
    }
    Bench b;
    b.api = probe.api;
    char err[512] = {};
    if (b.api->context_create(0, &b.ctx, err, sizeof err) != CONSILIUM_CUDA_OK) {
        std::fprintf(stderr, "gpu_bench: no CUDA context: %s\n", err);
        return 1;
    }
    const auto& gpu = probe.gpus.front();
    std::string json = "{\n  \"device\": \"" + gpu.name + "\",\n  \"compute_capability\": \"" +
                       std::to_string(gpu.computeMajor) + "." + std::to_string(gpu.computeMinor) +
                       "\",\n  \"plugin\": \"" + probe.buildInfo + "\",\n";
    auto field = [&](const std::string& key, double v) {
        json += "  \"" + key + "\": " + num(v) + ",\n";
        std::fprintf(stderr, "%-36s %s\n", key.c_str(), num(v).c_str());
    };

    // ---- Yardstick: device-to-device copy, 1 GiB each way.
    const size_t copyBytes = size_t(1) << 30;
    void* src = b.alloc(copyBytes);
    void* dst = b.alloc(copyBytes);
    if (!src || !dst) {
        std::fprintf(stderr, "gpu_bench: %s\n", b.error.c_str());
        return 1;
    }
    b.api->memset_zero(b.ctx, nullptr, src, copyBytes);
    const double tCopy = b.time(
        [&] {
            return b.api->copy(b.ctx, nullptr, dst, src, copyBytes,
                               CONSILIUM_CUDA_DEVICE_TO_DEVICE);
        },
        2, 10);
    const double copyGBs = 2.0 * double(copyBytes) / tCopy / 1e9;
    field("copy_d2d_GBps", copyGBs);
    b.api->free(b.ctx, src);
    b.api->free(b.ctx, dst);

    // ---- Fused residual add + LayerNorm + GeLU: 16384 rows x 4096 (256 MiB per tensor).
    {
        const int64_t rows = 16384, n = 4096;
        const size_t bytes = size_t(rows * n) * 4;
        auto* x = static_cast<float*>(b.alloc(bytes));
        auto* r = static_cast<float*>(b.alloc(bytes));
        auto* y = static_cast<float*>(b.alloc(bytes));
        auto* w = static_cast<float*>(b.alloc(size_t(n) * 4));
        auto* bias = static_cast<float*>(b.alloc(size_t(n) * 4));
        if (!x || !r || !y || !w || !bias) {
            std::fprintf(stderr, "gpu_bench: %s\n", b.error.c_str());
            return 1;
        }
        for (void* p : {static_cast<void*>(x), static_cast<void*>(r), static_cast<void*>(y),
                        static_cast<void*>(w), static_cast<void*>(bias)})
            b.api->memset_zero(b.ctx, nullptr, p, p == w || p == bias ? size_t(n) * 4 : bytes);
        const double t = b.time(
            [&] {
                return b.api->layer_norm_gelu(b.ctx, nullptr, x, r, w, bias, nullptr, y, rows, n,
                                              1e-5f);
            },
            3, 20);
        const double gbs = 3.0 * double(bytes) / t / 1e9;  // read x, r; write y
        field("layer_norm_gelu_ms", t * 1e3);
        field("layer_norm_gelu_GBps", gbs);
        field("layer_norm_gelu_share_of_copy", gbs / copyGBs);
        const double tUnfused = b.time(
            [&] {
                int rc = b.api->layer_norm(b.ctx, nullptr, x, w, bias, y, rows, n, 1e-5f);
                return rc ? rc : b.api->gelu(b.ctx, nullptr, y, y, rows * n);
            },
            3, 20);
        field("layer_norm_then_gelu_ms", tUnfused * 1e3);
        for (void* p : {static_cast<void*>(x), static_cast<void*>(r), static_cast<void*>(y),
                        static_cast<void*>(w), static_cast<void*>(bias)})
            b.api->free(b.ctx, p);
    }

    // ---- GEMV: Q4_0 vs F16 (cuBLAS) on 16384 x 16384; GEMM for 512 tokens.
    {
        const int64_t rows = 16384, cols = 16384, prefill = 512;
        auto q4 = makeMatrix(kernels::DType::Q4_0, rows, cols, 256);
        auto f16 = makeMatrix(kernels::DType::F16, rows, cols, 256);
        void* dq4 = b.alloc(q4.size());
        void* df16 = b.alloc(f16.size());
        auto* x = static_cast<float*>(b.alloc(size_t(cols * prefill) * 4));
        auto* y = static_cast<float*>(b.alloc(size_t(rows * prefill) * 4));
        if (!dq4 || !df16 || !x || !y || !b.upload(dq4, q4.data(), q4.size()) ||
            !b.upload(df16, f16.data(), f16.size())) {
            std::fprintf(stderr, "gpu_bench: %s\n", b.error.c_str());
            return 1;
        }
        std::vector<float> hx(size_t(cols * prefill));
        std::mt19937 rng(2);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (auto& v : hx)
            v = nd(rng);
        if (!b.upload(x, hx.data(), hx.size() * 4)) {
            std::fprintf(stderr, "gpu_bench: %s\n", b.error.c_str());
            return 1;
        }
        ConsiliumCudaMatrix mq4{CONSILIUM_CUDA_Q4_0, dq4, rows, cols,
                                kernels::dtypeRowBytes(kernels::DType::Q4_0, cols)};
        ConsiliumCudaMatrix mf16{CONSILIUM_CUDA_F16, df16, rows, cols,
                                 kernels::dtypeRowBytes(kernels::DType::F16, cols)};
        b.api->reserve_scratch(b.ctx, nullptr,
                               b.api->matmul_scratch_bytes(CONSILIUM_CUDA_F16, cols, prefill));
        const double tQ4 =
            b.time([&] { return b.api->matmul(b.ctx, nullptr, &mq4, x, 1, cols, y, rows); }, 5, 50);
        const double tF16 = b.time(
            [&] { return b.api->matmul(b.ctx, nullptr, &mf16, x, 1, cols, y, rows); }, 5, 50);
        const double q4GBs = double(q4.size()) / tQ4 / 1e9;
        field("q4_0_gemv_us", tQ4 * 1e6);
        field("q4_0_gemv_GBps", q4GBs);
        field("q4_0_gemv_share_of_copy", q4GBs / copyGBs);
        field("f16_gemv_us", tF16 * 1e6);
        field("f16_gemv_GBps", double(f16.size()) / tF16 / 1e9);
        field("q4_0_over_f16_gemv_speedup", tF16 / tQ4);
        const double flops = 2.0 * double(rows) * double(cols) * double(prefill);
        const double tQ4Gemm = b.time(
            [&] { return b.api->matmul(b.ctx, nullptr, &mq4, x, prefill, cols, y, rows); }, 2, 10);
        const double tF16Gemm = b.time(
            [&] { return b.api->matmul(b.ctx, nullptr, &mf16, x, prefill, cols, y, rows); }, 2, 10);
        field("q4_0_gemm512_TFLOPs", flops / tQ4Gemm / 1e12);
        field("f16_cublas_gemm512_TFLOPs", flops / tF16Gemm / 1e12);
        ConsiliumCudaMemInfo mem{};
        if (b.ok(b.api->mem_info(b.ctx, &mem), "mem_info"))
            field("peak_allocated_MiB", double(mem.peak) / (1024.0 * 1024.0));
        for (void* p : {dq4, df16, static_cast<void*>(x), static_cast<void*>(y)})
            b.api->free(b.ctx, p);
    }
    b.api->context_destroy(b.ctx);
    if (!b.error.empty()) {
        std::fprintf(stderr, "gpu_bench: %s\n", b.error.c_str());
        return 1;
    }
    json += "  \"goal_bandwidth_share\": 0.8,\n  \"goal_q4_over_f16\": 3.0\n}\n";
    if (argc > 1) {
        FILE* f = std::fopen(argv[1], "w");
        if (!f || std::fputs(json.c_str(), f) < 0 || std::fclose(f) != 0) {
            std::fprintf(stderr, "gpu_bench: cannot write %s\n", argv[1]);
            return 1;
        }
    } else {
        std::fputs(json.c_str(), stdout);
    }
    return 0;
}
