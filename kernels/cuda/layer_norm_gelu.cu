// LayerNorm (Ba et al. 2016), GeLU (tanh form, Hendrycks & Gimpel 2016; ggml_gelu) and the
// fused residual add + LayerNorm + bias + GeLU. CPU references: kernels/cpu/norm.cpp
// (layerNormRef, layerNormGelu) and kernels/cpu/activation.cpp (geluRef).
//
// One thread block per row. The row (x + residual) is kept in shared memory when it fits
// (n <= kCacheFloats), so x and residual are read once and y written once: the kernel is
// bound by memory bandwidth. Rows whose length is a multiple of 4 move as float4. Mean and
// variance are two passes over that copy (as the CPU reference) for stability, each a
// block reduction (after ggml-cuda/norm.cu and llm.c's layernorm_forward; written here,
// not copied).
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

// Element operations on one float or four (float4 rows: 16-byte loads and stores when the
// row length is a multiple of 4 and every pointer is 16-byte aligned).
__device__ __forceinline__ float add(float a, float b) {
    return a + b;
}
__device__ __forceinline__ float mul(float a, float b) {
    return a * b;
}
__device__ __forceinline__ float sub(float a, float m) {
    return a - m;
}
__device__ __forceinline__ float scale(float a, float s) {
    return a * s;
}
__device__ __forceinline__ float hsum(float a) {
    return a;
}
__device__ __forceinline__ float gelu(float a) {
    return geluTanh(a);
}
__device__ __forceinline__ float4 add(float4 a, float4 b) {
    return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}
__device__ __forceinline__ float4 mul(float4 a, float4 b) {
    return make_float4(a.x * b.x, a.y * b.y, a.z * b.z, a.w * b.w);
}
__device__ __forceinline__ float4 sub(float4 a, float m) {
    return make_float4(a.x - m, a.y - m, a.z - m, a.w - m);
}
__device__ __forceinline__ float4 scale(float4 a, float s) {
    return make_float4(a.x * s, a.y * s, a.z * s, a.w * s);
}
__device__ __forceinline__ float hsum(float4 a) {
    return (a.x + a.y) + (a.z + a.w);
}
__device__ __forceinline__ float4 gelu(float4 a) {
    return make_float4(geluTanh(a.x), geluTanh(a.y), geluTanh(a.z), geluTanh(a.w));
}

// One block per row of n floats = nv elements of V.
template <typename V, bool kCache, bool kGelu>
__global__ void __launch_bounds__(kThreads)
    layerNormKernel(const V* x, const V* residual, const V* __restrict__ w, const V* __restrict__ b,
                    V* sumOut, V* y, int64_t nv, int64_t n, float eps) {
    extern __shared__ float4 cacheStorage[];  // [n floats] when kCache
    V* cache = reinterpret_cast<V*>(cacheStorage);
    __shared__ float partial[32];
    const int64_t row = blockIdx.x;
    const V* xr = x + row * nv;
    const V* rr = residual ? residual + row * nv : nullptr;
    V* yr = y + row * nv;
    V* hr = sumOut ? sumOut + row * nv : nullptr;

    // Outputs may alias inputs (same element, same thread): the second and third passes
    // read h back from the cache or from sumOut, which hold it, before y overwrites x.
    auto load = [&](int64_t i) { return rr ? add(xr[i], rr[i]) : xr[i]; };
    auto reload = [&](int64_t i) { return kCache ? cache[i] : (hr ? hr[i] : load(i)); };

    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
        const V h = load(i);
        if constexpr (kCache) cache[i] = h;
        if (hr) hr[i] = h;
        s += hsum(h);
    }
    const float mean = blockSum(s, partial) / float(n);
    float v = 0.0f;
    for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
        const V d = sub(reload(i), mean);
        v += hsum(mul(d, d));
    }
    const float inv = rsqrtf(blockSum(v, partial) / float(n) + eps);
    for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
        V o = scale(sub(reload(i), mean), inv);
        if (w) o = mul(o, w[i]);
        if (b) o = add(o, b[i]);
        yr[i] = kGelu ? gelu(o) : o;
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
    const size_t shared = n <= kCacheFloats ? size_t(n) * sizeof(float) : 0;
    auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
    const bool vec = n % 4 == 0 && aligned(x) && aligned(residual) && aligned(w) && aligned(b) &&
                     aligned(sumOut) && aligned(y);
    if (vec) {
        using V = float4;
        const auto* xv = reinterpret_cast<const V*>(x);
        const auto* rv = reinterpret_cast<const V*>(residual);
        const auto* wv = reinterpret_cast<const V*>(w);
        const auto* bv = reinterpret_cast<const V*>(b);
        auto* hv = reinterpret_cast<V*>(sumOut);
        auto* yv = reinterpret_cast<V*>(y);
        if (shared) {
            layerNormKernel<V, true, kGelu>
                <<<grid, kThreads, shared, stream>>>(xv, rv, wv, bv, hv, yv, n / 4, n, eps);
        } else {
            layerNormKernel<V, false, kGelu>
                <<<grid, kThreads, 0, stream>>>(xv, rv, wv, bv, hv, yv, n / 4, n, eps);
        }
    } else if (shared) {
        layerNormKernel<float, true, kGelu>
            <<<grid, kThreads, shared, stream>>>(x, residual, w, b, sumOut, y, n, n, eps);
    } else {
        layerNormKernel<float, false, kGelu>
            <<<grid, kThreads, 0, stream>>>(x, residual, w, b, sumOut, y, n, n, eps);
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
