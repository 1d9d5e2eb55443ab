#include "inference/sampler.h"

#include <algorithm>
#include <cmath>

namespace consilium::inference {

Sampler::Sampler(int64_t vocab, const SamplerOptions& options)
    : m_options(options), m_candidates(size_t(vocab)), m_rng(options.seed) {}

int32_t Sampler::sample(const float* logits) {
    const int64_t n = int64_t(m_candidates.size());
    if (m_options.temperature <= 0.0f) {
        return int32_t(std::max_element(logits, logits + n) - logits);
    }
    for (int64_t i = 0; i < n; ++i)
        m_candidates[size_t(i)] = {logits[i], int32_t(i)};
    const int64_t k = m_options.topK > 0 ? std::min<int64_t>(m_options.topK, n) : n;
    auto greater = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    std::partial_sort(m_candidates.begin(), m_candidates.begin() + k, m_candidates.end(), greater);
    const float maxLogit = m_candidates[0].first;
    double sum = 0.0;
    for (int64_t i = 0; i < k; ++i) {
        const float p =
            std::exp((m_candidates[size_t(i)].first - maxLogit) / m_options.temperature);
        m_candidates[size_t(i)].first = p;
        sum += p;
    }
    int64_t keep = k;
    if (m_options.topP < 1.0f) {
        double cum = 0.0;
        for (int64_t i = 0; i < k; ++i) {
            cum += m_candidates[size_t(i)].first / sum;
            if (cum >= m_options.topP) {
                keep = i + 1;
                break;
            }
        }
    }
    double keptSum = 0.0;
    for (int64_t i = 0; i < keep; ++i)
        keptSum += m_candidates[size_t(i)].first;
    const double u = std::uniform_real_distribution<double>(0.0, keptSum)(m_rng);
    double acc = 0.0;
    for (int64_t i = 0; i < keep; ++i) {
        acc += m_candidates[size_t(i)].first;
        if (u < acc) return m_candidates[size_t(i)].second;
    }
    return m_candidates[size_t(keep - 1)].second;
}

}  // namespace consilium::inference
