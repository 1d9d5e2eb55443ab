// Element-wise, normalisation, position and routing kernels on float rows.
//
// Ops on the hot path (norms, fused LayerNorm+GeLU, activations, softmax; attention in
// attention.h) have a plain reference (`...Ref`) and a dispatching fast entry point
// (AVX-512 where cpuFeatures() reports it usable, else the reference); tests/kernels
// compares them with per-op error limits. RoPE, MoE routing/dispatch, embedding lookup and
// conv1d are single plain implementations (negligible next to the matmuls), tested against
// direct formulas; patch embedding runs on the matmul kernels. Pointers may alias only where
// stated (in-place allowed: y == x). No allocation, no threads; callers split rows across a
// ThreadPool themselves.
#pragma once

#include <cstdint>

#include "kernels/cpu/matmul.h"

namespace consilium::kernels {

// ---- norm.cpp: y = x / sqrt(mean(x^2) + eps) * w (RMSNorm, Zhang & Sennrich 2019; as
// ggml_rms_norm followed by a multiply). y may alias x. w may be null (no scale).
void rmsNormRef(const float* x, const float* w, float* y, int64_t n, float eps);
void rmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);
// LayerNorm (Ba et al. 2016): y = (x - mean) / sqrt(var + eps) * w + b; w, b may be null.
void layerNormRef(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);
void layerNorm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);
// Fused LayerNorm followed by GeLU (tanh form): one pass over y instead of two. The
// unfused path (layerNorm then gelu) remains and is the reference.
void layerNormGelu(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);

// ---- activation.cpp
// GeLU, tanh approximation (Hendrycks & Gimpel 2016; ggml_gelu, PyTorch approximate="tanh").
void geluRef(const float* x, float* y, int64_t n);
void gelu(const float* x, float* y, int64_t n);
// SiLU: x * sigmoid(x).
void siluRef(const float* x, float* y, int64_t n);
void silu(const float* x, float* y, int64_t n);
// SwiGLU (Shazeer 2020): y = silu(gate) * up. y may alias gate or up.
void swigluRef(const float* gate, const float* up, float* y, int64_t n);
void swiglu(const float* gate, const float* up, float* y, int64_t n);

// ---- softmax.cpp: in place, numerically stable (max subtracted).
void softmaxRef(float* x, int64_t n);
void softmax(float* x, int64_t n);

// ---- rope.cpp: rotary position embedding (Su et al. 2021) of one token's heads in place.
// x is [nHeads, headDim]; only the first `rotDims` of each head rotate (rotDims <= headDim,
// even). theta_i = pos * base^(-2i/rotDims).
//   Normal (GGML_ROPE_TYPE_NORM, llama files): pairs (x[2i], x[2i+1]).
//   NeoX (GGML_ROPE_TYPE_NEOX, HF rotate_half): pairs (x[i], x[i + rotDims/2]).
enum class RopeStyle { Normal, Neox };
void rope(float* x, int64_t nHeads, int64_t headDim, int64_t rotDims, int64_t pos, float base,
          RopeStyle style);
// NeoX rotation of all headDim dimensions with precomputed cos/sin ([headDim/2] each, for this
// token's position): x'[i] = x[i] c_i - x[i+h] s_i, x'[i+h] = x[i] s_i + x[i+h] c_i. Callers
// that need angles in double precision (docs/MODEL.md section 4) build the table themselves.
void ropeNeoxTable(float* x, int64_t nHeads, int64_t headDim, const float* cos, const float* sin);

// ---- moe.cpp: top-k routing as Mixtral (softmax over all experts, keep the k largest,
// renormalise the kept weights to sum 1). ids/weights have k entries, largest first.
void moeRoute(const float* logits, int nExperts, int k, int* ids, float* weights,
              bool renormalise = true);
// Groups tokens by expert: for routes [nTokens][k], writes for each expert e the list of
// (token, slot) pairs in tokenOrder[offsets[e] .. offsets[e+1]). offsets has nExperts+1
// entries; tokenOrder has nTokens*k entries (token*k + slot).
void moeDispatch(const int* routes, int nTokens, int k, int nExperts, int* offsets,
                 int* tokenOrder);

// ---- embedding.cpp: y[i] = table row ids[i] as float (any DType, quantised rows included).
// Returns false (writes nothing for that row) when an id is outside [0, table.rows).
bool embeddingLookup(const MatrixView& table, const int32_t* ids, int64_t n, float* y);

// ---- conv.cpp
// 1-D convolution: x [cin, len] (channel-major), w [cout, cin, k], b [cout] or null,
// y [cout, outLen] with outLen = (len + 2*pad - k) / stride + 1.
void conv1dRef(const float* x, int64_t cin, int64_t len, const float* w, const float* b,
               int64_t cout, int64_t k, int64_t stride, int64_t pad, float* y);
// 3-D convolution with a 3x3x3 kernel and zero padding 1 on a channels-last map:
// x [D, H, W, cin], w [cout, cin*27] (element (c*3 + kz)*9 + ky*3 + kx), b [cout] or null,
// stride (sz, sy, sx); y [Do, Ho, Wo, cout] with Do = conv3x3x3OutSize(D, sz) = (D - 1)/sz + 1
// (alike Ho, Wo). conv3x3x3 repacks the weight into `scratch` (conv3x3x3ScratchBytes) and runs
// output rows on the pool, with AVX-512 or AVX2 where cout is a multiple of 16 or 8 (the path
// `path` resolves to); conv3x3x3Ref is the plain loop it is tested against.
inline int64_t conv3x3x3OutSize(int64_t in, int64_t stride) {
    return (in - 1) / stride + 1;
}
void conv3x3x3Ref(const float* x, int64_t D, int64_t H, int64_t W, int64_t cin, const float* w,
                  const float* b, int64_t cout, const int64_t stride[3], float* y);
size_t conv3x3x3ScratchBytes(int64_t cin, int64_t cout);
void conv3x3x3(const float* x, int64_t D, int64_t H, int64_t W, int64_t cin, const float* w,
               const float* b, int64_t cout, const int64_t stride[3], float* y, void* scratch,
               ThreadPool* pool, KernelPath path = KernelPath::Auto);
// Patch embedding (ViT): image [c, h, w] split into non-overlapping p x p patches in
// row-major patch order; each patch flattened as [c, p, p] and projected by `proj`
// ([dim, c*p*p], any DType) plus bias. y is [nPatches, dim]. scratch holds
// c*p*p*nPatches floats plus matmulScratchBytes(proj.type, c*p*p, nPatches).
void patchEmbed(const float* image, int64_t c, int64_t h, int64_t w, int64_t p,
                const MatrixView& proj, const float* bias, float* y, void* scratch,
                ThreadPool* pool);
size_t patchEmbedScratchBytes(int64_t c, int64_t h, int64_t w, int64_t p, DType projType);

}  // namespace consilium::kernels
