// CUDA plugin ops against the CPU references of kernels/cpu (ggml test-backend-ops style):
// every op over a grid of shapes and types, with a per-op error limit on the normalised
// mean squared error NMSE = sum (gpu - cpu)^2 / sum cpu^2, and exact equality where the
// op is discrete (MoE ids, dispatch order, F16/BF16 conversion).
//
// The plugin is loaded through inference::probeCuda, the app's own dlopen path. Without a
// usable GPU (no plugin in this build, no driver, no device) the executable prints
// "SKIPPED: <reason>" and exits 77, which CTest lists as Skipped.
//
// Plain C++ rather than Qt Test (the house default): GPU machines are bare (CUDA, CMake,
// ninja; no Qt), and this test must build there with CONSILIUM_KERNELS_ONLY. The checks
// keep Qt Test's semantics: a failed CHECK ends the test function with a message, the
// run goes on with the next function, and the exit code counts the failures.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "inference/device.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/dtype.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/plugin_api.h"

using namespace consilium;
using namespace consilium::kernels;

namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = nd(rng);
    return v;
}

double nmse(const std::vector<float>& gpu, const std::vector<float>& cpu) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < cpu.size(); ++i) {
        if (!std::isfinite(gpu[i])) return INFINITY;
        const double d = double(gpu[i]) - double(cpu[i]);
        num += d * d;
        den += double(cpu[i]) * cpu[i];
    }
    return den > 0.0 ? num / den : num;
}

// Per-op limits on NMSE (cf. ggml tests/test-backend-ops.cpp max_nmse_err).
constexpr double kNormLimit = 1e-9;       // LayerNorm, GeLU, fused: FP32 throughout
constexpr double kRopeLimit = 1e-8;       // sincosf/powf vs libm (a few ulp of theta)
constexpr double kGemvQuantLimit = 1e-9;  // same integer dots, float order only
constexpr double kF32GemmLimit = 1e-9;    // cuBLAS FP32 (no TF32)
constexpr double kHalfGemmLimit = 5e-4;   // FP16/BF16 operands or Q8 vs FP16 activations
constexpr double kAttentionLimit = 1e-7;  // online vs two-pass softmax, RoPE'd q and k
constexpr double kMoeWeightLimit = 1e-10;

// Device memory from the plugin, freed by the destructor (move-only).
class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    DeviceBuffer(const ConsiliumCudaPlugin* api, ConsiliumCudaContext* ctx, size_t bytes)
        : m_api(api), m_ctx(ctx) {
        m_status = api->alloc(ctx, bytes, &m_ptr);
    }
    DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        swap(o);
        return *this;
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() {
        if (m_ptr) m_api->free(m_ctx, m_ptr);
    }
    bool ok() const { return m_status == CONSILIUM_CUDA_OK && m_ptr; }
    template <typename T>
    T* as() const {
        return static_cast<T*>(m_ptr);
    }
    void* get() const { return m_ptr; }

  private:
    void swap(DeviceBuffer& o) {
        std::swap(m_api, o.m_api);
        std::swap(m_ctx, o.m_ctx);
        std::swap(m_ptr, o.m_ptr);
        std::swap(m_status, o.m_status);
    }
    const ConsiliumCudaPlugin* m_api = nullptr;
    ConsiliumCudaContext* m_ctx = nullptr;
    void* m_ptr = nullptr;
    int m_status = CONSILIUM_CUDA_ERR_INVALID_ARGUMENT;
};

// A weight matrix in `type`, its float source, and the bytes the CPU and GPU both read.
struct Weights {
    DType type;
    int64_t rows, cols;
    std::vector<uint8_t> bytes;
    MatrixView view() const {
        MatrixView v;
        v.type = type;
        v.data = bytes.data();
        v.rows = rows;
        v.cols = cols;
        v.rowBytes = dtypeRowBytes(type, cols);
        return v;
    }
};

Weights makeWeights(DType type, int64_t rows, int64_t cols, uint32_t seed) {
    Weights w{type, rows, cols, {}};
    const size_t rb = dtypeRowBytes(type, cols);
    w.bytes.resize(rb * size_t(rows));
    const auto f = randn(size_t(rows * cols), seed, 0.5f);
    for (int64_t r = 0; r < rows; ++r)
        convertRow(type, f.data() + r * cols, w.bytes.data() + size_t(r) * rb, cols);
    return w;
}

std::vector<float> cpuMatmul(const Weights& w, const std::vector<float>& x, int64_t n) {
    std::vector<float> y(size_t(n * w.rows));
    std::vector<uint8_t> scratch(matmulScratchBytes(w.type, w.cols, n) + 64);
    matmul(w.view(), x.data(), n, w.cols, y.data(), w.rows, scratch.data(), nullptr,
           KernelPath::Reference);
    return y;
}

std::string shape(const std::string& s) {
    return s;
}

// The failure of the running test function (empty: passed).
std::string g_failure;

void failCheck(const char* file, int line, const std::string& what) {
    g_failure = std::string(file) + ":" + std::to_string(line) + ": " + what;
}

}  // namespace

#define CHECK(cond, what)                                                                       \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            failCheck(__FILE__, __LINE__, std::string(#cond) + " (" + std::string(what) + ")"); \
            return;                                                                             \
        }                                                                                       \
    } while (0)
#define CHECK_EQ(a, b) CHECK((a) == (b), std::string(#a " == " #b))

#define CUDA_OK(call)                                                                              \
    do {                                                                                           \
        const int rc_ = (call);                                                                    \
        CHECK(rc_ == CONSILIUM_CUDA_OK, std::string(#call) + " -> " + std::to_string(rc_) + ": " + \
                                            m_api->last_error(m_ctx));                             \
    } while (0)

class TestCudaParity {
  public:
    TestCudaParity(const ConsiliumCudaPlugin* api, ConsiliumCudaContext* ctx)
        : m_api(api), m_ctx(ctx) {}

  private:
    const ConsiliumCudaPlugin* m_api;
    ConsiliumCudaContext* m_ctx;

    DeviceBuffer alloc(size_t bytes) {
        return DeviceBuffer(m_api, m_ctx, std::max<size_t>(bytes, 4));
    }
    template <typename T>
    DeviceBuffer upload(const std::vector<T>& v) {
        DeviceBuffer d = alloc(v.size() * sizeof(T));
        if (d.ok() && !v.empty() &&
            m_api->copy(m_ctx, nullptr, d.get(), v.data(), v.size() * sizeof(T),
                        CONSILIUM_CUDA_HOST_TO_DEVICE) != CONSILIUM_CUDA_OK) {
            return DeviceBuffer();
        }
        return d;
    }
    template <typename T>
    std::vector<T> download(const DeviceBuffer& d, size_t n) {
        std::vector<T> v(n);
        if (m_api->copy(m_ctx, nullptr, v.data(), d.get(), n * sizeof(T),
                        CONSILIUM_CUDA_DEVICE_TO_HOST) != CONSILIUM_CUDA_OK) {
            std::fill(v.begin(), v.end(), T(-12345));
        }
        return v;
    }
    ConsiliumCudaMatrix deviceMatrix(const Weights& w, const DeviceBuffer& d) {
        ConsiliumCudaMatrix m;
        m.dtype = uint32_t(w.type);
        m.data = d.get();
        m.rows = w.rows;
        m.cols = w.cols;
        m.row_bytes = dtypeRowBytes(w.type, w.cols);
        return m;
    }

  public:
    void memoryAndErrors() {
        ConsiliumCudaMemInfo before{};
        CUDA_OK(m_api->mem_info(m_ctx, &before));
        CHECK(before.device_total > 0, "");
        {
            DeviceBuffer d = alloc(1 << 20);
            CHECK(d.ok(), "");
            ConsiliumCudaMemInfo during{};
            CUDA_OK(m_api->mem_info(m_ctx, &during));
            CHECK_EQ(during.allocated, before.allocated + (1u << 20));
        }
        ConsiliumCudaMemInfo after{};
        CUDA_OK(m_api->mem_info(m_ctx, &after));
        CHECK_EQ(after.allocated, before.allocated);
        // Out of memory is a status with a message, not an abort.
        void* p = nullptr;
        const int rc = m_api->alloc(m_ctx, before.device_total * 4, &p);
        CHECK_EQ(rc, CONSILIUM_CUDA_ERR_OUT_OF_MEMORY);
        CHECK(p == nullptr, "");
        CHECK(
            std::string(m_api->last_error(m_ctx)).find("out of device memory") != std::string::npos,
            std::string());
        int dummy = 0;
        CHECK_EQ(m_api->free(m_ctx, &dummy), CONSILIUM_CUDA_ERR_INVALID_ARGUMENT);
        // A bad shape is rejected before any launch.
        ConsiliumCudaMatrix w{CONSILIUM_CUDA_Q4_0, &dummy, 4, 33, 18 * 2};
        float f = 0.0f;
        CHECK_EQ(m_api->matmul(m_ctx, nullptr, &w, &f, 1, 33, &f, 4),
                 CONSILIUM_CUDA_ERR_INVALID_ARGUMENT);
        // A second stream works and synchronises.
        ConsiliumCudaStream* s = nullptr;
        CUDA_OK(m_api->stream_create(m_ctx, &s));
        DeviceBuffer d = alloc(256);
        CUDA_OK(m_api->memset_zero(m_ctx, s, d.get(), 256));
        CUDA_OK(m_api->stream_synchronize(m_ctx, s));
        CUDA_OK(m_api->stream_destroy(m_ctx, s));
    }

    void layerNormAndGelu() {
        const int64_t kRows[] = {1, 7, 64};
        // Multiples of 4 take the float4 path; 9000 and 9001 are too long for shared memory.
        const int64_t kCols[] = {32, 33, 768, 1001, 4096, 9000, 9001};
        for (int64_t rows : kRows) {
            for (int64_t n : kCols) {
                for (int variant = 0; variant < 4; ++variant) {
                    const bool withResidual = variant & 1, withAffine = variant & 2;
                    const std::string what = "rows " + std::to_string(rows) + " n " +
                                             std::to_string(n) + " variant " +
                                             std::to_string(variant);
                    const size_t count = size_t(rows * n);
                    const auto x = randn(count, uint32_t(n + rows), 2.0f);
                    const auto r = randn(count, uint32_t(n * 3 + rows), 1.0f);
                    const auto w = randn(size_t(n), 11), b = randn(size_t(n), 12);
                    // CPU: the unfused path (add, layerNormRef, geluRef).
                    std::vector<float> h(count), ln(count), ref(count);
                    for (size_t i = 0; i < count; ++i)
                        h[i] = withResidual ? x[i] + r[i] : x[i];
                    for (int64_t row = 0; row < rows; ++row) {
                        layerNormRef(h.data() + row * n, withAffine ? w.data() : nullptr,
                                     withAffine ? b.data() : nullptr, ln.data() + row * n, n,
                                     1e-5f);
                    }
                    geluRef(ln.data(), ref.data(), int64_t(count));

                    auto dx = upload(x), dr = upload(r), dw = upload(w), db = upload(b);
                    auto dh = alloc(count * 4), dy = alloc(count * 4), dln = alloc(count * 4),
                         dg = alloc(count * 4);
                    CHECK(dx.ok() && dr.ok() && dw.ok() && db.ok() && dh.ok() && dy.ok(),
                          std::string());
                    CUDA_OK(m_api->layer_norm_gelu(m_ctx, nullptr, dx.as<float>(),
                                                   withResidual ? dr.as<float>() : nullptr,
                                                   withAffine ? dw.as<float>() : nullptr,
                                                   withAffine ? db.as<float>() : nullptr,
                                                   dh.as<float>(), dy.as<float>(), rows, n, 1e-5f));
                    const auto fused = download<float>(dy, count);
                    CHECK(nmse(fused, ref) < kNormLimit, shape("fused " + what));
                    CHECK(download<float>(dh, count) == h, shape("residual sum " + what));

                    // Unfused GPU path: layer_norm then gelu, each against its reference.
                    auto dhIn = upload(h);
                    CUDA_OK(m_api->layer_norm(
                        m_ctx, nullptr, dhIn.as<float>(), withAffine ? dw.as<float>() : nullptr,
                        withAffine ? db.as<float>() : nullptr, dln.as<float>(), rows, n, 1e-5f));
                    CHECK(nmse(download<float>(dln, count), ln) < kNormLimit,
                          shape("layer_norm " + what));
                    CUDA_OK(m_api->gelu(m_ctx, nullptr, dln.as<float>(), dg.as<float>(),
                                        int64_t(count)));
                    CHECK(nmse(download<float>(dg, count), ref) < kNormLimit,
                          shape("gelu " + what));
                }
            }
        }
    }

    void matmulAllTypes() {
        const DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0};
        const int64_t kRowsList[] = {1, 96, 257};
        const int64_t kColsList[] = {64, 512, 4096};
        const int64_t kTokens[] = {1, 3, 8, 9, 70};
        for (DType type : kTypes) {
            for (int64_t rows : kRowsList) {
                for (int64_t cols : kColsList) {
                    const Weights w = makeWeights(type, rows, cols, uint32_t(rows * 7 + cols));
                    auto dw = upload(w.bytes);
                    CHECK(dw.ok(), "");
                    const ConsiliumCudaMatrix m = deviceMatrix(w, dw);
                    for (int64_t n : kTokens) {
                        const std::string what = std::string(dtypeName(type)) + " " +
                                                 std::to_string(rows) + "x" + std::to_string(cols) +
                                                 " n " + std::to_string(n);
                        const auto x = randn(size_t(n * cols), uint32_t(n + cols), 1.0f);
                        const auto ref = cpuMatmul(w, x, n);
                        auto dx = upload(x);
                        auto dy = alloc(size_t(n * rows) * 4);
                        CUDA_OK(m_api->matmul(m_ctx, nullptr, &m, dx.as<float>(), n, cols,
                                              dy.as<float>(), rows));
                        const auto got = download<float>(dy, size_t(n * rows));
                        const bool quant = type == DType::Q4_0 || type == DType::Q8_0;
                        const double limit = type == DType::F32 ? kF32GemmLimit
                                             : quant && n <= 8  ? kGemvQuantLimit
                                                                : kHalfGemmLimit;
                        const double e = nmse(got, ref);
                        CHECK(e < limit, shape(what + " nmse " + std::to_string(e)));
                    }
                }
            }
        }
    }

    void convertToHalf() {
        const auto x = randn(10007, 5, 100.0f);
        auto dx = upload(x);
        auto dh = alloc(x.size() * 2);
        for (DType t : {DType::F16, DType::BF16}) {
            CUDA_OK(m_api->convert_f32(m_ctx, nullptr, dx.as<float>(), dh.get(), uint32_t(t),
                                       int64_t(x.size())));
            const auto got = download<uint16_t>(dh, x.size());
            for (size_t i = 0; i < x.size(); ++i) {
                const uint16_t want = t == DType::F16 ? floatToFp16(x[i]) : floatToBf16(x[i]);
                CHECK_EQ(got[i], want);
            }
        }
    }

    void ropeStandalone() {
        for (int neox = 0; neox < 2; ++neox) {
            for (int64_t headDim : {64, 128}) {
                for (int64_t rot : {headDim, headDim / 2}) {
                    const int64_t n = 19, heads = 6, pos0 = 100;
                    auto x = randn(size_t(n * heads * headDim), uint32_t(rot + neox));
                    auto dx = upload(x);
                    ConsiliumCudaRope rp{int32_t(rot), 10000.0f, neox};
                    CUDA_OK(m_api->rope(m_ctx, nullptr, dx.as<float>(), n, heads * headDim, heads,
                                        headDim, &rp, pos0));
                    for (int64_t t = 0; t < n; ++t) {
                        rope(x.data() + t * heads * headDim, heads, headDim, rot, pos0 + t,
                             10000.0f, neox ? RopeStyle::Neox : RopeStyle::Normal);
                    }
                    CHECK(
                        nmse(download<float>(dx, x.size()), x) < kRopeLimit,
                        shape("rope neox " + std::to_string(neox) + " rot " + std::to_string(rot)));
                }
            }
        }
    }

    void pagedAttention() {
        struct Case {
            int heads, kvHeads, headDim;
            bool causal;
            int window;
            int64_t nKv, nQ;  // nQ == nKv: prefill; nQ == 1: decode of the last position
            bool rope;
        };
        const Case kCases[] = {
            {4, 2, 64, true, 0, 37, 37, true},   {4, 2, 64, true, 0, 300, 1, true},
            {8, 8, 128, true, 16, 90, 90, true}, {8, 8, 128, true, 16, 90, 1, true},
            {4, 1, 80, false, 0, 50, 7, false},  {2, 2, 256, true, 0, 33, 33, false},
        };
        const int kPage = 16;
        for (const Case& c : kCases) {
            const std::string what =
                "heads " + std::to_string(c.heads) + "/" + std::to_string(c.kvHeads) + " hd " +
                std::to_string(c.headDim) + " kv " + std::to_string(c.nKv) + " q " +
                std::to_string(c.nQ) + " window " + std::to_string(c.window);
            const int64_t qw = int64_t(c.heads) * c.headDim, kw = int64_t(c.kvHeads) * c.headDim;
            auto q = randn(size_t(c.nQ * qw), 1), k = randn(size_t(c.nKv * kw), 2),
                 v = randn(size_t(c.nKv * kw), 3);
            const bool cross = !c.causal;
            const int64_t qPos0 = cross ? 0 : c.nKv - c.nQ;
            // Pages in a shuffled order, plus one unused page.
            const int tableLen = int((c.nKv + kPage - 1) / kPage);
            std::vector<int32_t> table(static_cast<size_t>(tableLen));
            std::iota(table.begin(), table.end(), 1);
            std::shuffle(table.begin(), table.end(), std::mt19937(7));
            const int nPages = tableLen + 1;
            auto dk = alloc(size_t(nPages) * kPage * kw * 4),
                 dv = alloc(size_t(nPages) * kPage * kw * 4);
            auto dt = upload(table);
            auto dq = upload(q), dkn = upload(k), dvn = upload(v);
            auto dout = alloc(size_t(c.nQ * qw) * 4);
            ConsiliumCudaPagedKv kv{dk.as<float>(), dv.as<float>(), dt.as<int32_t>(), tableLen,
                                    nPages,         kPage,          c.kvHeads,        c.headDim};
            ConsiliumCudaRope rp{c.headDim, 10000.0f, 0};
            const ConsiliumCudaRope* rpp = c.rope ? &rp : nullptr;
            // Keys before the queries first (no q), then the queries' own positions with q.
            const int64_t past = cross ? c.nKv : qPos0;
            if (past > 0) {
                CUDA_OK(m_api->rope_kv_append(m_ctx, nullptr, &kv, rpp, nullptr, c.heads,
                                              dkn.as<float>(), dvn.as<float>(), past, 0));
            }
            if (!cross) {
                CUDA_OK(m_api->rope_kv_append(m_ctx, nullptr, &kv, rpp, dq.as<float>(), c.heads,
                                              dkn.as<float>() + past * kw,
                                              dvn.as<float>() + past * kw, c.nQ, past));
            }
            ConsiliumCudaAttention ap{c.heads,          c.kvHeads,
                                      c.headDim,        1.0f / std::sqrt(float(c.headDim)),
                                      c.causal ? 1 : 0, c.window};
            CUDA_OK(m_api->attention(m_ctx, nullptr, &kv, &ap, dq.as<float>(), c.nQ, qPos0, c.nKv,
                                     dout.as<float>()));

            // CPU: kernels::rope on q and k rows, then kernels::attentionRef.
            if (c.rope) {
                for (int64_t i = 0; i < c.nQ; ++i)
                    rope(q.data() + i * qw, c.heads, c.headDim, c.headDim, qPos0 + i, 10000.0f,
                         RopeStyle::Normal);
                for (int64_t j = 0; j < c.nKv; ++j)
                    rope(k.data() + j * kw, c.kvHeads, c.headDim, c.headDim, j, 10000.0f,
                         RopeStyle::Normal);
            }
            AttentionParams p;
            p.nHeads = c.heads;
            p.nKvHeads = c.kvHeads;
            p.headDim = c.headDim;
            p.scale = ap.scale;
            p.causal = c.causal;
            p.window = c.window;
            std::vector<float> ref(size_t(c.nQ * qw));
            std::vector<float> scratch(size_t(attentionScratchFloats(p, c.nKv)));
            attentionRef(q.data(), c.nQ, qPos0, k.data(), v.data(), c.nKv, p, ref.data(), nullptr,
                         scratch.data());
            const double e = nmse(download<float>(dout, ref.size()), ref);
            CHECK(e < kAttentionLimit, shape(what + " nmse " + std::to_string(e)));
        }
    }

    void moeRouting() {
        for (int64_t nTokens : {1, 33, 300}) {
            for (int nExperts : {8, 60, 256}) {
                for (int k : {1, 2, 4}) {
                    for (int renorm = 0; renorm < 2; ++renorm) {
                        const std::string what = "tokens " + std::to_string(nTokens) + " experts " +
                                                 std::to_string(nExperts) + " k " +
                                                 std::to_string(k);
                        auto logits = randn(size_t(nTokens * nExperts), uint32_t(nExperts + k));
                        std::vector<int> ids(size_t(nTokens * k));
                        std::vector<float> weights(ids.size());
                        for (int64_t t = 0; t < nTokens; ++t)
                            moeRoute(logits.data() + t * nExperts, nExperts, k, ids.data() + t * k,
                                     weights.data() + t * k, renorm != 0);
                        auto dl = upload(logits);
                        auto di = alloc(ids.size() * 4), dw = alloc(ids.size() * 4);
                        CUDA_OK(m_api->moe_route(m_ctx, nullptr, dl.as<float>(), nTokens, nExperts,
                                                 k, renorm, di.as<int32_t>(), dw.as<float>()));
                        const auto gotIds = download<int32_t>(di, ids.size());
                        CHECK(std::equal(gotIds.begin(), gotIds.end(), ids.begin()),
                              shape("ids " + what));
                        CHECK(nmse(download<float>(dw, ids.size()), weights) < kMoeWeightLimit,
                              shape("weights " + what));

                        // Dispatch: the CPU's stable order, exactly.
                        std::vector<int> offsets(size_t(nExperts + 1)), order(ids.size());
                        moeDispatch(ids.data(), int(nTokens), k, nExperts, offsets.data(),
                                    order.data());
                        auto doff = alloc(offsets.size() * 4), dord = alloc(order.size() * 4),
                             dslot = alloc(order.size() * 4);
                        CUDA_OK(m_api->moe_dispatch(m_ctx, nullptr, di.as<int32_t>(), nTokens, k,
                                                    nExperts, doff.as<int32_t>(),
                                                    dord.as<int32_t>(), dslot.as<int32_t>()));
                        const auto gotOff = download<int32_t>(doff, offsets.size());
                        const auto gotOrd = download<int32_t>(dord, order.size());
                        const auto gotSlot = download<int32_t>(dslot, order.size());
                        CHECK(std::equal(gotOff.begin(), gotOff.end(), offsets.begin()),
                              shape("offsets " + what));
                        CHECK(std::equal(gotOrd.begin(), gotOrd.end(), order.begin()),
                              shape("order " + what));
                        for (size_t p = 0; p < order.size(); ++p)
                            CHECK_EQ(gotSlot[size_t(order[p])], int32_t(p));
                    }
                }
            }
        }
    }

    // Route -> dispatch -> gather -> grouped expert GEMM -> combine, against the CPU
    // composed from moeRoute, moeDispatch and kernels::matmul per expert.
    void moeLayer() {
        const int nExperts = 8, k = 2;
        const int64_t cols = 256, rows = 160;
        for (DType type : {DType::Q4_0, DType::Q8_0, DType::F16}) {
            for (int64_t nTokens : {1, 5, 77}) {
                const std::string what =
                    std::string(dtypeName(type)) + " tokens " + std::to_string(nTokens);
                std::vector<Weights> experts;
                std::vector<uint8_t> all;
                for (int e = 0; e < nExperts; ++e) {
                    experts.push_back(makeWeights(type, rows, cols, uint32_t(100 + e)));
                    all.insert(all.end(), experts.back().bytes.begin(), experts.back().bytes.end());
                }
                const auto x = randn(size_t(nTokens * cols), 21);
                const auto logits = randn(size_t(nTokens * nExperts), 22);

                std::vector<int> ids(size_t(nTokens * k));
                std::vector<float> weights(ids.size());
                for (int64_t t = 0; t < nTokens; ++t)
                    moeRoute(logits.data() + t * nExperts, nExperts, k, ids.data() + t * k,
                             weights.data() + t * k);
                std::vector<float> ref(size_t(nTokens * rows), 0.0f);
                for (int64_t t = 0; t < nTokens; ++t) {
                    const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
                    for (int s = 0; s < k; ++s) {
                        const auto yt = cpuMatmul(experts[size_t(ids[size_t(t * k + s)])], xt, 1);
                        for (int64_t r = 0; r < rows; ++r)
                            ref[size_t(t * rows + r)] += weights[size_t(t * k + s)] * yt[size_t(r)];
                    }
                }

                auto dw = upload(all), dx = upload(x), dl = upload(logits);
                const size_t routes = size_t(nTokens * k);
                auto di = alloc(routes * 4), dwt = alloc(routes * 4),
                     doff = alloc(size_t(nExperts + 1) * 4), dord = alloc(routes * 4),
                     dslot = alloc(routes * 4), dxp = alloc(routes * size_t(cols) * 4),
                     dyp = alloc(routes * size_t(rows) * 4), dy = alloc(size_t(nTokens * rows) * 4);
                ConsiliumCudaMatrix m = deviceMatrix(experts[0], dw);
                CUDA_OK(m_api->moe_route(m_ctx, nullptr, dl.as<float>(), nTokens, nExperts, k, 1,
                                         di.as<int32_t>(), dwt.as<float>()));
                CUDA_OK(m_api->moe_dispatch(m_ctx, nullptr, di.as<int32_t>(), nTokens, k, nExperts,
                                            doff.as<int32_t>(), dord.as<int32_t>(),
                                            dslot.as<int32_t>()));
                CUDA_OK(m_api->moe_gather(m_ctx, nullptr, dx.as<float>(), cols, dord.as<int32_t>(),
                                          nTokens, k, cols, dxp.as<float>()));
                CUDA_OK(m_api->moe_grouped_matmul(m_ctx, nullptr, &m, experts[0].bytes.size(),
                                                  nExperts, doff.as<int32_t>(), nTokens,
                                                  dxp.as<float>(), dyp.as<float>()));
                CUDA_OK(m_api->moe_combine(m_ctx, nullptr, dyp.as<float>(), dslot.as<int32_t>(),
                                           dwt.as<float>(), nTokens, k, rows, dy.as<float>(),
                                           rows));
                const double e = nmse(download<float>(dy, ref.size()), ref);
                CHECK(e < kHalfGemmLimit, shape(what + " nmse " + std::to_string(e)));
            }
        }
    }
};

int main(int argc, char** argv) {
    const auto& probe =
        inference::probeCuda(CONSILIUM_BINARY_DIR "/lib/consilium/libconsilium_cuda.so");
    std::string skip;
    if (!probe.pluginBuilt) {
        skip = "this build has no CUDA plugin (nvcc not found or CONSILIUM_CUDA=OFF)";
    } else if (!probe.pluginLoaded) {
        skip = "the CUDA plugin did not load: " + probe.loadError;
    } else if (probe.gpus.empty()) {
        skip = "no usable GPU: " + (probe.gpuError.empty() ? "no CUDA device" : probe.gpuError);
    }
    if (!skip.empty()) {
        std::printf("SKIPPED: %s\n", skip.c_str());
        std::fflush(stdout);
        return 77;
    }
    ConsiliumCudaContext* ctx = nullptr;
    char err[512] = {};
    if (probe.api->context_create(0, &ctx, err, sizeof err) != CONSILIUM_CUDA_OK) {
        std::printf("FAIL: a GPU is present (%s) but no CUDA context: %s\n",
                    probe.gpus.front().name.c_str(), err);
        return 1;
    }
    std::printf("GPU: %s (sm %d%d), plugin %s\n", probe.gpus.front().name.c_str(),
                probe.gpus.front().computeMajor, probe.gpus.front().computeMinor,
                probe.buildInfo.c_str());
    using Fn = void (TestCudaParity::*)();
    const std::pair<const char*, Fn> kTests[] = {
        {"memoryAndErrors", &TestCudaParity::memoryAndErrors},
        {"layerNormAndGelu", &TestCudaParity::layerNormAndGelu},
        {"matmulAllTypes", &TestCudaParity::matmulAllTypes},
        {"convertToHalf", &TestCudaParity::convertToHalf},
        {"ropeStandalone", &TestCudaParity::ropeStandalone},
        {"pagedAttention", &TestCudaParity::pagedAttention},
        {"moeRouting", &TestCudaParity::moeRouting},
        {"moeLayer", &TestCudaParity::moeLayer},
    };
    int failures = 0;
    {
        TestCudaParity test(probe.api, ctx);
        for (const auto& [name, fn] : kTests) {
            if (argc > 1 && std::string(argv[1]) != name) continue;
            g_failure.clear();
            (test.*fn)();
            if (g_failure.empty()) {
                std::printf("PASS   : %s\n", name);
            } else {
                std::printf("FAIL!  : %s: %s\n", name, g_failure.c_str());
                ++failures;
            }
            std::fflush(stdout);
        }
    }
    probe.api->context_destroy(ctx);
    std::printf("Totals: %d failed of %zu\n", failures, std::size(kTests));
    return failures == 0 ? 0 : 1;
}
