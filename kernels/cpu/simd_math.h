// Internal to kernels/cpu: vector exp for the AVX-512 fast paths (softmax, SiLU, GeLU).
// Cephes-style range reduction exp(x) = 2^n * exp(r), r = x - n ln2, with a degree-6
// polynomial (as in ggml's ggml_v_expf idea and Cephes expf); max rel. error ~2e-7 on
// [-87, 88]; inputs below -87 give 0, above 88 give +inf.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

namespace consilium::kernels::simd {

__attribute__((target("avx512f,avx512dq,fma"))) inline __m512 exp512(__m512 x) {
    const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365478515625f);
    const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(p, n);
    return _mm512_maskz_mov_ps(__mmask16(~under), res);
}

}  // namespace consilium::kernels::simd
#endif
