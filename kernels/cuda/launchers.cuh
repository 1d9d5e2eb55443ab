// Launchers of the CUDA kernels, one per op file (kernels/cuda/<op>.cu). Internal to the
// plugin: plugin.cu validates arguments and turns the cudaError_t into ABI status codes.
//
// Every launcher takes device pointers and a stream, enqueues its kernels and returns the
// launch error (cudaGetLastError); none synchronises, allocates or aborts. Shapes are
// validated by the caller (plugin.cu); launchers assume them valid.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace consilium::cuda {

constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kBF16 = 30;
constexpr int kQBlock = 32;            // elements per Q4_0/Q8_0 block
constexpr int kQ4BlockBytes = 18;      // ggml block_q4_0: fp16 d; uint8 qs[16]
constexpr int kQ8BlockBytes = 34;      // ggml block_q8_0: fp16 d; int8 qs[32]
constexpr int64_t kGemvMaxTokens = 8;  // up to this many tokens the quantised GEMV is used

struct Matrix {
    uint32_t dtype = kF32;
    const void* data = nullptr;  // device
    int64_t rows = 0, cols = 0;
    size_t rowBytes = 0;
};

// ---- layer_norm_gelu.cu
cudaError_t launchLayerNorm(const float* x, const float* w, const float* b, float* y, int64_t rows,
                            int64_t n, float eps, cudaStream_t stream);
cudaError_t launchGelu(const float* x, float* y, int64_t count, cudaStream_t stream);
cudaError_t launchLayerNormGelu(const float* x, const float* residual, const float* w,
                                const float* b, float* sumOut, float* y, int64_t rows, int64_t n,
                                float eps, cudaStream_t stream);

// ---- gemv_quant.cu: Q4_0/Q8_0 weights, nTokens <= kGemvMaxTokens. scratch holds
// gemvQuantScratchBytes(cols, nTokens) bytes (activations quantised to Q8 blocks).
size_t gemvQuantScratchBytes(int64_t cols, int64_t nTokens);
cudaError_t launchGemvQuant(const Matrix& w, const float* x, int64_t nTokens, int64_t xStride,
                            float* y, int64_t yStride, void* scratch, cudaStream_t stream);

// ---- gemm_quant.cu: tiled tensor-core GEMM with Q4_0/Q8_0/F16 weights dequantised to FP16
// tiles in shared memory. Grouped form (MoE): expert e multiplies rows offsets[e] ..
// offsets[e+1] of x by the matrix at w.data + e * expertStride.
cudaError_t launchGemmQuant(const Matrix& w, const float* x, int64_t nTokens, int64_t xStride,
                            float* y, int64_t yStride, cudaStream_t stream);
cudaError_t launchGemmGrouped(const Matrix& w, size_t expertStride, int nExperts,
                              const int32_t* offsets, int64_t maxRowsPerExpert, const float* x,
                              float* y, cudaStream_t stream);

// ---- gemm_cublas.cu: F16/BF16 weights (activations converted into `scratch`, which holds
// cublasScratchBytes(...)) and F32 weights through cublasGemmEx with FP32 accumulation.
// The handle must already be bound to `stream` (cublasSetStream).
size_t cublasScratchBytes(uint32_t dtype, int64_t cols, int64_t nTokens);
cublasStatus_t gemmCublas(cublasHandle_t handle, const Matrix& w, const float* x, int64_t nTokens,
                          int64_t xStride, float* y, int64_t yStride, void* scratch,
                          cudaStream_t stream, cudaError_t* launchError);
// Converts floats to F16 or BF16 (round to nearest even); also used to load weights.
cudaError_t launchConvertF32(const float* src, void* dst, uint32_t dstType, int64_t count,
                             cudaStream_t stream);

// ---- rope.cu
cudaError_t launchRope(float* x, int64_t n, int64_t rowStride, int64_t nHeads, int64_t headDim,
                       int rotDims, float base, bool neox, int64_t pos0, cudaStream_t stream);

// ---- attention.cu: paged KV cache (layout in plugin_api.h).
struct PagedKv {
    float* k = nullptr;
    float* v = nullptr;
    const int32_t* blockTable = nullptr;  // entries outside [0, nPages) are skipped
    int tableLen = 0, nPages = 0;
    int pageTokens = 16, nKvHeads = 1, headDim = 64;
};
struct RopeParams {
    int rotDims = 0;  // 0 = none
    float base = 10000.0f;
    bool neox = false;
};
struct AttnParams {
    int nHeads = 1, nKvHeads = 1, headDim = 64;
    float scale = 0.125f;
    bool causal = true;
    int window = 0;
};
constexpr int kAttnMaxHeadDim = 256;
cudaError_t launchRopeKvAppend(const PagedKv& kv, const RopeParams& rope, float* q, int nHeads,
                               const float* k, const float* v, int64_t nNew, int64_t pos0,
                               cudaStream_t stream);
cudaError_t launchAttention(const PagedKv& kv, const AttnParams& p, const float* q, int64_t nQ,
                            int64_t qPos0, int64_t nKv, float* out, cudaStream_t stream);

// ---- moe_route.cu
constexpr int kMoeMaxExperts = 256, kMoeMaxK = 8;
cudaError_t launchMoeRoute(const float* logits, int64_t nTokens, int nExperts, int k,
                           bool renormalise, int32_t* ids, float* weights, cudaStream_t stream);
cudaError_t launchMoeDispatch(const int32_t* ids, int64_t nTokens, int k, int nExperts,
                              int32_t* offsets, int32_t* tokenOrder, int32_t* slotRows,
                              cudaStream_t stream);
cudaError_t launchMoeGather(const float* x, int64_t xStride, const int32_t* tokenOrder,
                            int64_t nTokens, int k, int64_t cols, float* xPerm,
                            cudaStream_t stream);
cudaError_t launchMoeCombine(const float* yPerm, const int32_t* slotRows, const float* weights,
                             int64_t nTokens, int k, int64_t rows, float* y, int64_t yStride,
                             cudaStream_t stream);

// Shared device helpers.
__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Rotation angle of pair i at position pos, as kernels::rope: pos * base^(-2i/rotDims).
__device__ __forceinline__ float ropeTheta(int64_t pos, int i, int rotDims, float base) {
    return float(pos) * powf(base, -2.0f * float(i) / float(rotDims));
}

// Rotates pair i of one head (at v) in place, as kernels::rope: Normal pairs (2i, 2i+1),
// NeoX pairs (i, i + rotDims/2).
__device__ __forceinline__ void ropePair(float* v, int64_t pos, int i, int rotDims, float base,
                                         bool neox) {
    float s, c;
    sincosf(ropeTheta(pos, i, rotDims, base), &s, &c);
    const int a = neox ? i : 2 * i;
    const int b = neox ? i + rotDims / 2 : 2 * i + 1;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}

}  // namespace consilium::cuda
