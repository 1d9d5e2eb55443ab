// LayerNorm (Ba et al. 2016), GeLU (tanh form, Hendrycks & Gimpel 2016; ggml_gelu) and the
// fused residual add + LayerNorm + bias + GeLU. CPU references: kernels/cpu/norm.cpp
// (layerNormRef, layerNormGelu) and kernels/cpu/activation.cpp (geluRef).
//
// One thread block per row. The row (x + residual) is kept in shared memory when it fits
// (n <= kCacheFloats), so x and residual are read once and y written once: the kernel is
// bound by memory bandwidth. Mean and variance are two passes over that copy (as the CPU
// reference) for stability, each a block reduction (after ggml-cuda/norm.cu and llm.c's
// layernorm_forward; written here, not copied).
#include "kernels/cuda/launchers.cuh"

namespace consilium::cuda {
namespace {

// ---- Kernels --------------------------------------------------------------------------

constexpr int kThreads = 256;
constexpr int kCacheFloats = 8192;  // 32 KiB of shared memory per block

__device__ __forceinline__ float geluTanh(float x) {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

// Sum over the block; every thread gets the result.
__device__ float blockSum(float v, float* shared) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    v = warpSum(v);
    __syncthreads();  // `shared` may still be read from a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < int(blockDim.x / 32) ? shared[lane] : 0.0f;
    return warpSum(v);
}

template <bool kCache, bool kGelu>
__global__ void __launch_bounds__(kThreads)
    layerNormKernel(const float* x, const float* residual, const float* __restrict__ w,
                    const float* __restrict__ b, float* sumOut, float* y, int64_t n, float eps) {
    extern __shared__ float cache[];  // [n] when kCache
    __shared__ float partial[32];
    const int64_t row = blockIdx.x;
    const float* xr = x + row * n;
    const float* rr = residual ? residual + row * n : nullptr;
    float* yr = y + row * n;
    float* hr = sumOut ? sumOut + row * n : nullptr;

    // Outputs may alias inputs (same element, same thread): the second and third passes
    // read h back from the cache or from sumOut, which hold it, before y overwrites x.
    auto load = [&](int64_t i) { return rr ? xr[i] + rr[i] : xr[i]; };
    auto reload = [&](int64_t i) { return kCache ? cache[i] : (hr ? hr[i] : load(i)); };

    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float h = load(i);
        if constexpr (kCache) cache[i] = h;
        if (hr) hr[i] = h;
        s += h;
    }
    const float mean = blockSum(s, partial) / float(n);
    float v = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float d = reload(i) - mean;
        v += d * d;
    }
    const float inv = rsqrtf(blockSum(v, partial) / float(n) + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        float o = (reload(i) - mean) * inv;
        if (w) o *= w[i];
        if (b) o += b[i];
        yr[i] = kGelu ? geluTanh(o) : o;
    }
}

__global__ void geluKernel(const float* x, float* y, int64_t count) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
         i += int64_t(gridDim.x) * blockDim.x) {
        y[i] = geluTanh(x[i]);
    }
}

// ---- Launchers ------------------------------------------------------------------------

template <bool kGelu>
cudaError_t launchRows(const float* x, const float* residual, const float* w, const float* b,
                       float* sumOut, float* y, int64_t rows, int64_t n, float eps,
                       cudaStream_t stream) {
    if (rows <= 0 || n <= 0) return cudaSuccess;
    // Rows are independent blocks; gridDim.x allows 2^31 - 1.
    const unsigned grid = unsigned(rows);
    if (n <= kCacheFloats) {
        layerNormKernel<true, kGelu><<<grid, kThreads, size_t(n) * sizeof(float), stream>>>(
            x, residual, w, b, sumOut, y, n, eps);
    } else {
        layerNormKernel<false, kGelu>
            <<<grid, kThreads, 0, stream>>>(x, residual, w, b, sumOut, y, n, eps);
    }
    return cudaGetLastError();
}

}  // namespace

cudaError_t launchLayerNorm(const float* x, const float* w, const float* b, float* y, int64_t rows,
                            int64_t n, float eps, cudaStream_t stream) {
    return launchRows<false>(x, nullptr, w, b, nullptr, y, rows, n, eps, stream);
}

cudaError_t launchLayerNormGelu(const float* x, const float* residual, const float* w,
                                const float* b, float* sumOut, float* y, int64_t rows, int64_t n,
                                float eps, cudaStream_t stream) {
    return launchRows<true>(x, residual, w, b, sumOut, y, rows, n, eps, stream);
}

cudaError_t launchGelu(const float* x, float* y, int64_t count, cudaStream_t stream) {
    if (count <= 0) return cudaSuccess;
    const int64_t blocks = (count + 255) / 256;
    geluKernel<<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(x, y, count);
    return cudaGetLastError();
}

}  // namespace consilium::cuda
