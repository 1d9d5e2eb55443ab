// Rotary position embedding (Su et al. 2021) in place, as kernels::rope
// (kernels/cpu/rope.cpp, after ggml_compute_forward_rope_f32): theta_i = pos *
// base^(-2i/rotDims), Normal (GGML_ROPE_TYPE_NORM) or NeoX pairs. One thread block per
// row; threads take (head, pair) items. The fused form (rotation while appending to the
// paged KV cache) is in attention.cu.
#include "kernels/cuda/launchers.cuh"

namespace consilium::cuda {
namespace {

// ---- Kernels --------------------------------------------------------------------------

__global__ void ropeKernel(float* x, int64_t rowStride, int nHeads, int headDim, int rotDims,
                           float base, bool neox, int64_t pos0) {
    const int64_t row = blockIdx.x;
    const int half = rotDims / 2;
    for (int item = threadIdx.x; item < nHeads * half; item += blockDim.x) {
        const int h = item / half, i = item % half;
        ropePair(x + row * rowStride + int64_t(h) * headDim, pos0 + row, i, rotDims, base, neox);
    }
}

}  // namespace

// ---- Launcher -------------------------------------------------------------------------

cudaError_t launchRope(float* x, int64_t n, int64_t rowStride, int64_t nHeads, int64_t headDim,
                       int rotDims, float base, bool neox, int64_t pos0, cudaStream_t stream) {
    if (n <= 0 || nHeads <= 0 || rotDims <= 0) return cudaSuccess;
    ropeKernel<<<unsigned(n), 128, 0, stream>>>(x, rowStride, int(nHeads), int(headDim), rotDims,
                                                base, neox, pos0);
    return cudaGetLastError();
}

}  // namespace consilium::cuda
