#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CONSILIUM_X86_KERNELS 1
#endif

namespace consilium::kernels {
namespace {

constexpr int kTileRows = 4;         // weight rows per micro-kernel
constexpr int kTileTokens = 4;       // tokens per micro-kernel
constexpr int64_t kTokenBlock = 64;  // tokens whose activations stay in L2 while rows stream

int64_t paddedCols(int64_t cols) {
    return (cols + 63) / 64 * 64;
}

// Activations quantised to blocks of 32: int8 values and one float scale per block.
struct QActs {
    int8_t* qs = nullptr;  // [nTokens][paddedCols(cols)]
    float* d = nullptr;    // [nTokens][cols / 32]
    int64_t cols = 0;
    // AVX-512 path only: per token and pair of blocks, the accumulator start value
    // (-offset * sum of each 4 activations, 16 x int32) and the two block scales (16 x float),
    // computed once per matmul instead of once per row tile.
    uint8_t* pre = nullptr;  // [nTokens][cols / 64][128 bytes]
    // AVX-512 path, GEMMs only: each whole group of 4 tokens repacked per block for the
    // lane-per-(row, token) kernel (LaneBlock); null when not built.
    uint8_t* lanes = nullptr;  // [nTokens / 4][cols / 32][sizeof(LaneBlock)]
    // AVX-512 path: per token and block, -offset * the sum of its 32 values.
    int32_t* bsum = nullptr;  // [nTokens][cols / 32]
    const int8_t* q(int64_t t) const { return qs + t * paddedCols(cols); }
    const int32_t* corr(int64_t t) const { return bsum + t * (cols / 32); }
    const float* s(int64_t t) const { return d + t * (cols / 32); }
    const uint8_t* p(int64_t t) const { return pre + t * (cols / 64) * 128; }
};

size_t preBytes(int64_t cols, int64_t nTokens) {
    return size_t(nTokens * (cols / 64) * 128);
}

// One block of 32 activations of 4 tokens, laid out for VPDPBUSD with one int32 lane per
// (weight row, token): group g holds bytes 4g..4g+3 of tokens 0..3, so a 128-bit broadcast
// gives every row's lane its token's 4 values.
struct LaneBlock {
    int8_t q[8][16];  // [group][token * 4 + byte]
    int32_t corr[4];  // per token: -offset * sum of the block's 32 values
    float d[4];       // per token: the block scale
};
static_assert(sizeof(LaneBlock) == 160);

// Rows r0..r0+3 against `count` groups of 4 tokens from group0 (tileLanesAvx512).
using LaneTile = void (*)(const MatrixView&, int64_t, const QActs&, int64_t, float*, int64_t);

size_t laneBytes(int64_t cols, int64_t nTokens) {
    return size_t((nTokens / 4) * (cols / 32)) * sizeof(LaneBlock);
}

QActs layoutActs(void* scratch, int64_t cols, int64_t nTokens) {
    QActs a;
    a.cols = cols;
    a.qs = static_cast<int8_t*>(scratch);
    a.d = reinterpret_cast<float*>(a.qs + nTokens * paddedCols(cols));
    const uintptr_t end = reinterpret_cast<uintptr_t>(a.d + nTokens * (cols / 32));
    a.pre = reinterpret_cast<uint8_t*>((end + 63) / 64 * 64);
    a.lanes = a.pre + preBytes(cols, nTokens);  // preBytes is a multiple of 64
    a.bsum = reinterpret_cast<int32_t*>(a.lanes + laneBytes(cols, nTokens));
    return a;
}

// Reference activation quantisation: ggml quantize_row_q8_0_ref, with the scale kept as a
// float and rounding to nearest-even (the fast path's rounding).
void quantizeActRef(const float* x, int8_t* q, float* d, int64_t cols) {
    for (int64_t b = 0; b < cols / 32; ++b) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j)
            amax = std::max(amax, std::fabs(x[b * 32 + j]));
        const float s = amax / 127.0f;
        const float id = s != 0.0f ? 1.0f / s : 0.0f;
        d[b] = s;
        for (int j = 0; j < 32; ++j)
            q[b * 32 + j] = int8_t(std::nearbyint(x[b * 32 + j] * id));
    }
}

float dotBlockQ4Ref(const BlockQ4_0& w, const int8_t* a, float ad) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) {
        sum += (int(w.qs[j] & 0xF) - 8) * a[j];
        sum += (int(w.qs[j] >> 4) - 8) * a[j + 16];
    }
    return float(sum) * fp16ToFloat(w.d) * ad;
}

float dotBlockQ8Ref(const BlockQ8_0& w, const int8_t* a, float ad) {
    int sum = 0;
    for (int j = 0; j < 32; ++j)
        sum += int(w.qs[j]) * a[j];
    return float(sum) * fp16ToFloat(w.d) * ad;
}

float weightAt(DType t, const uint8_t* row, int64_t c) {
    switch (t) {
        case DType::F32: {
            float v;
            std::memcpy(&v, row + c * 4, 4);
            return v;
        }
        case DType::F16: {
            uint16_t h;
            std::memcpy(&h, row + c * 2, 2);
            return fp16ToFloat(h);
        }
        case DType::BF16: {
            uint16_t h;
            std::memcpy(&h, row + c * 2, 2);
            return bf16ToFloat(h);
        }
        default:
            return 0.0f;
    }
}

// ---- Reference tiles ------------------------------------------------------------------

void tileRef(const MatrixView& w, int64_t r0, int rm, const float* x, int64_t xStride,
             const QActs& a, int64_t t0, int rn, float* y, int64_t yStride) {
    const int64_t nb = w.cols / 32;
    for (int r = 0; r < rm; ++r) {
        const uint8_t* row = w.row(r0 + r);
        for (int n = 0; n < rn; ++n) {
            const int64_t t = t0 + n;
            float sum = 0.0f;
            if (w.type == DType::Q4_0) {
                const auto* b = reinterpret_cast<const BlockQ4_0*>(row);
                for (int64_t k = 0; k < nb; ++k)
                    sum += dotBlockQ4Ref(b[k], a.q(t) + k * 32, a.s(t)[k]);
            } else if (w.type == DType::Q8_0) {
                const auto* b = reinterpret_cast<const BlockQ8_0*>(row);
                for (int64_t k = 0; k < nb; ++k)
                    sum += dotBlockQ8Ref(b[k], a.q(t) + k * 32, a.s(t)[k]);
            } else {
                const float* xt = x + t * xStride;
                for (int64_t c = 0; c < w.cols; ++c)
                    sum += weightAt(w.type, row, c) * xt[c];
            }
            y[t * yStride + r0 + r] = sum;
        }
    }
}

#ifdef CONSILIUM_X86_KERNELS

// ---- AVX2 + FMA + F16C ----------------------------------------------------------------
#define CONSILIUM_AVX2 __attribute__((target("avx2,fma,f16c")))

CONSILIUM_AVX2 inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

CONSILIUM_AVX2 void quantizeActAvx2(const float* x, int8_t* q, float* d, int64_t cols) {
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < cols / 32; ++b) {
        __m256 v[4];
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(x + b * 32 + i * 8);
            m = _mm256_max_ps(m, _mm256_andnot_ps(signBit, v[i]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float s = _mm_cvtss_f32(m4) / 127.0f;
        d[b] = s;
        const __m256 id = _mm256_set1_ps(s != 0.0f ? 1.0f / s : 0.0f);
        __m256i i32[4];
        for (int i = 0; i < 4; ++i) {
            i32[i] = _mm256_cvtps_epi32(_mm256_round_ps(
                _mm256_mul_ps(v[i], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        // Pack 4x8 int32 -> 32 int8 in order (packs interleave 128-bit lanes: fix with permute).
        __m256i p16a = _mm256_packs_epi32(i32[0], i32[1]);
        __m256i p16b = _mm256_packs_epi32(i32[2], i32[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * 32), p8);
    }
}

template <int RM, int RN>
CONSILIUM_AVX2 void tileQ4Avx2(const MatrixView& w, int64_t r0, const QActs& a, int64_t t0,
                               float* y, int64_t yStride) {
    const int64_t nb = w.cols / 32;
    const BlockQ4_0* rows[RM];
    for (int r = 0; r < RM; ++r)
        rows[r] = reinterpret_cast<const BlockQ4_0*>(w.row(r0 + r));
    __m256 acc[RM][RN];
    for (int r = 0; r < RM; ++r)
        for (int n = 0; n < RN; ++n)
            acc[r][n] = _mm256_setzero_ps();
    const __m256i low = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8),
                  ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        __m256i av[RN], corr[RN];
        float ad[RN];
        for (int n = 0; n < RN; ++n) {
            av[n] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q(t0 + n) + b * 32));
            corr[n] = _mm256_maddubs_epi16(eight, av[n]);  // 8 * a, pairwise: the -8 offset
            ad[n] = a.s(t0 + n)[b];
        }
        for (int r = 0; r < RM; ++r) {
            const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[r][b].qs));
            const __m256i wv = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), low);
            const float dw = _cvtsh_ss(rows[r][b].d);
            for (int n = 0; n < RN; ++n) {
                const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(wv, av[n]), corr[n]);
                const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
                acc[r][n] = _mm256_fmadd_ps(dot, _mm256_set1_ps(dw * ad[n]), acc[r][n]);
            }
        }
    }
    for (int r = 0; r < RM; ++r)
        for (int n = 0; n < RN; ++n)
            y[(t0 + n) * yStride + r0 + r] = hsum256(acc[r][n]);
}

template <int RM, int RN>
CONSILIUM_AVX2 void tileQ8Avx2(const MatrixView& w, int64_t r0, const QActs& a, int64_t t0,
                               float* y, int64_t yStride) {
    const int64_t nb = w.cols / 32;
    const BlockQ8_0* rows[RM];
    for (int r = 0; r < RM; ++r)
        rows[r] = reinterpret_cast<const BlockQ8_0*>(w.row(r0 + r));
    __m256 acc[RM][RN];
    for (int r = 0; r < RM; ++r)
        for (int n = 0; n < RN; ++n)
            acc[r][n] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        __m256i av[RN];
        float ad[RN];
        for (int n = 0; n < RN; ++n) {
            av[n] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q(t0 + n) + b * 32));
            ad[n] = a.s(t0 + n)[b];
        }
        for (int r = 0; r < RM; ++r) {
            const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[r][b].qs));
            const __m256i aw = _mm256_sign_epi8(wv, wv);  // |w|, as ggml's mul_sum_i8_pairs
            const float dw = _cvtsh_ss(rows[r][b].d);
            for (int n = 0; n < RN; ++n) {
                const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(av[n], wv));
                const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
                acc[r][n] = _mm256_fmadd_ps(dot, _mm256_set1_ps(dw * ad[n]), acc[r][n]);
            }
        }
    }
    for (int r = 0; r < RM; ++r)
        for (int n = 0; n < RN; ++n)
            y[(t0 + n) * yStride + r0 + r] = hsum256(acc[r][n]);
}

CONSILIUM_AVX2 inline __m256 load8Avx2(DType t, const uint8_t* p) {
    if (t == DType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (t == DType::F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

CONSILIUM_AVX2 void tileFloatAvx2(const MatrixView& w, int64_t r0, int rm, const float* x,
                                  int64_t xStride, int64_t t0, int rn, float* y, int64_t yStride) {
    const int es = w.type == DType::F32 ? 4 : 2;
    for (int r = 0; r < rm; ++r) {
        const uint8_t* row = w.row(r0 + r);
        for (int n = 0; n < rn; ++n) {
            const float* xt = x + (t0 + n) * xStride;
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
            int64_t c = 0;
            for (; c + 16 <= w.cols; c += 16) {
                acc0 =
                    _mm256_fmadd_ps(load8Avx2(w.type, row + c * es), _mm256_loadu_ps(xt + c), acc0);
                acc1 = _mm256_fmadd_ps(load8Avx2(w.type, row + (c + 8) * es),
                                       _mm256_loadu_ps(xt + c + 8), acc1);
            }
            float sum = hsum256(_mm256_add_ps(acc0, acc1));
            for (; c < w.cols; ++c)
                sum += weightAt(w.type, row, c) * xt[c];
            y[(t0 + n) * yStride + r0 + r] = sum;
        }
    }
}

// ---- AVX-512 (F, BW, VL, DQ) + VNNI ----------------------------------------------------
#define CONSILIUM_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

CONSILIUM_AVX512 void quantizeActAvx512(const float* x, int8_t* q, float* d, int64_t cols) {
    for (int64_t b = 0; b < cols / 32; ++b) {
        const __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
        const float amax =
            _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float s = amax / 127.0f;
        d[b] = s;
        const __m512 id = _mm512_set1_ps(s != 0.0f ? 1.0f / s : 0.0f);
        const __m512i i0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512i i1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * 32), _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * 32 + 16), _mm512_cvtsepi32_epi8(i1));
    }
}

// Two Q4_0 blocks -> 64 unsigned nibble values in element order [b0: 0..31 | b1: 0..31].
CONSILIUM_AVX512 inline __m512i unpackQ4Pair(const BlockQ4_0* b) {
    const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs));
    const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs));
    const __m512i v =
        _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_castsi128_si256(x0), x1, 1));
    const __m512i dup = _mm512_shuffle_i64x2(v, v, 0x50);  // [x0, x0, x1, x1]
    const __m512i low = _mm512_set1_epi8(0x0F);
    return _mm512_mask_blend_epi64(0xCC, _mm512_and_si512(dup, low),
                                   _mm512_and_si512(_mm512_srli_epi16(dup, 4), low));
}

CONSILIUM_AVX512 inline __m512 scalePair(float s0, float s1) {
    return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1);
}

// Fills QActs::pre for one token (see there).
CONSILIUM_AVX512 void precomputeAvx512(const QActs& a, int64_t t, bool q4) {
    const __m512i offset = _mm512_set1_epi8(q4 ? 8 : char(0x80));
    const __m512i zero = _mm512_setzero_si512();
    uint8_t* pre = a.pre + t * (a.cols / 64) * 128;
    int32_t* bsum = a.bsum + t * (a.cols / 32);
    int64_t b = 0;
    for (; b + 2 <= a.cols / 32; b += 2) {
        const __m512i av = _mm512_loadu_si512(a.q(t) + b * 32);
        const __m512i corr = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, offset, av));
        _mm512_store_si512(pre, corr);
        _mm512_store_ps(pre + 64, scalePair(a.s(t)[b], a.s(t)[b + 1]));
        bsum[b] = _mm512_mask_reduce_add_epi32(0x00FF, corr);
        bsum[b + 1] = _mm512_mask_reduce_add_epi32(0xFF00, corr);
        pre += 128;
    }
    for (; b < a.cols / 32; ++b) {
        int32_t sum = 0;
        for (int j = 0; j < 32; ++j)
            sum += a.q(t)[b * 32 + j];
        bsum[b] = -(q4 ? 8 : 128) * sum;
    }
}

// Integer dots with VPDPBUSD (u8 x s8): the weight operand is made unsigned (Q4_0: the raw
// nibble q = w + 8; Q8_0: w + 128) and the offset is removed by starting the accumulator at
// -offset * sum(a), itself a VPDPBUSD of a constant with the activations.
template <int RM, int RN, bool kQ4>
CONSILIUM_AVX512 void tileQuantAvx512(const MatrixView& w, int64_t r0, const QActs& a, int64_t t0,
                                      float* y, int64_t yStride) {
    const int64_t nb = w.cols / 32;
    const uint8_t* rows[RM];
    for (int r = 0; r < RM; ++r)
        rows[r] = w.row(r0 + r);
    __m512 acc[RM][RN];
    for (int r = 0; r < RM; ++r)
        for (int n = 0; n < RN; ++n)
            acc[r][n] = _mm512_setzero_ps();
    const __m512i offset = _mm512_set1_epi8(kQ4 ? 8 : char(0x80));
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i av[RN], corr[RN];
        __m512 as[RN];
        for (int n = 0; n < RN; ++n) {
            av[n] = _mm512_loadu_si512(a.q(t0 + n) + b * 32);
            const uint8_t* pre = a.p(t0 + n) + (b / 2) * 128;
            corr[n] = _mm512_load_si512(pre);
            as[n] = _mm512_load_ps(pre + 64);
        }
        for (int r = 0; r < RM; ++r) {
            __m512i wv;
            __m512 ws;
            if constexpr (kQ4) {
                const auto* blk = reinterpret_cast<const BlockQ4_0*>(rows[r]) + b;
                wv = unpackQ4Pair(blk);
                ws = scalePair(_cvtsh_ss(blk[0].d), _cvtsh_ss(blk[1].d));
            } else {
                const auto* blk = reinterpret_cast<const BlockQ8_0*>(rows[r]) + b;
                const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[0].qs));
                const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[1].qs));
                wv =
                    _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), offset);
                ws = scalePair(_cvtsh_ss(blk[0].d), _cvtsh_ss(blk[1].d));
            }
            for (int n = 0; n < RN; ++n) {
                const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr[n], wv, av[n]));
                acc[r][n] = _mm512_fmadd_ps(dot, _mm512_mul_ps(ws, as[n]), acc[r][n]);
            }
        }
    }
    for (int r = 0; r < RM; ++r) {
        for (int n = 0; n < RN; ++n) {
            float sum = _mm512_reduce_add_ps(acc[r][n]);
            for (int64_t k = b; k < nb; ++k) {
                const int8_t* aq = a.q(t0 + n) + k * 32;
                const float ad = a.s(t0 + n)[k];
                sum += kQ4 ? dotBlockQ4Ref(reinterpret_cast<const BlockQ4_0*>(rows[r])[k], aq, ad)
                           : dotBlockQ8Ref(reinterpret_cast<const BlockQ8_0*>(rows[r])[k], aq, ad);
            }
            y[(t0 + n) * yStride + r0 + r] = sum;
        }
    }
}

// Repacks tokens 4 * group .. 4 * group + 3 into LaneBlocks; the offset corrections are the
// per-block sums precomputeAvx512 already made (QActs::bsum).
void packLanes(const QActs& a, int64_t group) {
    const int64_t nb = a.cols / 32;
    auto* out = reinterpret_cast<LaneBlock*>(a.lanes) + group * nb;
    for (int64_t b = 0; b < nb; ++b) {
        LaneBlock& L = out[b];
        for (int n = 0; n < 4; ++n) {
            const int64_t t = group * 4 + n;
            for (int g = 0; g < 8; ++g)
                std::memcpy(&L.q[g][n * 4], a.q(t) + b * 32 + g * 4, 4);
            L.corr[n] = a.corr(t)[b];
            L.d[n] = a.s(t)[b];
        }
    }
}

// Rows r0..r0+3 against G groups of 4 tokens, one block at a time, with one int32 lane per
// (row, token): 128-bit lane r holds row r, its dword n token n. Per block, each row's 32
// unsigned weights are split into 8 dwords of 4; dword g is replicated across its lane
// (VPSHUFD) and VPDPBUSD multiplies it with the broadcast group g of the tokens' values. The
// integer dot of a whole block then sits in one lane, so the float work (convert, scale,
// accumulate) is done once per 16 (row, token) block dots instead of once per 16 partial
// sums, as in ggml's repacked Q4_0 GEMMs. Sums in the reference's order (block by block).
CONSILIUM_AVX512 inline __m512i broadcast128(const void* p) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}

// Four 16-byte slices into the four 128-bit lanes.
CONSILIUM_AVX512 inline __m512i gather128(const void* p0, const void* p1, const void* p2,
                                          const void* p3) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(static_cast<const __m128i*>(p0)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(static_cast<const __m128i*>(p1)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(static_cast<const __m128i*>(p2)), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128(static_cast<const __m128i*>(p3)), 3);
}

// Block b of rows[0..3] as unsigned weights, one row per 128-bit lane (lo: elements 0..15,
// hi: 16..31), and the rows' scales, each repeated over its lane.
template <bool kQ4>
CONSILIUM_AVX512 inline __m512 loadRows4(const uint8_t* const* rows, int64_t b, __m512i* lo,
                                         __m512i* hi) {
    using Block = std::conditional_t<kQ4, BlockQ4_0, BlockQ8_0>;
    const Block* blk[4];
    uint16_t h[4];
    for (int r = 0; r < 4; ++r) {
        blk[r] = reinterpret_cast<const Block*>(rows[r]) + b;
        std::memcpy(&h[r], &blk[r]->d, 2);
    }
    if constexpr (kQ4) {
        const __m512i low = _mm512_set1_epi8(0x0F);
        const __m512i v = gather128(blk[0]->qs, blk[1]->qs, blk[2]->qs, blk[3]->qs);
        *lo = _mm512_and_si512(v, low);
        *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    } else {
        const __m512i flip = _mm512_set1_epi8(char(0x80));  // w + 128, unsigned
        *lo = _mm512_xor_si512(gather128(blk[0]->qs, blk[1]->qs, blk[2]->qs, blk[3]->qs), flip);
        *hi = _mm512_xor_si512(
            gather128(blk[0]->qs + 16, blk[1]->qs + 16, blk[2]->qs + 16, blk[3]->qs + 16), flip);
    }
    const __m128 d4 =
        _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, short(h[3]), short(h[2]), short(h[1]), short(h[0])));
    const __m512i rowOfLane = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(rowOfLane, _mm512_castps128_ps512(d4));
}

// One token against rows r0..r0+3 (generation): 128-bit lane r holds row r, its dword j the
// products of elements 4j..4j+3 and 16+4j..16+4j+3, so a block takes two VPDPBUSD with the
// token's two halves broadcast, and one convert-scale-accumulate for the 4 rows; the
// offset correction enters through dword 0. The 4 partial sums of a row are added at the end.
template <bool kQ4>
CONSILIUM_AVX512 void tileLanesGemvAvx512(const MatrixView& w, int64_t r0, const QActs& a,
                                          int64_t t, float* y, int64_t yStride) {
    const int64_t nb = w.cols / 32;
    const uint8_t* rows[4];
    for (int r = 0; r < 4; ++r)
        rows[r] = w.row(r0 + r);
    const int8_t* aq = a.q(t);
    const float* as = a.s(t);
    const int32_t* corr = a.corr(t);
    __m512 acc = _mm512_setzero_ps();
    constexpr size_t kBlockBytes = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
    for (int64_t b = 0; b < nb; ++b) {
        // Weights stream from memory once: ask for them 1 KiB ahead on each row.
        if ((b & 1) == 0)
            for (int r = 0; r < 4; ++r)
                _mm_prefetch(
                    reinterpret_cast<const char*>(rows[r] + (b + 1024 / kBlockBytes) * kBlockBytes),
                    _MM_HINT_T0);
        __m512i lo, hi;
        const __m512 wd = loadRows4<kQ4>(rows, b, &lo, &hi);
        __m512i dot = _mm512_maskz_set1_epi32(0x1111, corr[b]);
        dot = _mm512_dpbusd_epi32(dot, lo, broadcast128(aq + b * 32));
        dot = _mm512_dpbusd_epi32(dot, hi, broadcast128(aq + b * 32 + 16));
        acc =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd, _mm512_set1_ps(as[b])), acc);
    }
    alignas(64) float out[16];
    _mm512_store_ps(out, acc);
    for (int r = 0; r < 4; ++r)
        y[t * yStride + r0 + r] = (out[r * 4] + out[r * 4 + 1]) + (out[r * 4 + 2] + out[r * 4 + 3]);
}

template <int G, bool kQ4>
CONSILIUM_AVX512 void tileLanesAvx512(const MatrixView& w, int64_t r0, const QActs& a,
                                      int64_t group0, float* y, int64_t yStride) {
    const int64_t nb = w.cols / 32;
    const uint8_t* rows[4];
    for (int r = 0; r < 4; ++r)
        rows[r] = w.row(r0 + r);
    const auto* lanes = reinterpret_cast<const LaneBlock*>(a.lanes);
    __m512 acc[G];
    for (int g = 0; g < G; ++g)
        acc[g] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        __m512i lo, hi;
        const __m512 wd = loadRows4<kQ4>(rows, b, &lo, &hi);
        const __m512i w0 = _mm512_shuffle_epi32(lo, _MM_PERM_AAAA);
        const __m512i w1 = _mm512_shuffle_epi32(lo, _MM_PERM_BBBB);
        const __m512i w2 = _mm512_shuffle_epi32(lo, _MM_PERM_CCCC);
        const __m512i w3 = _mm512_shuffle_epi32(lo, _MM_PERM_DDDD);
        const __m512i w4 = _mm512_shuffle_epi32(hi, _MM_PERM_AAAA);
        const __m512i w5 = _mm512_shuffle_epi32(hi, _MM_PERM_BBBB);
        const __m512i w6 = _mm512_shuffle_epi32(hi, _MM_PERM_CCCC);
        const __m512i w7 = _mm512_shuffle_epi32(hi, _MM_PERM_DDDD);
        for (int g = 0; g < G; ++g) {
            const LaneBlock& L = lanes[(group0 + g) * nb + b];
            __m512i dot = broadcast128(L.corr);
            dot = _mm512_dpbusd_epi32(dot, w0, broadcast128(L.q[0]));
            dot = _mm512_dpbusd_epi32(dot, w1, broadcast128(L.q[1]));
            dot = _mm512_dpbusd_epi32(dot, w2, broadcast128(L.q[2]));
            dot = _mm512_dpbusd_epi32(dot, w3, broadcast128(L.q[3]));
            dot = _mm512_dpbusd_epi32(dot, w4, broadcast128(L.q[4]));
            dot = _mm512_dpbusd_epi32(dot, w5, broadcast128(L.q[5]));
            dot = _mm512_dpbusd_epi32(dot, w6, broadcast128(L.q[6]));
            dot = _mm512_dpbusd_epi32(dot, w7, broadcast128(L.q[7]));
            const __m512 ad = _mm512_broadcast_f32x4(_mm_loadu_ps(L.d));
            acc[g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd, ad), acc[g]);
        }
    }
    for (int g = 0; g < G; ++g) {
        alignas(64) float out[16];
        _mm512_store_ps(out, acc[g]);
        for (int r = 0; r < 4; ++r)
            for (int n = 0; n < 4; ++n)
                y[((group0 + g) * 4 + n) * yStride + r0 + r] = out[r * 4 + n];
    }
}

template <bool kQ4>
constexpr LaneTile kLaneTiles[5] = {nullptr, tileLanesAvx512<1, kQ4>, tileLanesAvx512<2, kQ4>,
                                    tileLanesAvx512<3, kQ4>, tileLanesAvx512<4, kQ4>};

CONSILIUM_AVX512 inline __m512 load16Avx512(DType t, const uint8_t* p) {
    if (t == DType::F32) return _mm512_loadu_ps(reinterpret_cast<const float*>(p));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if (t == DType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

CONSILIUM_AVX512 void tileFloatAvx512(const MatrixView& w, int64_t r0, int rm, const float* x,
                                      int64_t xStride, int64_t t0, int rn, float* y,
                                      int64_t yStride) {
    const int es = w.type == DType::F32 ? 4 : 2;
    for (int r = 0; r < rm; ++r) {
        const uint8_t* row = w.row(r0 + r);
        for (int n = 0; n < rn; ++n) {
            const float* xt = x + (t0 + n) * xStride;
            __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
            int64_t c = 0;
            for (; c + 32 <= w.cols; c += 32) {
                acc0 = _mm512_fmadd_ps(load16Avx512(w.type, row + c * es), _mm512_loadu_ps(xt + c),
                                       acc0);
                acc1 = _mm512_fmadd_ps(load16Avx512(w.type, row + (c + 16) * es),
                                       _mm512_loadu_ps(xt + c + 16), acc1);
            }
            float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
            for (; c < w.cols; ++c)
                sum += weightAt(w.type, row, c) * xt[c];
            y[(t0 + n) * yStride + r0 + r] = sum;
        }
    }
}

// ---- AVX-512 BF16 (VDPBF16PS): BF16 weights against BF16-rounded activations ---------
#define CONSILIUM_AVX512BF16 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))

// Packs the already rounded activations (exact BF16 values held as float) to BF16, zero
// padded to paddedCols(cols).
CONSILIUM_AVX512BF16 void packBf16Avx512(const float* x, uint16_t* out, int64_t cols) {
    const int64_t pc = paddedCols(cols);
    for (int64_t c = 0; c < pc; c += 32) {
        const __mmask16 m0 = c >= cols        ? 0
                             : cols - c >= 16 ? 0xFFFF
                                              : __mmask16((1u << (cols - c)) - 1);
        const int64_t c1 = c + 16;
        const __mmask16 m1 = c1 >= cols        ? 0
                             : cols - c1 >= 16 ? 0xFFFF
                                               : __mmask16((1u << (cols - c1)) - 1);
        const __m512 lo = _mm512_maskz_loadu_ps(m0, x + c), hi = _mm512_maskz_loadu_ps(m1, x + c1);
        // Exact: the values are BF16 already, so the conversion's rounding never applies.
        _mm512_storeu_si512(out + c, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
}

// RM weight rows x RN tokens; 32 columns per VDPBF16PS, products exact in float32 (8-bit
// significands), summed in float32 as the other float paths sum.
template <int RM, int RN>
CONSILIUM_AVX512BF16 void tileBf16Avx512(const MatrixView& w, int64_t r0, const uint16_t* xb,
                                         int64_t t0, float* y, int64_t yStride) {
    const int64_t cols = w.cols, pc = paddedCols(cols);
    const uint16_t* rows[RM];
    for (int r = 0; r < RM; ++r)
        rows[r] = reinterpret_cast<const uint16_t*>(w.row(r0 + r));
    __m512 acc[RM][RN];
    for (int r = 0; r < RM; ++r)
        for (int n = 0; n < RN; ++n)
            acc[r][n] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        __m512bh a[RN];
        for (int n = 0; n < RN; ++n)
            a[n] = (__m512bh)_mm512_loadu_si512(xb + (t0 + n) * pc + c);
        for (int r = 0; r < RM; ++r) {
            const __m512bh wv = (__m512bh)_mm512_loadu_si512(rows[r] + c);
            for (int n = 0; n < RN; ++n)
                acc[r][n] = _mm512_dpbf16_ps(acc[r][n], wv, a[n]);
        }
    }
    if (c < cols) {
        // The weight row ends inside this group of 32: masked load; activations are padded.
        const __mmask32 m = __mmask32((uint64_t(1) << (cols - c)) - 1);
        __m512bh a[RN];
        for (int n = 0; n < RN; ++n)
            a[n] = (__m512bh)_mm512_loadu_si512(xb + (t0 + n) * pc + c);
        for (int r = 0; r < RM; ++r) {
            const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, rows[r] + c);
            for (int n = 0; n < RN; ++n)
                acc[r][n] = _mm512_dpbf16_ps(acc[r][n], wv, a[n]);
        }
    }
    for (int r = 0; r < RM; ++r)
        for (int n = 0; n < RN; ++n)
            y[(t0 + n) * yStride + r0 + r] = _mm512_reduce_add_ps(acc[r][n]);
}

#endif  // CONSILIUM_X86_KERNELS

// BF16 weights: the activations are rounded to BF16 first (round to nearest even), on every
// path, as ggml does for its BF16 dot products (ggml_vec_dot_bf16 takes BF16 activations);
// each product is then exact in float32, so the paths differ only in summation order.
struct Bf16Acts {
    float* rounded = nullptr;    // [nTokens][cols], exact BF16 values as float
    uint16_t* packed = nullptr;  // [nTokens][paddedCols(cols)], AVX-512 BF16 path only
};

Bf16Acts layoutBf16(void* scratch, int64_t cols, int64_t nTokens) {
    Bf16Acts b;
    const uintptr_t base = (reinterpret_cast<uintptr_t>(scratch) + 63) / 64 * 64;
    b.rounded = reinterpret_cast<float*>(base);
    const uintptr_t end = reinterpret_cast<uintptr_t>(b.rounded + nTokens * cols);
    b.packed = reinterpret_cast<uint16_t*>((end + 63) / 64 * 64);
    return b;
}

bool bf16DotUsable() {
    const CpuFeatures& f = cpuFeatures();
    return f.avx512bf16;
}

using QuantTile = void (*)(const MatrixView&, int64_t, const QActs&, int64_t, float*, int64_t);

struct QuantTiles {
    QuantTile t44 = nullptr, t41 = nullptr, t14 = nullptr, t11 = nullptr;
};

QuantTiles quantTiles(KernelPath path, DType t) {
    QuantTiles q;
#ifdef CONSILIUM_X86_KERNELS
    if (path == KernelPath::Avx512) {
        // 4 rows x 1 token (generation): the lane kernel.
        if (t == DType::Q4_0)
            return {tileQuantAvx512<4, 4, true>, tileLanesGemvAvx512<true>,
                    tileQuantAvx512<1, 4, true>, tileQuantAvx512<1, 1, true>};
        return {tileQuantAvx512<4, 4, false>, tileLanesGemvAvx512<false>,
                tileQuantAvx512<1, 4, false>, tileQuantAvx512<1, 1, false>};
    }
    if (path == KernelPath::Avx2) {
        if (t == DType::Q4_0)
            return {tileQ4Avx2<4, 4>, tileQ4Avx2<4, 1>, tileQ4Avx2<1, 4>, tileQ4Avx2<1, 1>};
        return {tileQ8Avx2<4, 4>, tileQ8Avx2<4, 1>, tileQ8Avx2<1, 4>, tileQ8Avx2<1, 1>};
    }
#endif
    (void)path;
    (void)t;
    return q;
}

}  // namespace

bool kernelPathUsable(KernelPath p) {
    const CpuFeatures& f = cpuFeatures();
    switch (p) {
        case KernelPath::Auto:
        case KernelPath::Reference:
            return true;
        case KernelPath::Avx2:
#ifdef CONSILIUM_X86_KERNELS
            return f.avx2 && f.fma && f.f16c;
#else
            return false;
#endif
        case KernelPath::Avx512:
#ifdef CONSILIUM_X86_KERNELS
            return f.avx512f && f.avx512dq && f.avx512bw && f.avx512vl && f.avx512vnni && f.fma &&
                   f.f16c && f.avx2;
#else
            return false;
#endif
    }
    return false;
}

KernelPath bestKernelPath() {
    static const KernelPath best = kernelPathUsable(KernelPath::Avx512) ? KernelPath::Avx512
                                   : kernelPathUsable(KernelPath::Avx2) ? KernelPath::Avx2
                                                                        : KernelPath::Reference;
    return best;
}

const char* kernelPathName(KernelPath p) {
    switch (p) {
        case KernelPath::Auto:
            return "auto";
        case KernelPath::Reference:
            return "reference";
        case KernelPath::Avx2:
            return "avx2";
        case KernelPath::Avx512:
            return "avx512";
    }
    return "?";
}

size_t matmulScratchBytes(DType weightType, int64_t cols, int64_t nTokens) {
    if (weightType == DType::BF16) {
        return 64 + size_t(nTokens * cols) * sizeof(float) + 64 +
               size_t(nTokens * paddedCols(cols)) * sizeof(uint16_t);
    }
    if (weightType != DType::Q4_0 && weightType != DType::Q8_0) return 0;
    return size_t(nTokens) * (size_t(paddedCols(cols)) + size_t(cols / 32) * sizeof(float)) + 64 +
           preBytes(cols, nTokens) + laneBytes(cols, nTokens) +
           size_t(nTokens * (cols / 32)) * sizeof(int32_t) + 64;
}

void matmul(const MatrixView& w, const float* x, int64_t nTokens, int64_t xStride, float* y,
            int64_t yStride, void* scratch, ThreadPool* pool, KernelPath path) {
    if (path == KernelPath::Auto || !kernelPathUsable(path)) path = bestKernelPath();
    const bool quant = w.type == DType::Q4_0 || w.type == DType::Q8_0;
    const int threads = pool ? pool->threads() : 1;
    QActs acts;
    if (quant) {
        acts = layoutActs(scratch, w.cols, nTokens);
        auto quantize = [&](int t) {
            int8_t* q = acts.qs + t * paddedCols(w.cols);
            float* d = acts.d + t * (w.cols / 32);
#ifdef CONSILIUM_X86_KERNELS
            if (path == KernelPath::Avx512) {
                quantizeActAvx512(x + t * xStride, q, d, w.cols);
                return precomputeAvx512(acts, t, w.type == DType::Q4_0);
            }
            if (path == KernelPath::Avx2) return quantizeActAvx2(x + t * xStride, q, d, w.cols);
#endif
            quantizeActRef(x + t * xStride, q, d, w.cols);
        };
        parallelFor(nTokens > 8 ? pool : nullptr, int(nTokens), quantize);
    }
    const QuantTiles qt = quant ? quantTiles(path, w.type) : QuantTiles{};
    // GEMMs on the AVX-512 path: whole groups of 4 tokens go through the lane kernels.
    const bool q4 = w.type == DType::Q4_0;
    int64_t laneGroups = 0;
    const LaneTile* laneTiles = nullptr;
#ifdef CONSILIUM_X86_KERNELS
    if (quant && path == KernelPath::Avx512 && nTokens >= 8) {
        laneGroups = nTokens / 4;
        laneTiles = q4 ? kLaneTiles<true> : kLaneTiles<false>;
        parallelFor(pool, int(laneGroups), [&](int g) { packLanes(acts, g); });
    }
#endif
    bool bf16Dot = false;
    const uint16_t* xb = nullptr;
    if (w.type == DType::BF16) {
        const Bf16Acts b = layoutBf16(scratch, w.cols, nTokens);
#ifdef CONSILIUM_X86_KERNELS
        bf16Dot = path == KernelPath::Avx512 && bf16DotUsable();
#endif
        auto round = [&](int t) {
            const float* src = x + t * xStride;
            float* dst = b.rounded + t * w.cols;
            for (int64_t c = 0; c < w.cols; ++c)
                dst[c] = bf16ToFloat(floatToBf16(src[c]));
#ifdef CONSILIUM_X86_KERNELS
            if (bf16Dot) packBf16Avx512(dst, b.packed + t * paddedCols(w.cols), w.cols);
#endif
        };
        parallelFor(nTokens > 8 ? pool : nullptr, int(nTokens), round);
        x = b.rounded;
        xStride = w.cols;
        xb = b.packed;
    }

    // Row chunks of whole tiles, many per thread: a thread the OS deschedules while it holds
    // a chunk (a shared machine) delays the matmul by one small chunk only.
    const int64_t rowTiles = (w.rows + kTileRows - 1) / kTileRows;
    const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(rowTiles, int64_t(threads) * 16));
    const int64_t tilesPerTask = (rowTiles + tasks - 1) / tasks;
    auto work = [&](int task) {
        const int64_t rBegin = int64_t(task) * tilesPerTask * kTileRows;
        const int64_t rEnd = std::min(w.rows, rBegin + tilesPerTask * kTileRows);
        for (int64_t tb = 0; tb < nTokens; tb += kTokenBlock) {
            const int64_t tEnd = std::min(nTokens, tb + kTokenBlock);
            for (int64_t r0 = rBegin; r0 < rEnd; r0 += kTileRows) {
                const int rm = int(std::min<int64_t>(kTileRows, rEnd - r0));
                int64_t tLanes = tb;  // tokens before this one went through the lane kernels
                if (laneTiles && rm == kTileRows) {
                    const int64_t gEnd = std::min(tEnd, laneGroups * 4) / 4;
                    for (int64_t g = tb / 4; g < gEnd; g += 4) {
                        const int count = int(std::min<int64_t>(4, gEnd - g));
                        laneTiles[count](w, r0, acts, g, y, yStride);
                    }
                    tLanes = std::max(tb, gEnd * 4);
                }
                for (int64_t t0 = tLanes; t0 < tEnd; t0 += kTileTokens) {
                    const int rn = int(std::min<int64_t>(kTileTokens, tEnd - t0));
                    if (path == KernelPath::Reference) {
                        tileRef(w, r0, rm, x, xStride, acts, t0, rn, y, yStride);
                    } else if (quant) {
                        if (rm == kTileRows && rn == kTileTokens) {
                            qt.t44(w, r0, acts, t0, y, yStride);
                        } else if (rm == kTileRows) {
                            for (int n = 0; n < rn; ++n)
                                qt.t41(w, r0, acts, t0 + n, y, yStride);
                        } else if (rn == kTileTokens) {
                            for (int r = 0; r < rm; ++r)
                                qt.t14(w, r0 + r, acts, t0, y, yStride);
                        } else {
                            for (int r = 0; r < rm; ++r)
                                for (int n = 0; n < rn; ++n)
                                    qt.t11(w, r0 + r, acts, t0 + n, y, yStride);
                        }
                    } else {
#ifdef CONSILIUM_X86_KERNELS
                        if (bf16Dot) {
                            if (rm == kTileRows && rn == kTileTokens) {
                                tileBf16Avx512<4, 4>(w, r0, xb, t0, y, yStride);
                            } else if (rm == kTileRows) {
                                for (int n = 0; n < rn; ++n)
                                    tileBf16Avx512<4, 1>(w, r0, xb, t0 + n, y, yStride);
                            } else if (rn == kTileTokens) {
                                for (int r = 0; r < rm; ++r)
                                    tileBf16Avx512<1, 4>(w, r0 + r, xb, t0, y, yStride);
                            } else {
                                for (int r = 0; r < rm; ++r)
                                    for (int n = 0; n < rn; ++n)
                                        tileBf16Avx512<1, 1>(w, r0 + r, xb, t0 + n, y, yStride);
                            }
                        } else if (path == KernelPath::Avx512) {
                            tileFloatAvx512(w, r0, rm, x, xStride, t0, rn, y, yStride);
                        } else {
                            tileFloatAvx2(w, r0, rm, x, xStride, t0, rn, y, yStride);
                        }
#endif
                    }
                }
            }
        }
    };
    parallelFor(pool, int(tasks), work);
}

}  // namespace consilium::kernels
