#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"

namespace consilium::kernels {
namespace {

constexpr int64_t kTaps = 27;

// One output row (z, y) of conv3x3x3: for each x, acc[cout] = b + sum over valid taps and
// channels of x[...][c] * wt[(tap*cin + c)*cout ...] (wt repacked [27][cin][cout]).
struct ConvRow {
    const float* x;
    int64_t D, H, W, cin;
    const float* wt;
    const float* b;
    int64_t cout, sz, sy, sx, Wo;
};

// Taps of output voxel (z, y, x) inside the map: their indices and input offsets (in floats).
inline int validTaps(const ConvRow& r, int64_t z, int64_t y, int64_t x, int* taps,
                     int64_t* offsets) {
    int n = 0;
    for (int64_t kz = 0; kz < 3; ++kz) {
        const int64_t iz = z * r.sz + kz - 1;
        if (iz < 0 || iz >= r.D) continue;
        for (int64_t ky = 0; ky < 3; ++ky) {
            const int64_t iy = y * r.sy + ky - 1;
            if (iy < 0 || iy >= r.H) continue;
            for (int64_t kx = 0; kx < 3; ++kx) {
                const int64_t ix = x * r.sx + kx - 1;
                if (ix < 0 || ix >= r.W) continue;
                taps[n] = int((kz * 3 + ky) * 3 + kx);
                offsets[n] = ((iz * r.H + iy) * r.W + ix) * r.cin;
                ++n;
            }
        }
    }
    return n;
}

void convRowPlain(const ConvRow& r, int64_t z, int64_t y, float* out) {
    int taps[kTaps];
    int64_t offsets[kTaps];
    for (int64_t x = 0; x < r.Wo; ++x) {
        float* acc = out + x * r.cout;
        for (int64_t o = 0; o < r.cout; ++o)
            acc[o] = r.b ? r.b[o] : 0.f;
        const int n = validTaps(r, z, y, x, taps, offsets);
        for (int t = 0; t < n; ++t) {
            const float* src = r.x + offsets[t];
            const float* wt = r.wt + int64_t(taps[t]) * r.cin * r.cout;
            for (int64_t c = 0; c < r.cin; ++c) {
                const float v = src[c];
                const float* wr = wt + c * r.cout;
                for (int64_t o = 0; o < r.cout; ++o)
                    acc[o] += v * wr[o];
            }
        }
    }
}

#if defined(__x86_64__)
// cout = 16*N (N <= 4): N accumulators in registers per output voxel.
template <int N>
__attribute__((target("avx512f,fma"))) void convRowAvx512(const ConvRow& r, int64_t z, int64_t y,
                                                          float* out) {
    int taps[kTaps];
    int64_t offsets[kTaps];
    for (int64_t x = 0; x < r.Wo; ++x) {
        __m512 acc[N];
        for (int j = 0; j < N; ++j)
            acc[j] = r.b ? _mm512_loadu_ps(r.b + 16 * j) : _mm512_setzero_ps();
        const int n = validTaps(r, z, y, x, taps, offsets);
        for (int t = 0; t < n; ++t) {
            const float* src = r.x + offsets[t];
            const float* wt = r.wt + int64_t(taps[t]) * r.cin * r.cout;
            for (int64_t c = 0; c < r.cin; ++c) {
                const __m512 v = _mm512_set1_ps(src[c]);
                for (int j = 0; j < N; ++j)
                    acc[j] = _mm512_fmadd_ps(v, _mm512_loadu_ps(wt + c * r.cout + 16 * j), acc[j]);
            }
        }
        for (int j = 0; j < N; ++j)
            _mm512_storeu_ps(out + x * r.cout + 16 * j, acc[j]);
    }
}

// cout = 8*N (N <= 4).
template <int N>
__attribute__((target("avx2,fma"))) void convRowAvx2(const ConvRow& r, int64_t z, int64_t y,
                                                     float* out) {
    int taps[kTaps];
    int64_t offsets[kTaps];
    for (int64_t x = 0; x < r.Wo; ++x) {
        __m256 acc[N];
        for (int j = 0; j < N; ++j)
            acc[j] = r.b ? _mm256_loadu_ps(r.b + 8 * j) : _mm256_setzero_ps();
        const int n = validTaps(r, z, y, x, taps, offsets);
        for (int t = 0; t < n; ++t) {
            const float* src = r.x + offsets[t];
            const float* wt = r.wt + int64_t(taps[t]) * r.cin * r.cout;
            for (int64_t c = 0; c < r.cin; ++c) {
                const __m256 v = _mm256_set1_ps(src[c]);
                for (int j = 0; j < N; ++j)
                    acc[j] = _mm256_fmadd_ps(v, _mm256_loadu_ps(wt + c * r.cout + 8 * j), acc[j]);
            }
        }
        for (int j = 0; j < N; ++j)
            _mm256_storeu_ps(out + x * r.cout + 8 * j, acc[j]);
    }
}
#endif

using RowFn = void (*)(const ConvRow&, int64_t, int64_t, float*);

RowFn pickRow(int64_t cout, KernelPath path) {
#if defined(__x86_64__)
    if (path == KernelPath::Avx512 && cout % 16 == 0 && cout <= 64) {
        switch (cout / 16) {
            case 1:
                return convRowAvx512<1>;
            case 2:
                return convRowAvx512<2>;
            case 3:
                return convRowAvx512<3>;
            default:
                return convRowAvx512<4>;
        }
    }
    if ((path == KernelPath::Avx512 || path == KernelPath::Avx2) && cout % 8 == 0 && cout <= 32) {
        switch (cout / 8) {
            case 1:
                return convRowAvx2<1>;
            case 2:
                return convRowAvx2<2>;
            case 3:
                return convRowAvx2<3>;
            default:
                return convRowAvx2<4>;
        }
    }
#else
    (void)cout;
    (void)path;
#endif
    return convRowPlain;
}

}  // namespace

void conv3x3x3Ref(const float* x, int64_t D, int64_t H, int64_t W, int64_t cin, const float* w,
                  const float* b, int64_t cout, const int64_t stride[3], float* y) {
    const int64_t Do = conv3x3x3OutSize(D, stride[0]), Ho = conv3x3x3OutSize(H, stride[1]),
                  Wo = conv3x3x3OutSize(W, stride[2]);
    for (int64_t z = 0; z < Do; ++z)
        for (int64_t yy = 0; yy < Ho; ++yy)
            for (int64_t xx = 0; xx < Wo; ++xx)
                for (int64_t o = 0; o < cout; ++o) {
                    double s = b ? b[o] : 0.0;
                    for (int64_t c = 0; c < cin; ++c)
                        for (int64_t kz = 0; kz < 3; ++kz)
                            for (int64_t ky = 0; ky < 3; ++ky)
                                for (int64_t kx = 0; kx < 3; ++kx) {
                                    const int64_t iz = z * stride[0] + kz - 1,
                                                  iy = yy * stride[1] + ky - 1,
                                                  ix = xx * stride[2] + kx - 1;
                                    if (iz < 0 || iz >= D || iy < 0 || iy >= H || ix < 0 || ix >= W)
                                        continue;
                                    s += double(
                                             w[o * cin * kTaps + (c * 3 + kz) * 9 + ky * 3 + kx]) *
                                         x[((iz * H + iy) * W + ix) * cin + c];
                                }
                    y[((z * Ho + yy) * Wo + xx) * cout + o] = float(s);
                }
}

size_t conv3x3x3ScratchBytes(int64_t cin, int64_t cout) {
    return size_t(kTaps * cin * cout) * sizeof(float);
}

void conv3x3x3(const float* x, int64_t D, int64_t H, int64_t W, int64_t cin, const float* w,
               const float* b, int64_t cout, const int64_t stride[3], float* y, void* scratch,
               ThreadPool* pool, KernelPath path) {
    float* wt = static_cast<float*>(scratch);
    for (int64_t o = 0; o < cout; ++o)
        for (int64_t c = 0; c < cin; ++c)
            for (int64_t t = 0; t < kTaps; ++t)
                wt[(t * cin + c) * cout + o] = w[(o * cin + c) * kTaps + t];
    const ConvRow r{x, D,    H,         W,         cin,       wt,
                    b, cout, stride[0], stride[1], stride[2], conv3x3x3OutSize(W, stride[2])};
    const int64_t Do = conv3x3x3OutSize(D, stride[0]), Ho = conv3x3x3OutSize(H, stride[1]);
    if (path == KernelPath::Auto || !kernelPathUsable(path)) path = bestKernelPath();
    const RowFn row = pickRow(cout, path);
    auto task = [&](int i) {
        const int64_t z = i / Ho, yy = i % Ho;
        row(r, z, yy, y + (z * Ho + yy) * r.Wo * cout);
    };
    if (pool) {
        pool->parallelFor(int(Do * Ho), task);
    } else {
        for (int64_t i = 0; i < Do * Ho; ++i)
            task(int(i));
    }
}

void conv1dRef(const float* x, int64_t cin, int64_t len, const float* w, const float* b,
               int64_t cout, int64_t k, int64_t stride, int64_t pad, float* y) {
    const int64_t outLen = (len + 2 * pad - k) / stride + 1;
    for (int64_t o = 0; o < cout; ++o) {
        for (int64_t t = 0; t < outLen; ++t) {
            float s = b ? b[o] : 0.0f;
            for (int64_t c = 0; c < cin; ++c) {
                for (int64_t j = 0; j < k; ++j) {
                    const int64_t pos = t * stride - pad + j;
                    if (pos >= 0 && pos < len) s += w[(o * cin + c) * k + j] * x[c * len + pos];
                }
            }
            y[o * outLen + t] = s;
        }
    }
}

size_t patchEmbedScratchBytes(int64_t c, int64_t h, int64_t w, int64_t p, DType projType) {
    const int64_t nPatches = (h / p) * (w / p);
    const int64_t k = c * p * p;
    return size_t(nPatches * k) * sizeof(float) + matmulScratchBytes(projType, k, nPatches) + 64;
}

// im2col of non-overlapping patches, then one matmul (the ViT patch embedding, a
// stride-p convolution).
void patchEmbed(const float* image, int64_t c, int64_t h, int64_t w, int64_t p,
                const MatrixView& proj, const float* bias, float* y, void* scratch,
                ThreadPool* pool) {
    const int64_t ph = h / p, pw = w / p, k = c * p * p;
    float* cols = static_cast<float*>(scratch);
    for (int64_t py = 0; py < ph; ++py) {
        for (int64_t px = 0; px < pw; ++px) {
            float* dst = cols + (py * pw + px) * k;
            for (int64_t ch = 0; ch < c; ++ch)
                for (int64_t yy = 0; yy < p; ++yy)
                    for (int64_t xx = 0; xx < p; ++xx)
                        dst[(ch * p + yy) * p + xx] =
                            image[(ch * h + py * p + yy) * w + px * p + xx];
        }
    }
    const int64_t n = ph * pw;
    void* mmScratch = reinterpret_cast<uint8_t*>(cols + n * k);
    matmul(proj, cols, n, k, y, proj.rows, mmScratch, pool);
    if (bias) {
        for (int64_t i = 0; i < n; ++i)
            for (int64_t d = 0; d < proj.rows; ++d)
                y[i * proj.rows + d] += bias[d];
    }
}

}  // namespace consilium::kernels
