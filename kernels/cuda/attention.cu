// Attention over a paged KV cache (layout: kernels/cuda/plugin_api.h, ConsiliumCudaPagedKv),
// with semantics of kernels::attention (kernels/cpu/attention.cpp): grouped-query heads,
// causal, sliding-window (Mistral) or cross (all keys) masks, scale applied to q.k.
//
// Two kernels:
//  * ropeKvAppendKernel: RoPE fused with the cache write. For each new token it rotates q
//    in place and writes the rotated k and v into their pages, in one pass.
//  * attentionKernel: one thread block per (head, query). Its four warps take keys
//    round-robin; a warp computes q.k with a shuffle reduction and keeps an online softmax
//    (running max, running sum, rescaled output accumulator: Milakov & Gimelshein 2018, as
//    FlashAttention), and the warps' partial results are merged at the end. Memory use is
//    independent of the number of keys.
//
// Simpler than FlashAttention-2 (said plainly): prefill runs the same per-query kernel
// (no tiling of queries through shared memory, no tensor cores), and decode does not
// split long contexts across blocks (flash-decoding). Both are exact, not fast, for long
// prompts.
#include "kernels/cuda/launchers.cuh"

namespace consilium::cuda {
namespace {

// ---- Kernels --------------------------------------------------------------------------

constexpr int kWarps = 4;
constexpr int kPerLane = kAttnMaxHeadDim / 32;

__device__ __forceinline__ int64_t cacheOffset(const PagedKv& kv, int64_t pos, int h) {
    const int page = kv.blockTable[pos / kv.pageTokens];
    if (page < 0 || page >= kv.nPages) return -1;
    return ((int64_t(page) * kv.nKvHeads + h) * kv.pageTokens + pos % kv.pageTokens) * kv.headDim;
}

__global__ void ropeKvAppendKernel(PagedKv kv, RopeParams rope, float* q, int nHeads,
                                   const float* k, const float* v, int64_t pos0) {
    const int64_t t = blockIdx.x, pos = pos0 + t;
    const int hd = kv.headDim, half = rope.rotDims / 2;
    if (q && half > 0) {
        float* qt = q + t * int64_t(nHeads) * hd;
        for (int item = threadIdx.x; item < nHeads * half; item += blockDim.x) {
            ropePair(qt + (item / half) * hd, pos, item % half, rope.rotDims, rope.base, rope.neox);
        }
    }
    const float* kt = k + t * int64_t(kv.nKvHeads) * hd;
    const float* vt = v + t * int64_t(kv.nKvHeads) * hd;
    for (int item = threadIdx.x; item < kv.nKvHeads * hd; item += blockDim.x) {
        const int h = item / hd, d = item % hd;
        const int64_t off = cacheOffset(kv, pos, h);
        if (off < 0) continue;
        float kval = kt[item];
        if (d < rope.rotDims) {
            // Element d of its pair (a, b): a' = a c - b s, b' = a s + b c.
            const int i = rope.neox ? d % half : d / 2;
            const bool first = rope.neox ? d < half : d % 2 == 0;
            const int a = rope.neox ? i : 2 * i, b = rope.neox ? i + half : 2 * i + 1;
            float s, c;
            sincosf(ropeTheta(pos, i, rope.rotDims, rope.base), &s, &c);
            const float x0 = kt[h * hd + a], x1 = kt[h * hd + b];
            kval = first ? x0 * c - x1 * s : x0 * s + x1 * c;
        }
        kv.k[off + d] = kval;
        kv.v[off + d] = vt[item];
    }
}

__global__ void __launch_bounds__(kWarps * 32)
    attentionKernel(PagedKv kv, AttnParams p, const float* __restrict__ q, int64_t qPos0,
                    int64_t nKv, float* __restrict__ out) {
    __shared__ float wMax[kWarps], wSum[kWarps];
    __shared__ float wAcc[kWarps][kAttnMaxHeadDim];
    const int h = blockIdx.x;
    const int64_t i = blockIdx.y;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int hd = p.headDim, kvh = h / (p.nHeads / p.nKvHeads);

    const int64_t pos = qPos0 + i;
    int64_t begin = 0, end = nKv;
    if (p.causal) {
        end = min(nKv, pos + 1);
        begin = p.window > 0 ? max(int64_t(0), pos - p.window + 1) : 0;
        end = max(begin, end);
    }

    const float* qi = q + (i * p.nHeads + h) * hd;
    float qv[kPerLane], acc[kPerLane];
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
        const int d = lane + 32 * j;
        qv[j] = d < hd ? qi[d] : 0.0f;
        acc[j] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int64_t key = begin + warp; key < end; key += kWarps) {
        const int64_t off = cacheOffset(kv, key, kvh);
        if (off < 0) continue;
        const float* kr = kv.k + off;
        const float* vr = kv.v + off;
        float dot = 0.0f;
#pragma unroll
        for (int j = 0; j < kPerLane; ++j) {
            const int d = lane + 32 * j;
            if (d < hd) dot += qv[j] * kr[d];
        }
        const float s = warpSum(dot) * p.scale;
        const float mNew = fmaxf(m, s);
        const float corr = expf(m - mNew), e = expf(s - mNew);
        l = l * corr + e;
#pragma unroll
        for (int j = 0; j < kPerLane; ++j) {
            const int d = lane + 32 * j;
            acc[j] = acc[j] * corr + (d < hd ? e * vr[d] : 0.0f);
        }
        m = mNew;
    }
    if (lane == 0) {
        wMax[warp] = m;
        wSum[warp] = l;
    }
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
        const int d = lane + 32 * j;
        if (d < hd) wAcc[warp][d] = acc[j];
    }
    __syncthreads();
    float gMax = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w)
        gMax = fmaxf(gMax, wMax[w]);
    float gSum = 0.0f, scaleW[kWarps];
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        scaleW[w] = gMax == -INFINITY ? 0.0f : expf(wMax[w] - gMax);
        gSum += wSum[w] * scaleW[w];
    }
    const float inv = gSum > 0.0f ? 1.0f / gSum : 0.0f;
    float* oi = out + (i * p.nHeads + h) * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float o = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w)
            o += wAcc[w][d] * scaleW[w];
        oi[d] = o * inv;
    }
}

}  // namespace

// ---- Launchers ------------------------------------------------------------------------

cudaError_t launchRopeKvAppend(const PagedKv& kv, const RopeParams& rope, float* q, int nHeads,
                               const float* k, const float* v, int64_t nNew, int64_t pos0,
                               cudaStream_t stream) {
    if (nNew <= 0) return cudaSuccess;
    ropeKvAppendKernel<<<unsigned(nNew), 256, 0, stream>>>(kv, rope, q, nHeads, k, v, pos0);
    return cudaGetLastError();
}

cudaError_t launchAttention(const PagedKv& kv, const AttnParams& p, const float* q, int64_t nQ,
                            int64_t qPos0, int64_t nKv, float* out, cudaStream_t stream) {
    if (nQ <= 0) return cudaSuccess;
    // gridDim.y is limited to 65535 queries per launch: split longer prompts.
    constexpr int64_t kMaxY = 65535;
    for (int64_t q0 = 0; q0 < nQ; q0 += kMaxY) {
        const int64_t n = nQ - q0 < kMaxY ? nQ - q0 : kMaxY;
        const int64_t stride = int64_t(p.nHeads) * p.headDim;
        attentionKernel<<<dim3(unsigned(p.nHeads), unsigned(n)), kWarps * 32, 0, stream>>>(
            kv, p, q + q0 * stride, qPos0 + q0, nKv, out + q0 * stride);
    }
    return cudaGetLastError();
}

}  // namespace consilium::cuda
