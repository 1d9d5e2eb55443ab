// Matrix multiplication with F32/F16/BF16/Q8_0/Q4_0 weights: y = x W^T.
//
// W is [rows, cols] row-major in its DType's layout (kernels/cpu/dtype.h), one GGUF 2-D
// tensor with ne = {cols, rows}. x is [nTokens, cols] float, y is [nTokens, rows] float.
// With nTokens == 1 this is a GEMV (generation), otherwise a GEMM blocked for the caches
// (prompt processing).
//
// For Q8_0/Q4_0 weights the activations are first quantised to Q8_0-style blocks (one
// float scale per 32 values, round-to-nearest as ggml's quantize_row_q8_0) and the dot
// products run in integers, scaled per block as ggml's ggml_vec_dot_q4_0_q8_0 /
// ggml_vec_dot_q8_0_q8_0 (ggml/src/ggml-cpu/arch/x86/quants.c).
//
// For BF16 weights the activations are first rounded to BF16 (round to nearest even), as
// ggml's BF16 dot products take BF16 activations; every product is then exact in float32.
// Where the CPU has AVX512_BF16, the Avx512 path multiplies with VDPBF16PS.
//
// Paths: Reference (plain scalar C++), Avx2 (AVX2+FMA+F16C), Avx512 (AVX-512 F/BW/VL/DQ and
// VNNI for the integer dots). Auto picks the best path that cpuFeatures() reports usable.
// On Avx512, Q8_0/Q4_0 keep one int32 lane per (weight row, token) so a whole block's dot
// lands in one lane: prompts (>= 8 tokens) repack groups of 4 tokens per block, generation
// uses 4 rows x 1 token tiles; the float scaling is then done once per 16 block dots.
// Reference and fast paths of the quantised types compute the same integer dots; results
// differ only in float summation order.
//
// Memory: no allocation; `scratch` must hold matmulScratchBytes(type, cols, nTokens).
// Thread safety: re-entrant; work is split over `pool` (may be null = calling thread).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/dtype.h"
#include "kernels/cpu/thread_pool.h"

namespace consilium::kernels {

enum class KernelPath { Auto, Reference, Avx2, Avx512 };

// The path Auto resolves to on this machine.
KernelPath bestKernelPath();
const char* kernelPathName(KernelPath p);
// True when this machine can run `p`.
bool kernelPathUsable(KernelPath p);

struct MatrixView {
    DType type = DType::F32;
    const void* data = nullptr;  // rows * rowBytes bytes
    int64_t rows = 0;            // output features
    int64_t cols = 0;            // input features; multiple of 32 for Q8_0/Q4_0
    size_t rowBytes = 0;         // dtypeRowBytes(type, cols) for a dense matrix

    const uint8_t* row(int64_t r) const {
        return static_cast<const uint8_t*>(data) + size_t(r) * rowBytes;
    }
};

size_t matmulScratchBytes(DType weightType, int64_t cols, int64_t nTokens);

// y[t * yStride + r] = sum_c W[r, c] * x[t * xStride + c], for t < nTokens, r < rows.
void matmul(const MatrixView& w, const float* x, int64_t nTokens, int64_t xStride, float* y,
            int64_t yStride, void* scratch, ThreadPool* pool, KernelPath path = KernelPath::Auto);

}  // namespace consilium::kernels
