// Weight-only quantised GEMV for decode: y = x W^T with Q4_0 or Q8_0 weights read in
// ggml's block layout (kernels/cpu/dtype.h) and at most kGemvMaxTokens tokens.
//
// As the CPU path (kernels/cpu/matmul.cpp, after ggml_vec_dot_q4_0_q8_0 and ggml-cuda's
// mmvq), activations are first quantised to blocks of 32 int8 values with one float scale
// (amax / 127, round to nearest even: the CPU's quantizeActRef bit for bit); each weight
// block then meets each activation block in an exact integer dot product (__dp4a) scaled
// by d_w * d_x. GPU and CPU results differ only in the order of the float sums.
//
// One warp per output row; lane l takes blocks l, l + 32, ... so a warp reads a contiguous
// run of 32 blocks per step. Blocks are 18 (Q4_0) or 34 (Q8_0) bytes, 2-byte aligned:
// they are read as 16-bit words (as ggml-cuda's get_int_b2).
#include <cuda_fp16.h>

#include "kernels/cuda/launchers.cuh"

namespace consilium::cuda {
namespace {

// ---- Kernels --------------------------------------------------------------------------

constexpr int kWarpsPerBlock = 4;

struct ActLayout {
    int8_t* qs;  // [nTokens][cols]
    float* d;    // [nTokens][cols / 32]
};

ActLayout actLayout(void* scratch, int64_t cols, int64_t nTokens) {
    ActLayout a;
    a.qs = static_cast<int8_t*>(scratch);
    const size_t qsBytes = (size_t(cols * nTokens) + 255) / 256 * 256;
    a.d = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + qsBytes);
    return a;
}

// One warp per block of 32 activations (kernels/cpu/matmul.cpp quantizeActRef).
__global__ void quantizeActsKernel(const float* x, int64_t xStride, int64_t cols, int64_t nBlocks,
                                   int8_t* qs, float* d) {
    const int64_t blk = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
    if (blk >= nBlocks) return;
    const int lane = threadIdx.x % 32;
    const int64_t perRow = cols / kQBlock;
    const int64_t t = blk / perRow, b = blk % perRow;
    const float v = x[t * xStride + b * kQBlock + lane];
    const float amax = warpMax(fabsf(v));
    const float s = amax / 127.0f;
    const float id = s != 0.0f ? 1.0f / s : 0.0f;
    qs[t * cols + b * kQBlock + lane] = int8_t(__float2int_rn(v * id));
    if (lane == 0) d[blk] = s;
}

__device__ __forceinline__ int loadInt16x2(const uint16_t* p) {
    return int(uint32_t(p[0]) | (uint32_t(p[1]) << 16));
}

// acc[t] += d_w * d_x[t] * (integer dot of weight block b with activation block b of token
// t). wq: the block's quants as 32-bit words (Q4_0: 4 words of nibble pairs, Q8_0: 8).
template <uint32_t kType, int kTokens>
__device__ __forceinline__ void accumulateBlock(const int* wq, float dw, const int8_t* xq,
                                                const float* xd, int64_t cols, int64_t nb,
                                                int64_t b, int nTokens, float* acc) {
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        if (t >= nTokens) break;
        const int* xi = reinterpret_cast<const int*>(xq + t * cols + b * kQBlock);
        int sumi = 0;
        if constexpr (kType == kQ4_0) {
            // Nibbles are 0..15 for q + 8: sum (q - 8) x = sum nibble*x - 8 sum x.
            int sumx = 0;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int x0 = xi[i], x1 = xi[i + 4];
                sumi = __dp4a(wq[i] & 0x0F0F0F0F, x0, sumi);
                sumi = __dp4a((wq[i] >> 4) & 0x0F0F0F0F, x1, sumi);
                sumx = __dp4a(0x01010101, x0, sumx);
                sumx = __dp4a(0x01010101, x1, sumx);
            }
            sumi -= 8 * sumx;
        } else {
#pragma unroll
            for (int i = 0; i < 8; ++i)
                sumi = __dp4a(wq[i], xi[i], sumi);
        }
        acc[t] += float(sumi) * (dw * xd[t * nb + b]);
    }
}

template <uint32_t kType, int kTokens>
__device__ __forceinline__ void reduceAndStore(float* acc, int nTokens, int lane, float* y,
                                               int64_t yStride, int64_t row) {
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        if (t >= nTokens) break;
        const float s = warpSum(acc[t]);
        if (lane == 0) y[t * yStride + row] = s;
    }
}

// Plain form (any row alignment): lane l reads blocks l, l + 32, ... itself. Each 16-bit
// load of a warp touches every cache line of its 32 blocks, so this form is bound by the
// L1 load pipeline rather than by memory; the staged form below avoids that.
template <uint32_t kType, int kTokens>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemvQuantKernel(const uint8_t* __restrict__ w, size_t rowBytes, int64_t rows, int64_t cols,
                    const int8_t* __restrict__ xq, const float* __restrict__ xd, int nTokens,
                    float* __restrict__ y, int64_t yStride) {
    const int lane = threadIdx.x % 32;
    const int64_t row = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32;
    if (row >= rows) return;
    const int64_t nb = cols / kQBlock;
    const uint8_t* wr = w + row * rowBytes;
    float acc[kTokens];
#pragma unroll
    for (int t = 0; t < kTokens; ++t)
        acc[t] = 0.0f;

    for (int64_t b = lane; b < nb; b += 32) {
        constexpr int kWords = kType == kQ4_0 ? 4 : 8;
        const auto* p = reinterpret_cast<const uint16_t*>(
            wr + b * (kType == kQ4_0 ? kQ4BlockBytes : kQ8BlockBytes));
        const float dw = __half2float(__ushort_as_half(p[0]));
        int wq[kWords];
#pragma unroll
        for (int i = 0; i < kWords; ++i)
            wq[i] = loadInt16x2(p + 1 + 2 * i);
        accumulateBlock<kType, kTokens>(wq, dw, xq, xd, cols, nb, b, nTokens, acc);
    }
    reduceAndStore<kType, kTokens>(acc, nTokens, lane, y, yStride, row);
}

// 16-bit and 32-bit fields at compile-time byte offsets of a chunk held in registers
// (little-endian words; offsets are even).
template <int kOffset>
__device__ __forceinline__ uint32_t field16(const uint32_t* words) {
    return (words[kOffset / 4] >> (8 * (kOffset % 4))) & 0xFFFFu;
}
template <int kOffset>
__device__ __forceinline__ int field32(const uint32_t* words) {
    if constexpr (kOffset % 4 == 0) {
        return int(words[kOffset / 4]);
    } else {
        return int(__byte_perm(words[kOffset / 4], words[kOffset / 4 + 1], 0x5432));
    }
}

template <uint32_t kType, int kTokens, int kBlock>
__device__ __forceinline__ void accumulateStagedBlock(const uint32_t* words, const int8_t* xq,
                                                      const float* xd, int64_t cols, int64_t nb,
                                                      int64_t b, int nTokens, float* acc) {
    constexpr int kBytes = kType == kQ4_0 ? kQ4BlockBytes : kQ8BlockBytes;
    constexpr int kBase = kBlock * kBytes;
    constexpr int kWords = kType == kQ4_0 ? 4 : 8;
    const float dw = __half2float(__ushort_as_half(uint16_t(field16<kBase>(words))));
    int wq[kWords];
    wq[0] = field32<kBase + 2>(words);
    wq[1] = field32<kBase + 6>(words);
    wq[2] = field32<kBase + 10>(words);
    wq[3] = field32<kBase + 14>(words);
    if constexpr (kWords == 8) {
        wq[4] = field32<kBase + 18>(words);
        wq[5] = field32<kBase + 22>(words);
        wq[6] = field32<kBase + 26>(words);
        wq[7] = field32<kBase + 30>(words);
    }
    accumulateBlock<kType, kTokens>(wq, dw, xq, xd, cols, nb, b, nTokens, acc);
}

// Staged form, for rows that are whole numbers of 8-block chunks (cols % 256 == 0) on
// 16-byte boundaries: 8 blocks are 144 (Q4_0) or 272 (Q8_0) bytes, a whole number of
// 16-byte words. A warp copies up to 32 chunks of its row into shared memory with
// coalesced 16-byte loads (each load instruction reads 512 contiguous bytes), then lane l
// takes chunk l back into registers (16-byte shared loads, conflict-free at these strides)
// and decodes its 8 blocks from there.
template <uint32_t kType, int kTokens>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemvQuantStagedKernel(const uint8_t* __restrict__ w, size_t rowBytes, int64_t rows,
                          int64_t cols, const int8_t* __restrict__ xq, const float* __restrict__ xd,
                          int nTokens, float* __restrict__ y, int64_t yStride) {
    constexpr int kChunkU4 = (kType == kQ4_0 ? kQ4BlockBytes : kQ8BlockBytes) * 8 / 16;
    __shared__ uint4 stage[kWarpsPerBlock][32 * kChunkU4];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int64_t row = blockIdx.x * int64_t(kWarpsPerBlock) + warp;
    if (row >= rows) return;
    const int64_t nb = cols / kQBlock, nChunks = nb / 8;
    const auto* wr = reinterpret_cast<const uint4*>(w + row * rowBytes);
    uint4* st = stage[warp];
    float acc[kTokens];
#pragma unroll
    for (int t = 0; t < kTokens; ++t)
        acc[t] = 0.0f;

    for (int64_t c0 = 0; c0 < nChunks; c0 += 32) {
        const int chunks = int(nChunks - c0 < 32 ? nChunks - c0 : 32);
        const uint4* src = wr + c0 * kChunkU4;
        for (int j = lane; j < chunks * kChunkU4; j += 32)
            st[j] = src[j];
        __syncwarp();
        if (lane < chunks) {
            uint32_t words[kChunkU4 * 4];
#pragma unroll
            for (int i = 0; i < kChunkU4; ++i) {
                const uint4 v = st[lane * kChunkU4 + i];
                words[4 * i] = v.x;
                words[4 * i + 1] = v.y;
                words[4 * i + 2] = v.z;
                words[4 * i + 3] = v.w;
            }
            const int64_t b0 = (c0 + lane) * 8;
            accumulateStagedBlock<kType, kTokens, 0>(words, xq, xd, cols, nb, b0, nTokens, acc);
            accumulateStagedBlock<kType, kTokens, 1>(words, xq, xd, cols, nb, b0 + 1, nTokens, acc);
            accumulateStagedBlock<kType, kTokens, 2>(words, xq, xd, cols, nb, b0 + 2, nTokens, acc);
            accumulateStagedBlock<kType, kTokens, 3>(words, xq, xd, cols, nb, b0 + 3, nTokens, acc);
            accumulateStagedBlock<kType, kTokens, 4>(words, xq, xd, cols, nb, b0 + 4, nTokens, acc);
            accumulateStagedBlock<kType, kTokens, 5>(words, xq, xd, cols, nb, b0 + 5, nTokens, acc);
            accumulateStagedBlock<kType, kTokens, 6>(words, xq, xd, cols, nb, b0 + 6, nTokens, acc);
            accumulateStagedBlock<kType, kTokens, 7>(words, xq, xd, cols, nb, b0 + 7, nTokens, acc);
        }
        __syncwarp();  // the stage is refilled next round
    }
    reduceAndStore<kType, kTokens>(acc, nTokens, lane, y, yStride, row);
}

// ---- Launchers ------------------------------------------------------------------------

template <uint32_t kType>
void launchTyped(const Matrix& w, const ActLayout& a, int64_t nTokens, float* y, int64_t yStride,
                 cudaStream_t stream) {
    const unsigned grid = unsigned((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
    const auto* wd = static_cast<const uint8_t*>(w.data);
    const int n = int(nTokens);
    // The staged form needs whole 8-block chunks on 16-byte boundaries.
    const bool staged =
        w.cols % 256 == 0 && w.rowBytes % 16 == 0 && reinterpret_cast<uintptr_t>(w.data) % 16 == 0;
#define CONSILIUM_GEMV(NT)                                                          \
    if (staged) {                                                                   \
        gemvQuantStagedKernel<kType, NT><<<grid, kWarpsPerBlock * 32, 0, stream>>>( \
            wd, w.rowBytes, w.rows, w.cols, a.qs, a.d, n, y, yStride);              \
    } else {                                                                        \
        gemvQuantKernel<kType, NT><<<grid, kWarpsPerBlock * 32, 0, stream>>>(       \
            wd, w.rowBytes, w.rows, w.cols, a.qs, a.d, n, y, yStride);              \
    }
    if (n == 1) {
        CONSILIUM_GEMV(1);
    } else if (n == 2) {
        CONSILIUM_GEMV(2);
    } else if (n <= 4) {
        CONSILIUM_GEMV(4);
    } else {
        CONSILIUM_GEMV(8);
    }
#undef CONSILIUM_GEMV
}

}  // namespace

size_t gemvQuantScratchBytes(int64_t cols, int64_t nTokens) {
    return (size_t(cols * nTokens) + 255) / 256 * 256 + size_t(cols / kQBlock * nTokens) * 4;
}

cudaError_t launchGemvQuant(const Matrix& w, const float* x, int64_t nTokens, int64_t xStride,
                            float* y, int64_t yStride, void* scratch, cudaStream_t stream) {
    if (w.rows <= 0 || nTokens <= 0) return cudaSuccess;
    const ActLayout a = actLayout(scratch, w.cols, nTokens);
    const int64_t nBlocks = nTokens * (w.cols / kQBlock);
    quantizeActsKernel<<<unsigned((nBlocks + 7) / 8), 256, 0, stream>>>(x, xStride, w.cols, nBlocks,
                                                                        a.qs, a.d);
    if (w.dtype == kQ4_0) {
        launchTyped<kQ4_0>(w, a, nTokens, y, yStride, stream);
    } else {
        launchTyped<kQ8_0>(w, a, nTokens, y, yStride, stream);
    }
    return cudaGetLastError();
}

}  // namespace consilium::cuda
