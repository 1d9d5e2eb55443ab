#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd_math.h"

namespace consilium::kernels {
namespace {

#if defined(__x86_64__)
#define CONSILIUM_AVX512 __attribute__((target("avx512f,avx512dq,fma")))

CONSILIUM_AVX512 inline __m512 siluAvx512(__m512 x) {
    const __m512 e = simd::exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

CONSILIUM_AVX512 void siluAvx512Row(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, siluAvx512(_mm512_loadu_ps(x + i)));
    if (i < n) siluRef(x + i, y + i, n - i);
}

CONSILIUM_AVX512 void swigluAvx512Row(const float* g, const float* u, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i,
                         _mm512_mul_ps(siluAvx512(_mm512_loadu_ps(g + i)), _mm512_loadu_ps(u + i)));
    }
    if (i < n) swigluRef(g + i, u + i, y + i, n - i);
}

CONSILIUM_AVX512 void geluAvx512Row(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        const __m512 u = _mm512_mul_ps(
            _mm512_set1_ps(0.79788456080286535587989211986876f),
            _mm512_mul_ps(v, _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), _mm512_mul_ps(v, v),
                                             _mm512_set1_ps(1.0f))));
        const __m512 e = simd::exp512(_mm512_add_ps(u, u));
        const __m512 t = _mm512_sub_ps(
            _mm512_set1_ps(1.0f),
            _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
                                              _mm512_add_ps(_mm512_set1_ps(1.0f), t)));
    }
    if (i < n) geluRef(x + i, y + i, n - i);
}
#endif

bool useAvx512() {
    return bestKernelPath() == KernelPath::Avx512;
}

}  // namespace

void geluRef(const float* x, float* y, int64_t n) {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + 0.044715f * v * v)));
    }
}

void gelu(const float* x, float* y, int64_t n) {
#if defined(__x86_64__)
    if (useAvx512()) return geluAvx512Row(x, y, n);
#endif
    geluRef(x, y, n);
}

void siluRef(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void silu(const float* x, float* y, int64_t n) {
#if defined(__x86_64__)
    if (useAvx512()) return siluAvx512Row(x, y, n);
#endif
    siluRef(x, y, n);
}

void swigluRef(const float* gate, const float* up, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        y[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void swiglu(const float* gate, const float* up, float* y, int64_t n) {
#if defined(__x86_64__)
    if (useAvx512()) return swigluAvx512Row(gate, up, y, n);
#endif
    swigluRef(gate, up, y, n);
}

}  // namespace consilium::kernels
