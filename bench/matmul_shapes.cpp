// Matrix products of given shapes through kernels/cpu matmul, reported the way ggml's
// `test-backend-ops perf -o MUL_MAT` reports them (microseconds per run and GFLOPS with
// FLOP = 2·m·n·k, weights [m, k] of the given type, activations [n, k] float32), so the two
// can be run side by side on the same shapes and machine.
//
//   consilium-bench-matmul [--type q4_0|q8_0|f16|bf16|f32] [--m 4096] [--k 14336] [--n 1,512]
//                          [--threads N] [--reps R]
// Prints one JSON object: the mean over reps (as test-backend-ops reports) and the best.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/dtype.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/thread_pool.h"

using namespace consilium::kernels;

namespace {

using Clock = std::chrono::steady_clock;

bool parseType(const std::string& s, DType* t) {
    if (s == "q4_0")
        *t = DType::Q4_0;
    else if (s == "q8_0")
        *t = DType::Q8_0;
    else if (s == "f16")
        *t = DType::F16;
    else if (s == "f32")
        *t = DType::F32;
    else if (s == "bf16")
        *t = DType::BF16;
    else
        return false;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    DType type = DType::Q4_0;
    int64_t m = 4096, k = 14336;
    std::vector<int64_t> ns{1, 512};
    int threads = int(std::max(1u, std::thread::hardware_concurrency()));
    int reps = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = v != nullptr;
        if (ok && a == "--type")
            ok = parseType(v, &type);
        else if (ok && a == "--m")
            m = std::atoll(v);
        else if (ok && a == "--k")
            k = std::atoll(v);
        else if (ok && a == "--threads")
            threads = std::atoi(v);
        else if (ok && a == "--reps")
            reps = std::atoi(v);
        else if (ok && a == "--n") {
            ns.clear();
            for (const char* p = v; *p;) {
                ns.push_back(std::atoll(p));
                const char* c = std::strchr(p, ',');
                if (!c) break;
                p = c + 1;
            }
        } else
            ok = false;
        if (!ok) {
            std::fprintf(
                stderr,
                "usage: %s [--type q4_0|q8_0|f16|bf16|f32] [--m M] [--k K] [--n N1,N2,...] "
                "[--threads T] [--reps R]\n",
                argv[0]);
            return 2;
        }
        ++i;
    }
    if (m < 1 || k < 32 || k % 32 || threads < 1 || reps < 1 || ns.empty() ||
        *std::min_element(ns.begin(), ns.end()) < 1) {
        std::fprintf(stderr, "consilium-bench-matmul: bad arguments (k a multiple of 32)\n");
        return 2;
    }
    ThreadPool pool(threads);
    const size_t rowBytes = dtypeRowBytes(type, k);
    std::vector<uint8_t> w(size_t(m) * rowBytes);
    std::mt19937 rng(1);
    for (auto& b : w)
        b = uint8_t(rng());
    // Finite, small scales: every block starts with an fp16 scale (0x2000 ~ 0.0078); F16/F32
    // weights get small values too.
    if (type == DType::Q4_0 || type == DType::Q8_0) {
        for (size_t off = 0; off < w.size(); off += size_t(dtypeBlockBytes(type))) {
            w[off] = 0x00;
            w[off + 1] = 0x20;
        }
    } else if (type == DType::F16) {
        for (size_t off = 0; off < w.size(); off += 2)
            w[off + 1] = uint8_t(0x20 | (w[off + 1] & 0x83));
    } else {
        auto* f = reinterpret_cast<float*>(w.data());
        for (size_t i = 0; i < w.size() / 4; ++i)
            f[i] = float(rng() % 1000) / 50000.0f;
    }
    const MatrixView view{type, w.data(), m, k, rowBytes};
    std::string json = "{\"bench\":\"matmul_shapes\",\"cpu\":\"" + cpuFeatures().brand +
                       "\",\"path\":\"" + kernelPathName(bestKernelPath()) +
                       "\",\"threads\":" + std::to_string(threads) + ",\"type\":\"" +
                       dtypeName(type) + "\",\"results\":[";
    for (size_t i = 0; i < ns.size(); ++i) {
        const int64_t n = ns[i];
        std::vector<float> x(size_t(n * k)), y(size_t(n * m));
        for (auto& v : x)
            v = float(rng() % 1000) / 500.0f - 1.0f;
        std::vector<uint8_t> scratch(matmulScratchBytes(type, k, n));
        double best = 1e30, total = 0;
        for (int r = 0; r < reps; ++r) {
            const auto t0 = Clock::now();
            matmul(view, x.data(), n, k, y.data(), m, scratch.data(), &pool);
            const double s = std::chrono::duration<double>(Clock::now() - t0).count();
            best = std::min(best, s);
            total += s;
        }
        const double mean = total / reps;
        const double flop = 2.0 * double(m) * double(n) * double(k);
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "%s{\"m\":%lld,\"n\":%lld,\"k\":%lld,\"us_per_run_mean\":%.1f,"
                      "\"GFLOPS_mean\":%.2f,\"us_per_run_best\":%.1f,\"GFLOPS_best\":%.2f}",
                      i ? "," : "", (long long)m, (long long)n, (long long)k, mean * 1e6,
                      flop / mean / 1e9, best * 1e6, flop / best / 1e9);
        json += buf;
    }
    std::printf("%s]}\n", json.c_str());
    return 0;
}
