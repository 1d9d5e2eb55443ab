#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd_math.h"

namespace consilium::kernels {
namespace {
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq,fma"))) void softmaxAvx512(float* x, int64_t n) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    float mx = _mm512_reduce_max_ps(m);
    for (; i < n; ++i)
        mx = std::max(mx, x[i]);
    const __m512 mv = _mm512_set1_ps(mx);
    __m512 acc = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = simd::exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    float sum = _mm512_reduce_add_ps(acc);
    for (; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    const __m512 iv = _mm512_set1_ps(inv);
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), iv));
    for (; i < n; ++i)
        x[i] *= inv;
}
#endif
}  // namespace

void softmaxRef(float* x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i)
        mx = std::max(mx, x[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = float(1.0 / sum);
    for (int64_t i = 0; i < n; ++i)
        x[i] *= inv;
}

void softmax(float* x, int64_t n) {
#if defined(__x86_64__)
    if (bestKernelPath() == KernelPath::Avx512) return softmaxAvx512(x, n);
#endif
    softmaxRef(x, n);
}

}  // namespace consilium::kernels
