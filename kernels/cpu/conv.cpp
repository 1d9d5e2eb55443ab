#include "kernels/cpu/ops.h"

namespace consilium::kernels {

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
