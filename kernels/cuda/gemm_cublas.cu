// Mixed-precision GEMM through cuBLAS: y = x W^T with F16 or BF16 weights and FP32
// accumulation and output (cublasGemmEx, CUBLAS_COMPUTE_32F), or F32 weights in full FP32
// (the reference precision; the handle's math mode keeps TF32 off).
//
// Row-major y [n, rows] = x [n, cols] W^T is, in cuBLAS's column-major terms,
// C (rows x n, ldc = yStride) = op(A) B with A = W seen as (cols x rows, lda = row
// elements) transposed and B = x seen as (cols x n, ldb = xStride).
// Activations are converted to the weight type first (a grid-stride kernel), so both
// operands of the tensor-core GEMM have the same 16-bit type.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/launchers.cuh"

namespace consilium::cuda {
namespace {

// ---- Kernels --------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) {
    return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

// dst row t (dense, `cols` wide) = src row t (stride srcStride).
template <typename T>
__global__ void convertKernel(const float* __restrict__ src, int64_t srcStride, int64_t cols,
                              int64_t count, T* __restrict__ dst) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
         i += int64_t(gridDim.x) * blockDim.x) {
        dst[i] = fromFloat<T>(src[(i / cols) * srcStride + i % cols]);
    }
}

// ---- Launchers ------------------------------------------------------------------------

unsigned gridFor(int64_t count) {
    const int64_t blocks = (count + 255) / 256;
    return unsigned(blocks < 65536 ? blocks : 65536);
}

cudaError_t convertRows(const float* src, int64_t srcStride, int64_t cols, int64_t rows, void* dst,
                        uint32_t dstType, cudaStream_t stream) {
    const int64_t count = rows * cols;
    if (count <= 0) return cudaSuccess;
    if (dstType == kF16) {
        convertKernel<<<gridFor(count), 256, 0, stream>>>(src, srcStride, cols, count,
                                                          static_cast<__half*>(dst));
    } else if (dstType == kBF16) {
        convertKernel<<<gridFor(count), 256, 0, stream>>>(src, srcStride, cols, count,
                                                          static_cast<__nv_bfloat16*>(dst));
    } else {
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

}  // namespace

size_t cublasScratchBytes(uint32_t dtype, int64_t cols, int64_t nTokens) {
    return dtype == kF16 || dtype == kBF16 ? size_t(cols * nTokens) * 2 : 0;
}

cudaError_t launchConvertF32(const float* src, void* dst, uint32_t dstType, int64_t count,
                             cudaStream_t stream) {
    return convertRows(src, count, count, 1, dst, dstType, stream);
}

cublasStatus_t gemmCublas(cublasHandle_t handle, const Matrix& w, const float* x, int64_t nTokens,
                          int64_t xStride, float* y, int64_t yStride, void* scratch,
                          cudaStream_t stream, cudaError_t* launchError) {
    *launchError = cudaSuccess;
    if (w.rows <= 0 || nTokens <= 0) return CUBLAS_STATUS_SUCCESS;
    const float alpha = 1.0f, beta = 0.0f;
    const int m = int(w.rows), n = int(nTokens), k = int(w.cols);
    if (w.dtype == kF32) {
        const int lda = int(w.rowBytes / 4);
        return cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, w.data, CUDA_R_32F,
                            lda, x, CUDA_R_32F, int(xStride), &beta, y, CUDA_R_32F, int(yStride),
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    }
    const cudaDataType_t type = w.dtype == kF16 ? CUDA_R_16F : CUDA_R_16BF;
    *launchError = convertRows(x, xStride, w.cols, nTokens, scratch, w.dtype, stream);
    if (*launchError != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    const int lda = int(w.rowBytes / 2);
    return cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, w.data, type, lda,
                        scratch, type, k, &beta, y, CUDA_R_32F, int(yStride), CUBLAS_COMPUTE_32F,
                        CUBLAS_GEMM_DEFAULT);
}

}  // namespace consilium::cuda
