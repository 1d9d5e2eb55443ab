// Mixture-of-Experts routing on the GPU, as kernels::moeRoute and kernels::moeDispatch
// (kernels/cpu/moe.cpp; Mixtral routing: transformers MixtralSparseMoeBlock, llama.cpp
// build_moe_ffn with softmax gating and normalised weights):
//  1. route:    softmax over the expert logits, top-k (ties: lower expert id), optional
//               renormalisation, in one kernel: one warp per token, logits in registers.
//  2. dispatch: routes grouped by expert in the CPU's stable order (one thread block:
//               histogram, scan, then one warp per expert placing its routes with ballots).
//  3. gather:   x rows permuted into expert order.
//  4. grouped expert GEMM: gemm_quant.cu, launchGemmGrouped (all experts in one launch).
//  5. combine:  un-permute and weighted sum over each token's k slots, in slot order.
#include "kernels/cuda/launchers.cuh"

namespace consilium::cuda {
namespace {

// ---- Kernels --------------------------------------------------------------------------

constexpr int kRouteWarps = 4;
constexpr int kPerLane = kMoeMaxExperts / 32;

__global__ void __launch_bounds__(kRouteWarps * 32)
    routeKernel(const float* __restrict__ logits, int64_t nTokens, int nExperts, int k,
                bool renormalise, int32_t* __restrict__ ids, float* __restrict__ weights) {
    const int lane = threadIdx.x % 32;
    const int64_t t = blockIdx.x * int64_t(kRouteWarps) + threadIdx.x / 32;
    if (t >= nTokens) return;
    const float* lt = logits + t * nExperts;
    float v[kPerLane];
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
        const int e = lane + 32 * j;
        v[j] = e < nExperts ? lt[e] : -INFINITY;
        mx = fmaxf(mx, v[j]);
    }
    mx = warpMax(mx);
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
        const int e = lane + 32 * j;
        if (e < nExperts) sum += expf(v[j] - mx);
    }
    sum = warpSum(sum);

    unsigned taken = 0;  // bit j: expert lane + 32 j already chosen
    float chosen[kMoeMaxK];
    float total = 0.0f;
    for (int slot = 0; slot < k; ++slot) {
        // This lane's best untaken expert, then the warp's: larger logit, then lower id.
        float bestV = -INFINITY;
        int bestE = nExperts;
#pragma unroll
        for (int j = 0; j < kPerLane; ++j) {
            const int e = lane + 32 * j;
            if (e < nExperts && !(taken >> j & 1u) && (bestE == nExperts || v[j] > bestV)) {
                bestV = v[j];
                bestE = e;
            }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bestV, o);
            const int oe = __shfl_xor_sync(0xffffffffu, bestE, o);
            if (oe < nExperts && (bestE == nExperts || ov > bestV || (ov == bestV && oe < bestE))) {
                bestV = ov;
                bestE = oe;
            }
        }
        if (bestE % 32 == lane) taken |= 1u << (bestE / 32);
        chosen[slot] = expf(bestV - mx) / sum;
        total += chosen[slot];
        if (lane == 0) ids[t * k + slot] = bestE;
    }
    if (lane == 0) {
        for (int slot = 0; slot < k; ++slot)
            weights[t * k + slot] = renormalise ? chosen[slot] / total : chosen[slot];
    }
}

// One block. Route index i = token * k + slot; stable: routes keep their order per expert.
__global__ void dispatchKernel(const int32_t* __restrict__ ids, int64_t nRoutes, int nExperts,
                               int32_t* __restrict__ offsets, int32_t* __restrict__ tokenOrder,
                               int32_t* __restrict__ slotRows) {
    extern __shared__ int32_t base[];  // [nExperts]
    for (int e = threadIdx.x; e < nExperts; e += blockDim.x)
        base[e] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < nRoutes; i += blockDim.x) {
        const int e = ids[i];
        if (e >= 0 && e < nExperts) atomicAdd(&base[e], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int32_t running = 0;
        for (int e = 0; e < nExperts; ++e) {
            const int32_t c = base[e];
            base[e] = running;
            offsets[e] = running;
            running += c;
        }
        offsets[nExperts] = running;
    }
    __syncthreads();
    const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
    const unsigned below = (1u << lane) - 1u;
    for (int e = threadIdx.x / 32; e < nExperts; e += warps) {
        int32_t cursor = base[e];
        for (int64_t c = 0; c < nRoutes; c += 32) {
            const int64_t i = c + lane;
            const bool match = i < nRoutes && ids[i] == e;
            const unsigned mask = __ballot_sync(0xffffffffu, match);
            if (match) {
                const int32_t p = cursor + __popc(mask & below);
                tokenOrder[p] = int32_t(i);
                slotRows[i] = p;
            }
            cursor += __popc(mask);
        }
    }
}

__global__ void gatherKernel(const float* __restrict__ x, int64_t xStride,
                             const int32_t* __restrict__ tokenOrder, int k, int64_t cols,
                             float* __restrict__ xPerm) {
    const int64_t p = blockIdx.x;
    const float* src = x + int64_t(tokenOrder[p] / k) * xStride;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        xPerm[p * cols + c] = src[c];
}

__global__ void combineKernel(const float* __restrict__ yPerm, const int32_t* __restrict__ slotRows,
                              const float* __restrict__ weights, int k, int64_t rows,
                              float* __restrict__ y, int64_t yStride) {
    const int64_t t = blockIdx.x;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
        float s = 0.0f;
        for (int slot = 0; slot < k; ++slot) {
            s += weights[t * k + slot] * yPerm[int64_t(slotRows[t * k + slot]) * rows + r];
        }
        y[t * yStride + r] = s;
    }
}

}  // namespace

// ---- Launchers ------------------------------------------------------------------------

cudaError_t launchMoeRoute(const float* logits, int64_t nTokens, int nExperts, int k,
                           bool renormalise, int32_t* ids, float* weights, cudaStream_t stream) {
    if (nTokens <= 0) return cudaSuccess;
    const unsigned grid = unsigned((nTokens + kRouteWarps - 1) / kRouteWarps);
    routeKernel<<<grid, kRouteWarps * 32, 0, stream>>>(logits, nTokens, nExperts, k, renormalise,
                                                       ids, weights);
    return cudaGetLastError();
}

cudaError_t launchMoeDispatch(const int32_t* ids, int64_t nTokens, int k, int nExperts,
                              int32_t* offsets, int32_t* tokenOrder, int32_t* slotRows,
                              cudaStream_t stream) {
    dispatchKernel<<<1, 256, size_t(nExperts) * sizeof(int32_t), stream>>>(
        ids, nTokens * k, nExperts, offsets, tokenOrder, slotRows);
    return cudaGetLastError();
}

cudaError_t launchMoeGather(const float* x, int64_t xStride, const int32_t* tokenOrder,
                            int64_t nTokens, int k, int64_t cols, float* xPerm,
                            cudaStream_t stream) {
    if (nTokens <= 0) return cudaSuccess;
    gatherKernel<<<unsigned(nTokens * k), 256, 0, stream>>>(x, xStride, tokenOrder, k, cols, xPerm);
    return cudaGetLastError();
}

cudaError_t launchMoeCombine(const float* yPerm, const int32_t* slotRows, const float* weights,
                             int64_t nTokens, int k, int64_t rows, float* y, int64_t yStride,
                             cudaStream_t stream) {
    if (nTokens <= 0) return cudaSuccess;
    combineKernel<<<unsigned(nTokens), 256, 0, stream>>>(yPerm, slotRows, weights, k, rows, y,
                                                         yStride);
    return cudaGetLastError();
}

}  // namespace consilium::cuda
