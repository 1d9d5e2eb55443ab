#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/ops.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace consilium::kernels {
namespace {

struct Span {
    int64_t begin, end;
};

Span visibleKeys(const AttentionParams& p, int64_t pos, int64_t nKv) {
    if (!p.causal) return {0, nKv};
    const int64_t end = std::min(nKv, pos + 1);
    const int64_t begin = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    return {begin, std::max(begin, end)};
}

using DotFn = float (*)(const float*, const float*, int64_t);
using AxpyFn = void (*)(float, const float*, float*, int64_t);

float dotRef(const float* a, const float* b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i)
        s += a[i] * b[i];
    return s;
}
void axpyRef(float a, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        y[i] += a * x[i];
}

#if defined(__x86_64__)
__attribute__((target("avx512f,fma"))) float dotAvx512(const float* a, const float* b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    float s = _mm512_reduce_add_ps(acc);
    for (; i < n; ++i)
        s += a[i] * b[i];
    return s;
}
__attribute__((target("avx512f,fma"))) void axpyAvx512(float a, const float* x, float* y,
                                                       int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i,
                         _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    }
    for (; i < n; ++i)
        y[i] += a * x[i];
}
#endif

// One query head over all queries.
void headAttention(int64_t h, const float* q, int64_t nQ, int64_t qPos0, const float* k,
                   const float* v, int64_t nKv, const AttentionParams& p, float* out, float* probs,
                   float* scores, DotFn dot, AxpyFn axpy, bool fastSoftmax) {
    const int64_t group = p.nHeads / p.nKvHeads;
    const int64_t kvh = h / group;
    const int64_t qStride = p.nHeads * p.headDim, kvStride = p.nKvHeads * p.headDim;
    for (int64_t i = 0; i < nQ; ++i) {
        const Span s = visibleKeys(p, qPos0 + i, nKv);
        const float* qi = q + i * qStride + h * p.headDim;
        float* oi = out + i * qStride + h * p.headDim;
        std::memset(oi, 0, size_t(p.headDim) * sizeof(float));
        const int64_t n = s.end - s.begin;
        for (int64_t j = s.begin; j < s.end; ++j) {
            scores[j - s.begin] = dot(qi, k + j * kvStride + kvh * p.headDim, p.headDim) * p.scale;
        }
        if (n > 0) {
            if (fastSoftmax) {
                softmax(scores, n);
            } else {
                softmaxRef(scores, n);
            }
        }
        for (int64_t j = s.begin; j < s.end; ++j)
            axpy(scores[j - s.begin], v + j * kvStride + kvh * p.headDim, oi, p.headDim);
        if (probs) {
            float* pr = probs + (i * p.nHeads + h) * nKv;
            std::fill(pr, pr + nKv, 0.0f);
            std::memcpy(pr + s.begin, scores, size_t(n) * sizeof(float));
        }
    }
}

}  // namespace

int64_t attentionScratchFloats(const AttentionParams& p, int64_t nKv) {
    return p.nHeads * nKv;
}

void attentionRef(const float* q, int64_t nQ, int64_t qPos0, const float* k, const float* v,
                  int64_t nKv, const AttentionParams& p, float* out, float* probs, float* scratch) {
    for (int64_t h = 0; h < p.nHeads; ++h) {
        headAttention(h, q, nQ, qPos0, k, v, nKv, p, out, probs, scratch, dotRef, axpyRef, false);
    }
}

void attention(const float* q, int64_t nQ, int64_t qPos0, const float* k, const float* v,
               int64_t nKv, const AttentionParams& p, float* out, float* probs, float* scratch,
               ThreadPool* pool) {
    DotFn dot = dotRef;
    AxpyFn axpy = axpyRef;
#if defined(__x86_64__)
    if (bestKernelPath() == KernelPath::Avx512) {
        dot = dotAvx512;
        axpy = axpyAvx512;
    }
#endif
    parallelFor(pool, int(p.nHeads), [&](int h) {
        headAttention(h, q, nQ, qPos0, k, v, nKv, p, out, probs, scratch + h * nKv, dot, axpy,
                      true);
    });
}

}  // namespace consilium::kernels
