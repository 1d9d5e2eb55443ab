// Scaled dot-product attention over a KV cache, with grouped-query heads (GQA, Ainslie et
// al. 2023): query head h reads KV head h / (nHeads / nKvHeads).
//
// Layouts (float, row-major): q and out [nQ, nHeads * headDim]; k and v [nKv, nKvHeads *
// headDim] (a KV cache's rows 0..nKv-1, positions 0..nKv-1). Query i sits at position
// qPos0 + i.
//   causal:  query at position p sees keys j <= p;  window > 0 additionally limits it to
//            j > p - window (sliding-window attention, Mistral);  causal = false: every key
//            (cross-attention).
// probs, when not null, receives the attention weights [nQ, nHeads, nKv] (zeros where
// masked) — the explanations read these.
// scratch: attentionScratchFloats(...) floats. No allocation. Threads over heads.
#pragma once

#include <cstdint>

#include "kernels/cpu/matmul.h"

namespace consilium::kernels {

struct AttentionParams {
    int64_t nHeads = 1;
    int64_t nKvHeads = 1;
    int64_t headDim = 64;
    float scale = 0.125f;  // usually 1/sqrt(headDim)
    bool causal = true;
    int64_t window = 0;  // 0 = unlimited
};

int64_t attentionScratchFloats(const AttentionParams& p, int64_t nKv);

void attentionRef(const float* q, int64_t nQ, int64_t qPos0, const float* k, const float* v,
                  int64_t nKv, const AttentionParams& p, float* out, float* probs, float* scratch);
void attention(const float* q, int64_t nQ, int64_t qPos0, const float* k, const float* v,
               int64_t nKv, const AttentionParams& p, float* out, float* probs, float* scratch,
               ThreadPool* pool);

}  // namespace consilium::kernels
