#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd_math.h"

namespace consilium::kernels {
namespace {

bool useAvx512() {
    return bestKernelPath() == KernelPath::Avx512;
}

inline float geluScalar(float x) {
    // ggml_gelu_f32: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

#if defined(__x86_64__)
#define CONSILIUM_AVX512 __attribute__((target("avx512f,avx512dq,fma")))

CONSILIUM_AVX512 void rmsNormAvx512(const float* x, const float* w, float* y, int64_t n,
                                    float eps) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        acc = _mm512_fmadd_ps(v, v, acc);
    }
    float ss = _mm512_reduce_add_ps(acc);
    for (; i < n; ++i)
        ss += x[i] * x[i];
    const float scale = 1.0f / std::sqrt(ss / float(n) + eps);
    const __m512 s = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), s);
        if (w) v = _mm512_mul_ps(v, _mm512_loadu_ps(w + i));
        _mm512_storeu_ps(y + i, v);
    }
    for (; i < n; ++i)
        y[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

// Mean and variance in two passes (as the reference) for stability.
CONSILIUM_AVX512 void meanVarAvx512(const float* x, int64_t n, float* mean, float* var) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + i));
    float s = _mm512_reduce_add_ps(acc);
    for (; i < n; ++i)
        s += x[i];
    const float m = s / float(n);
    const __m512 mv = _mm512_set1_ps(m);
    acc = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), mv);
        acc = _mm512_fmadd_ps(d, d, acc);
    }
    float v = _mm512_reduce_add_ps(acc);
    for (; i < n; ++i)
        v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = v / float(n);
}

CONSILIUM_AVX512 inline __m512 geluAvx512(__m512 x) {
    // tanh(u) = 1 - 2 / (exp(2u) + 1)
    const __m512 u =
        _mm512_mul_ps(_mm512_set1_ps(0.79788456080286535587989211986876f),
                      _mm512_mul_ps(x, _mm512_fmadd_ps(_mm512_set1_ps(0.044715f),
                                                       _mm512_mul_ps(x, x), _mm512_set1_ps(1.0f))));
    const __m512 e = simd::exp512(_mm512_add_ps(u, u));
    const __m512 t =
        _mm512_sub_ps(_mm512_set1_ps(1.0f),
                      _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x),
                         _mm512_add_ps(_mm512_set1_ps(1.0f), t));
}

template <bool kGelu>
CONSILIUM_AVX512 void layerNormAvx512(const float* x, const float* w, const float* b, float* y,
                                      int64_t n, float eps) {
    float mean, var;
    meanVarAvx512(x, n, &mean, &var);
    const float inv = 1.0f / std::sqrt(var + eps);
    const __m512 mv = _mm512_set1_ps(mean), iv = _mm512_set1_ps(inv);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv), iv);
        if (w) v = _mm512_mul_ps(v, _mm512_loadu_ps(w + i));
        if (b) v = _mm512_add_ps(v, _mm512_loadu_ps(b + i));
        if constexpr (kGelu) v = geluAvx512(v);
        _mm512_storeu_ps(y + i, v);
    }
    for (; i < n; ++i) {
        float v = (x[i] - mean) * inv * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
        y[i] = kGelu ? geluScalar(v) : v;
    }
}
#endif

}  // namespace

void rmsNormRef(const float* x, const float* w, float* y, int64_t n, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i)
        ss += double(x[i]) * x[i];
    const float scale = float(1.0 / std::sqrt(ss / double(n) + eps));
    for (int64_t i = 0; i < n; ++i)
        y[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void rmsNorm(const float* x, const float* w, float* y, int64_t n, float eps) {
#if defined(__x86_64__)
    if (useAvx512()) return rmsNormAvx512(x, w, y, n, eps);
#endif
    rmsNormRef(x, w, y, n, eps);
}

void layerNormRef(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i)
        s += x[i];
    const double mean = s / double(n);
    double v = 0.0;
    for (int64_t i = 0; i < n; ++i)
        v += (x[i] - mean) * (x[i] - mean);
    const float inv = float(1.0 / std::sqrt(v / double(n) + eps));
    for (int64_t i = 0; i < n; ++i) {
        y[i] = float(x[i] - mean) * inv * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}

void layerNorm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
#if defined(__x86_64__)
    if (useAvx512()) return layerNormAvx512<false>(x, w, b, y, n, eps);
#endif
    layerNormRef(x, w, b, y, n, eps);
}

void layerNormGelu(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
#if defined(__x86_64__)
    if (useAvx512()) return layerNormAvx512<true>(x, w, b, y, n, eps);
#endif
    layerNormRef(x, w, b, y, n, eps);
    for (int64_t i = 0; i < n; ++i)
        y[i] = geluScalar(y[i]);
}

}  // namespace consilium::kernels
