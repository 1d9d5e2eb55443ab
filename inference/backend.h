// The compute backend a model graph runs its ops on. Graph files (llama_graph.cpp, ...)
// call only this interface, never kernels or devices directly; the CPU backend is always
// available, a CUDA backend implements the same interface from its plugin.
//
// Activations are float buffers the backend can address (host memory for the CPU);
// weights are TensorViews from a WeightStore. Layout conventions follow kernels/cpu/*.h.
// Thread safety: one backend instance per session; its ops are called from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "inference/tensor.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"

namespace consilium::inference {

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual int threads() const = 0;
    virtual bool supportsWeights(DType t) const = 0;

    // Scratch each op below may need, for inputs up to maxTokens x maxCols / maxKv.
    virtual size_t scratchBytes(DType weightType, int64_t maxCols, int64_t maxTokens) const = 0;
    // Allocates the scratch up front so the forward pass never allocates.
    virtual void reserve(size_t scratchBytes, int64_t attentionScratchFloats) = 0;

    // y[n, rows] = x[n, cols] W^T (strided rows).
    virtual void matmul(const kernels::MatrixView& w, const float* x, int64_t n, int64_t xStride,
                        float* y, int64_t yStride) = 0;
    virtual void rmsNorm(const float* x, const float* w, float* y, int64_t n, int64_t dim,
                         float eps) = 0;
    virtual void rope(float* x, int64_t n, int64_t rowStride, int64_t heads, int64_t headDim,
                      int64_t rotDims, int64_t pos0, float base, kernels::RopeStyle style) = 0;
    virtual void attention(const float* q, int64_t nQ, int64_t qPos0, const float* k,
                           const float* v, int64_t nKv, const kernels::AttentionParams& p,
                           float* out, float* probs) = 0;
    // y = silu(gate) * up, rows of `dim`.
    virtual void swiglu(const float* gate, const float* up, float* y, int64_t n, int64_t dim) = 0;
    // y += x (n*dim floats).
    virtual void add(float* y, const float* x, int64_t count) = 0;
    virtual bool embed(const kernels::MatrixView& table, const int32_t* ids, int64_t n,
                       float* y) = 0;
    // LayerNorm over rows of `dim` (w, b may be null); y may alias x.
    virtual void layerNorm(const float* x, const float* w, const float* b, float* y, int64_t n,
                           int64_t dim, float eps) = 0;
    // NeoX RoPE with a precomputed table: row i of x (stride rowStride) rotates with
    // cos/sin row i ([n, headDim/2] each).
    virtual void ropeTable(float* x, int64_t n, int64_t rowStride, int64_t heads, int64_t headDim,
                           const float* cos, const float* sin) = 0;
    // y = gelu(x), tanh form, over `count` floats; y may alias x.
    virtual void gelu(const float* x, float* y, int64_t count) = 0;
    // 3x3x3 convolution, zero padding 1, channels last (kernels::conv3x3x3): x [D, H, W, cin],
    // w [cout, cin*27] F32, b [cout]; y [Do, Ho, Wo, cout], not aliasing x.
    virtual void conv3x3x3(const float* x, int64_t D, int64_t H, int64_t W, int64_t cin,
                           const float* w, const float* b, int64_t cout, const int64_t stride[3],
                           float* y) = 0;
};

struct CpuBackendOptions {
    int threads = 1;
    kernels::KernelPath path = kernels::KernelPath::Auto;
    int64_t maxAttentionKeys = 4096;  // sizes the attention scratch
};

std::unique_ptr<Backend> makeCpuBackend(const CpuBackendOptions& options);

}  // namespace consilium::inference
