// The CPU backend: kernels/cpu on a persistent thread pool, scratch allocated once.
#include <algorithm>
#include <vector>

#include "inference/backend.h"
#include "kernels/cpu/cpu_features.h"

namespace consilium::inference {
namespace {

class CpuBackend final : public Backend {
  public:
    explicit CpuBackend(const CpuBackendOptions& o)
        : m_options(o),
          m_pool(std::max(1, o.threads)),
          m_attnScratch(size_t(o.maxAttentionKeys) * 64) {}

    std::string name() const override {
        return std::string("CPU (") + kernels::kernelPathName(resolvedPath()) + ", " +
               std::to_string(threads()) + " threads)";
    }
    int threads() const override { return m_pool.threads(); }
    bool supportsWeights(DType) const override { return true; }
    size_t scratchBytes(DType t, int64_t cols, int64_t tokens) const override {
        return kernels::matmulScratchBytes(t, cols, tokens);
    }

    void reserve(size_t bytes, int64_t attnFloats) override {
        ensureScratch(bytes);
        if (m_attnScratch.size() < size_t(attnFloats)) m_attnScratch.resize(size_t(attnFloats));
    }

    // Grows only while a session is being set up (the first forward at the largest batch);
    // sessions call reserve() up front so the forward pass does not allocate.
    void ensureScratch(size_t bytes) {
        if (m_scratch.size() < bytes) m_scratch.resize(bytes);
    }

    void matmul(const kernels::MatrixView& w, const float* x, int64_t n, int64_t xStride, float* y,
                int64_t yStride) override {
        ensureScratch(kernels::matmulScratchBytes(w.type, w.cols, n));
        kernels::matmul(w, x, n, xStride, y, yStride, m_scratch.data(), &m_pool, m_options.path);
    }

    void rmsNorm(const float* x, const float* w, float* y, int64_t n, int64_t dim,
                 float eps) override {
        forRows(n, [&](int64_t i) { kernels::rmsNorm(x + i * dim, w, y + i * dim, dim, eps); });
    }

    void rope(float* x, int64_t n, int64_t rowStride, int64_t heads, int64_t headDim,
              int64_t rotDims, int64_t pos0, float base, kernels::RopeStyle style) override {
        forRows(n, [&](int64_t i) {
            kernels::rope(x + i * rowStride, heads, headDim, rotDims, pos0 + i, base, style);
        });
    }

    void attention(const float* q, int64_t nQ, int64_t qPos0, const float* k, const float* v,
                   int64_t nKv, const kernels::AttentionParams& p, float* out,
                   float* probs) override {
        const size_t need = size_t(kernels::attentionScratchFloats(p, nKv));
        if (m_attnScratch.size() < need) m_attnScratch.resize(need);
        kernels::attention(q, nQ, qPos0, k, v, nKv, p, out, probs, m_attnScratch.data(), &m_pool);
    }

    void swiglu(const float* gate, const float* up, float* y, int64_t n, int64_t dim) override {
        forRows(
            n, [&](int64_t i) { kernels::swiglu(gate + i * dim, up + i * dim, y + i * dim, dim); });
    }

    void add(float* y, const float* x, int64_t count) override {
        for (int64_t i = 0; i < count; ++i)
            y[i] += x[i];
    }

    bool embed(const kernels::MatrixView& table, const int32_t* ids, int64_t n, float* y) override {
        return kernels::embeddingLookup(table, ids, n, y);
    }

    void layerNorm(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t dim,
                   float eps) override {
        forRows(n,
                [&](int64_t i) { kernels::layerNorm(x + i * dim, w, b, y + i * dim, dim, eps); });
    }

    void ropeTable(float* x, int64_t n, int64_t rowStride, int64_t heads, int64_t headDim,
                   const float* cos, const float* sin) override {
        const int64_t half = headDim / 2;
        forRows(n, [&](int64_t i) {
            kernels::ropeNeoxTable(x + i * rowStride, heads, headDim, cos + i * half,
                                   sin + i * half);
        });
    }

    void conv3x3x3(const float* x, int64_t D, int64_t H, int64_t W, int64_t cin, const float* w,
                   const float* b, int64_t cout, const int64_t stride[3], float* y) override {
        ensureScratch(kernels::conv3x3x3ScratchBytes(cin, cout));
        kernels::conv3x3x3(x, D, H, W, cin, w, b, cout, stride, y, m_scratch.data(), &m_pool,
                           m_options.path);
    }

    void gelu(const float* x, float* y, int64_t count) override {
        constexpr int64_t kChunk = 4096;
        forRows((count + kChunk - 1) / kChunk, [&](int64_t i) {
            const int64_t begin = i * kChunk;
            kernels::gelu(x + begin, y + begin, std::min(kChunk, count - begin));
        });
    }

  private:
    kernels::KernelPath resolvedPath() const {
        return m_options.path == kernels::KernelPath::Auto ||
                       !kernels::kernelPathUsable(m_options.path)
                   ? kernels::bestKernelPath()
                   : m_options.path;
    }

    template <typename F>
    void forRows(int64_t n, F&& f) {
        if (n < 4) {
            for (int64_t i = 0; i < n; ++i)
                f(i);
            return;
        }
        const int tasks = int(std::min<int64_t>(n, threads() * 4));
        const int64_t per = (n + tasks - 1) / tasks;
        m_pool.parallelFor(tasks, [&](int t) {
            for (int64_t i = t * per; i < std::min(n, (t + 1) * per); ++i)
                f(i);
        });
    }

    CpuBackendOptions m_options;
    kernels::ThreadPool m_pool;
    std::vector<uint8_t> m_scratch;
    std::vector<float> m_attnScratch;
};

}  // namespace

std::unique_ptr<Backend> makeCpuBackend(const CpuBackendOptions& options) {
    return std::make_unique<CpuBackend>(options);
}

}  // namespace consilium::inference
