// Token sampling from logits: greedy (temperature <= 0), or temperature, then top-k, then
// top-p (nucleus, Holtzman et al. 2019) over the softmax, drawn with a seeded generator.
// Buffers are allocated once for the vocabulary; sample() does not allocate.
// Thread safety: one sampler per generation.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace consilium::inference {

struct SamplerOptions {
    float temperature = 0.8f;  // <= 0: greedy
    int topK = 40;             // <= 0: all tokens
    float topP = 0.95f;        // >= 1: no nucleus cut
    uint64_t seed = 0;
};

class Sampler {
  public:
    Sampler(int64_t vocab, const SamplerOptions& options);
    int32_t sample(const float* logits);

  private:
    SamplerOptions m_options;
    std::vector<std::pair<float, int32_t>> m_candidates;
    std::mt19937_64 m_rng;
};

}  // namespace consilium::inference
