// Tiled GEMM for prefill, y = x W^T, with Q4_0 / Q8_0 (ggml block layout) or F16 weights,
// on tensor cores through WMMA (CUDA C++ Programming Guide, "Warp Matrix Functions").
//
// A thread block computes a 64 (weight rows) x 64 (tokens) tile of y. Per step of 32
// columns (exactly one quantised block per weight row) it dequantises the 64 weight blocks
// to FP16 in shared memory (value = (q - 8) * d for Q4_0, q * d for Q8_0, as
// kernels/cpu/dtype.cpp dequantizeRow), converts the 64 x 32 activation floats to FP16 beside
// them, and four warps multiply them with 16x16x16 WMMA fragments into FP32 accumulators
// (each warp owns a 32 x 32 sub-tile). The tile is staged through shared memory on the way
// out so that the stores to y are coalesced and bounds-checked.
//
// Precision: inputs rounded to FP16 (weights after dequantisation, activations), products
// and sums in FP32. The CPU quantises activations to Q8 instead; both are within the
// per-op limit of tests/kernels/test_cuda_parity.cpp. Activations beyond FP16's range
// (|x| > 65504) are not supported on this path.
//
// Not done (simple first): no double buffering of the tiles, no cp.async, no mma.sync
// with int8 operands as ggml-cuda's mmq.
//
// The grouped form runs every expert of a MoE layer in one launch (blockIdx.z = expert):
// a block reads its expert's row range from `offsets` and returns if its token tile is
// past the end.
#include <cuda_fp16.h>
#include <mma.h>

#include "kernels/cuda/launchers.cuh"

namespace consilium::cuda {
namespace {

// ---- Kernels --------------------------------------------------------------------------

constexpr int kBm = 64, kBn = 64, kBk = 32;
constexpr int kLd = kBk + 8;   // halves per shared row (padding against bank conflicts)
constexpr int kCLd = kBn + 4;  // floats per staged output row
constexpr int kThreads = 128;  // 4 warps, 2 x 2 sub-tiles of 32 x 32

// Thread (r = tid / 2, part = tid % 2) fills elements part*16 .. part*16+15 of row r of the
// weight tile for column block kb.
template <uint32_t kType>
__device__ __forceinline__ void loadWeightTile(__half* tile, const uint8_t* w, size_t rowBytes,
                                               int64_t rows, int64_t r0, int64_t kb) {
    const int r = threadIdx.x / 2, part = threadIdx.x % 2;
    __half* dst = tile + r * kLd + part * 16;
    if (r0 + r >= rows) {
#pragma unroll
        for (int j = 0; j < 16; ++j)
            dst[j] = __float2half(0.0f);
        return;
    }
    const uint8_t* row = w + (r0 + r) * rowBytes;
    if constexpr (kType == kQ4_0) {
        const auto* p = reinterpret_cast<const uint16_t*>(row + kb * kQ4BlockBytes);
        const float d = __half2float(__ushort_as_half(p[0]));
        // qs[j] holds element j (low nibble) and element j + 16 (high nibble).
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const uint32_t word = p[1 + j];
            const uint32_t b0 = word & 0xFF, b1 = word >> 8;
            const int q0 = int(part == 0 ? (b0 & 0xF) : (b0 >> 4)) - 8;
            const int q1 = int(part == 0 ? (b1 & 0xF) : (b1 >> 4)) - 8;
            dst[2 * j] = __float2half(float(q0) * d);
            dst[2 * j + 1] = __float2half(float(q1) * d);
        }
    } else if constexpr (kType == kQ8_0) {
        const auto* p = reinterpret_cast<const uint16_t*>(row + kb * kQ8BlockBytes);
        const float d = __half2float(__ushort_as_half(p[0]));
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const uint32_t word = p[1 + part * 8 + j];
            dst[2 * j] = __float2half(float(int8_t(word & 0xFF)) * d);
            dst[2 * j + 1] = __float2half(float(int8_t(word >> 8)) * d);
        }
    } else {
        const auto* p = reinterpret_cast<const __half*>(row) + kb * kBk + part * 16;
#pragma unroll
        for (int j = 0; j < 16; ++j)
            dst[j] = p[j];
    }
}

__device__ __forceinline__ void loadActTile(__half* tile, const float* x, int64_t xStride,
                                            int64_t nTok, int64_t t0, int64_t kb) {
    const int t = threadIdx.x / 2, part = threadIdx.x % 2;
    __half* dst = tile + t * kLd + part * 16;
    if (t0 + t >= nTok) {
#pragma unroll
        for (int j = 0; j < 16; ++j)
            dst[j] = __float2half(0.0f);
        return;
    }
    const float* src = x + (t0 + t) * xStride + kb * kBk + part * 16;
#pragma unroll
    for (int j = 0; j < 16; ++j)
        dst[j] = __float2half_rn(src[j]);
}

template <uint32_t kType, bool kGrouped>
__global__ void __launch_bounds__(kThreads)
    gemmKernel(const uint8_t* __restrict__ w, size_t rowBytes, int64_t rows, int64_t cols,
               size_t expertStride, const int32_t* __restrict__ offsets,
               const float* __restrict__ x, int64_t xStride, int64_t nTokens, float* __restrict__ y,
               int64_t yStride) {
    using namespace nvcuda;
    __shared__ __align__(32) __half aTile[kBm * kLd];  // weights [64 rows][32 k]
    __shared__ __align__(32) __half bTile[kBn * kLd];  // activations [64 tokens][32 k]
    __shared__ __align__(32) float cTile[kBm * kCLd];  // y tile [64 rows][64 tokens]

    int64_t nTok = nTokens;
    if constexpr (kGrouped) {
        const int e = blockIdx.z;
        const int64_t begin = offsets[e];
        nTok = offsets[e + 1] - begin;
        w += size_t(e) * expertStride;
        x += begin * xStride;
        y += begin * yStride;
    }
    const int64_t r0 = int64_t(blockIdx.x) * kBm, t0 = int64_t(blockIdx.y) * kBn;
    if (t0 >= nTok) return;

    const int warp = threadIdx.x / 32;
    const int wm = warp / 2, wn = warp % 2;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
            wmma::fill_fragment(acc[i][j], 0.0f);

    const int64_t nb = cols / kBk;
    for (int64_t kb = 0; kb < nb; ++kb) {
        loadWeightTile<kType>(aTile, w, rowBytes, rows, r0, kb);
        loadActTile(bTile, x, xStride, nTok, t0, kb);
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kBk; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[2];
#pragma unroll
            for (int i = 0; i < 2; ++i)
                wmma::load_matrix_sync(a[i], aTile + (wm * 32 + i * 16) * kLd + kk, kLd);
                // B(k, t) = x[t][k]: column-major with leading dimension kLd.
#pragma unroll
            for (int j = 0; j < 2; ++j)
                wmma::load_matrix_sync(b[j], bTile + (wn * 32 + j * 16) * kLd + kk, kLd);
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int j = 0; j < 2; ++j)
                    wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
            wmma::store_matrix_sync(cTile + (wm * 32 + i * 16) * kCLd + wn * 32 + j * 16, acc[i][j],
                                    kCLd, wmma::mem_row_major);
    __syncthreads();
    // Consecutive threads write consecutive rows r of one token: y[t][r] is contiguous.
    for (int idx = threadIdx.x; idx < kBm * kBn; idx += kThreads) {
        const int t = idx / kBm, r = idx % kBm;
        if (r0 + r < rows && t0 + t < nTok) y[(t0 + t) * yStride + r0 + r] = cTile[r * kCLd + t];
    }
}

// ---- Launchers ------------------------------------------------------------------------

template <bool kGrouped>
cudaError_t launch(const Matrix& w, size_t expertStride, int nExperts, const int32_t* offsets,
                   const float* x, int64_t xStride, int64_t nTokens, float* y, int64_t yStride,
                   cudaStream_t stream) {
    if (w.rows <= 0 || nTokens <= 0 || nExperts <= 0) return cudaSuccess;
    const dim3 grid(unsigned((w.rows + kBm - 1) / kBm), unsigned((nTokens + kBn - 1) / kBn),
                    unsigned(nExperts));
    const auto* wd = static_cast<const uint8_t*>(w.data);
#define CONSILIUM_GEMM(T)                                   \
    gemmKernel<T, kGrouped><<<grid, kThreads, 0, stream>>>( \
        wd, w.rowBytes, w.rows, w.cols, expertStride, offsets, x, xStride, nTokens, y, yStride)
    switch (w.dtype) {
        case kQ4_0:
            CONSILIUM_GEMM(kQ4_0);
            break;
        case kQ8_0:
            CONSILIUM_GEMM(kQ8_0);
            break;
        case kF16:
            CONSILIUM_GEMM(kF16);
            break;
        default:
            return cudaErrorInvalidValue;
    }
#undef CONSILIUM_GEMM
    return cudaGetLastError();
}

}  // namespace

cudaError_t launchGemmQuant(const Matrix& w, const float* x, int64_t nTokens, int64_t xStride,
                            float* y, int64_t yStride, cudaStream_t stream) {
    return launch<false>(w, 0, 1, nullptr, x, xStride, nTokens, y, yStride, stream);
}

cudaError_t launchGemmGrouped(const Matrix& w, size_t expertStride, int nExperts,
                              const int32_t* offsets, int64_t maxRowsPerExpert, const float* x,
                              float* y, cudaStream_t stream) {
    return launch<true>(w, expertStride, nExperts, offsets, x, w.cols, maxRowsPerExpert, y, w.rows,
                        stream);
}

}  // namespace consilium::cuda
