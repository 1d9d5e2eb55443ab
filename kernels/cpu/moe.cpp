#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"

namespace consilium::kernels {

// Mixtral routing (transformers MixtralSparseMoeBlock; llama.cpp build_moe_ffn with
// softmax gating and norm_w): p = softmax(logits); keep top-k; w = p_k / sum(p_k).
// Ties keep the lower expert id first.
void moeRoute(const float* logits, int nExperts, int k, int* ids, float* weights,
              bool renormalise) {
    float mx = -INFINITY;
    for (int e = 0; e < nExperts; ++e)
        mx = std::max(mx, logits[e]);
    double sum = 0.0;
    for (int e = 0; e < nExperts; ++e)
        sum += std::exp(double(logits[e] - mx));
    for (int j = 0; j < k; ++j) {
        int best = -1;
        for (int e = 0; e < nExperts; ++e) {
            bool taken = false;
            for (int q = 0; q < j; ++q)
                taken |= ids[q] == e;
            if (!taken && (best < 0 || logits[e] > logits[best])) best = e;
        }
        ids[j] = best;
        weights[j] = float(std::exp(double(logits[best] - mx)) / sum);
    }
    if (renormalise) {
        float s = 0.0f;
        for (int j = 0; j < k; ++j)
            s += weights[j];
        for (int j = 0; j < k; ++j)
            weights[j] /= s;
    }
}

void moeDispatch(const int* routes, int nTokens, int k, int nExperts, int* offsets,
                 int* tokenOrder) {
    for (int e = 0; e <= nExperts; ++e)
        offsets[e] = 0;
    for (int i = 0; i < nTokens * k; ++i)
        ++offsets[routes[i] + 1];
    for (int e = 0; e < nExperts; ++e)
        offsets[e + 1] += offsets[e];
    // Fill in token order with a moving cursor per expert (offsets[e] restored after).
    for (int i = 0; i < nTokens * k; ++i)
        tokenOrder[offsets[routes[i]]++] = i;
    for (int e = nExperts; e > 0; --e)
        offsets[e] = offsets[e - 1];
    offsets[0] = 0;
}

}  // namespace consilium::kernels
