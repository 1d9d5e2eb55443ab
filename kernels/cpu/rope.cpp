#include <cmath>

#include "kernels/cpu/ops.h"

namespace consilium::kernels {

// ggml_compute_forward_rope_f32 (ggml/src/ggml-cpu/ops.cpp): theta_i = pos * base^(-2i/d),
// rotate_pairs for GGML_ROPE_TYPE_NORM on (x[2i], x[2i+1]), for NEOX on (x[i], x[i+d/2]).
void rope(float* x, int64_t nHeads, int64_t headDim, int64_t rotDims, int64_t pos, float base,
          RopeStyle style) {
    const int64_t half = rotDims / 2;
    for (int64_t i = 0; i < half; ++i) {
        const float theta = float(pos) * std::pow(base, -2.0f * float(i) / float(rotDims));
        const float c = std::cos(theta), s = std::sin(theta);
        for (int64_t h = 0; h < nHeads; ++h) {
            float* v = x + h * headDim;
            const int64_t a = style == RopeStyle::Normal ? 2 * i : i;
            const int64_t b = style == RopeStyle::Normal ? 2 * i + 1 : i + half;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void ropeNeoxTable(float* x, int64_t nHeads, int64_t headDim, const float* cos, const float* sin) {
    const int64_t half = headDim / 2;
    for (int64_t h = 0; h < nHeads; ++h) {
        float* v = x + h * headDim;
        for (int64_t i = 0; i < half; ++i) {
            const float x0 = v[i], x1 = v[i + half];
            v[i] = x0 * cos[i] - x1 * sin[i];
            v[i + half] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

}  // namespace consilium::kernels
