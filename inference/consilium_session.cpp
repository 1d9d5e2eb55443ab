#include "inference/consilium_session.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace consilium::inference {
namespace {

double sigmoid(double x) {
    return 1.0 / (1.0 + std::exp(-x));
}

double msSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

template <typename T>
int argmax(const T* v, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

}  // namespace

std::array<double, 3> consiliumPatchCentre(const ConsiliumConfig& c, int64_t p, const float* o) {
    const int64_t ny = c.ny(), nx = c.nx();
    const int64_t pz = p / (ny * nx), py = (p / nx) % ny, px = p % nx;
    const double pd = double(c.patch[0]), ph = double(c.patch[1]), pw = double(c.patch[2]);
    return {double(pz) * pd + sigmoid(o[1]) * pd - 0.5, double(py) * ph + sigmoid(o[2]) * ph - 0.5,
            double(px) * pw + sigmoid(o[3]) * pw - 0.5};
}

Result<std::shared_ptr<ConsiliumEngine>> ConsiliumEngine::open(const std::string& path) {
    auto store = WeightStore::open(path);
    if (!store) return store.error();
    auto model = ConsiliumModel::load(std::shared_ptr<WeightStore>(std::move(store.value())));
    if (!model) return model.error();
    auto tok = ConsiliumTokenizer::create(model.value()->tokenizerModel(), model.value()->config());
    if (!tok) return makeError(tok.error().code, path + ": " + tok.error().message);
    auto e = std::shared_ptr<ConsiliumEngine>(new ConsiliumEngine());
    e->m_path = path;
    e->m_model = model.value();
    e->m_tokenizer = std::move(tok.value());
    return e;
}

Result<std::unique_ptr<ConsiliumSession>> ConsiliumSession::create(
    std::shared_ptr<const ConsiliumEngine> engine, const ConsiliumSessionOptions& options) {
    std::unique_ptr<ConsiliumSession> s(new ConsiliumSession());
    s->m_engine = engine;
    s->m_options = options;
    ConsiliumLimits lim = options.limits;
    if (options.maxAnswerTokens > 0) lim.maxAnswerTokens = options.maxAnswerTokens;
    auto g = ConsiliumGraph::create(engine->modelPtr(), lim, options.cpu);
    if (!g) return g.error();
    s->m_graph = std::move(g.value());
    const ConsiliumConfig& c = engine->model().config();
    try {
        s->m_ct.resize(size_t(c.grid[0] * c.grid[1] * c.grid[2]));
    } catch (const std::bad_alloc&) {
        return makeError(ErrorCode::OutOfMemory, "not enough memory for the CT grid");
    }
    return s;
}

// Section 10: candidates are local maxima of the objectness over the 26 neighbouring patches
// (ties: the higher index loses), above the threshold, by score, at most max_candidates.
void ConsiliumSession::findings(ConsiliumAnswer* a) const {
    const ConsiliumConfig& c = m_engine->model().config();
    const float* det = m_graph->detection();
    const int64_t nz = c.nz(), ny = c.ny(), nx = c.nx(), n = c.nImg();
    auto score = [&](int64_t p) { return float(sigmoid(det[p * 13])); };
    std::vector<ConsiliumFinding> cand;
    for (int64_t p = 0; p < n; ++p) {
        const float s = score(p);
        if (!(s >= c.detThreshold)) continue;
        const int64_t pz = p / (ny * nx), py = (p / nx) % ny, px = p % nx;
        bool isMax = true;
        for (int64_t dz = -1; dz <= 1 && isMax; ++dz)
            for (int64_t dy = -1; dy <= 1 && isMax; ++dy)
                for (int64_t dx = -1; dx <= 1 && isMax; ++dx) {
                    const int64_t z = pz + dz, y = py + dy, x = px + dx;
                    if ((!dz && !dy && !dx) || z < 0 || y < 0 || x < 0 || z >= nz || y >= ny ||
                        x >= nx)
                        continue;
                    const int64_t q = (z * ny + y) * nx + x;
                    const float sq = score(q);
                    if (!(sq < s || (sq == s && q > p))) isMax = false;
                }
        if (!isMax) continue;
        const float* o = det + p * 13;
        ConsiliumFinding f;
        f.patch = p;
        f.grid = consiliumPatchCentre(c, p, o);
        f.diameterGridVoxels = std::exp(double(o[4]));
        f.type = argmax(o + 5, 3);
        f.lobe = argmax(o + 8, 5);
        f.score = s;
        cand.push_back(f);
    }
    std::stable_sort(
        cand.begin(), cand.end(),
        [](const ConsiliumFinding& x, const ConsiliumFinding& y) { return x.score > y.score; });
    if (int64_t(cand.size()) > c.detMaxCandidates) cand.resize(size_t(c.detMaxCandidates));
    a->findings = std::move(cand);
    a->lungRads = argmax(m_graph->lungRadsLogits(), 5);
}

Result<ConsiliumAnswer> ConsiliumSession::ask(const ConsiliumInputs& in,
                                              const TokenCallback& onToken,
                                              const std::atomic<bool>* cancel) {
    const ConsiliumConfig& c = m_engine->model().config();
    ConsiliumGraph& g = *m_graph;
    g.reset();
    g.setCancelFlag(cancel);
    ConsiliumAnswer a;
    const auto start = std::chrono::steady_clock::now();
    auto t0 = start;
    // Each encoder's output comes from the engine's cache when the same input was encoded
    // before (by any session), else it is computed and offered to the cache.
    EncodingCache& cache = m_engine->cache();
    auto encodeOrReuse = [&](int m, const EncodingKey& key, const auto& encode) -> Status {
        if (m_options.reuseEncodings) {
            if (auto e = cache.find(key)) {
                a.reused[size_t(m)] = true;
                return g.setEncoded(m, e->data.data(), e->rows);
            }
        }
        Status s = encode();
        if (!s || !m_options.reuseEncodings) return s;
        Encoding e;
        e.modality = m;
        e.rows = g.encodedRows(m);
        e.dim = c.dim;
        e.data.assign(g.encoded(m), g.encoded(m) + e.rows * c.dim);
        cache.insert(key, std::move(e));
        return s;
    };
    if (!in.ctHu.empty()) {
        if (in.ctHu.size() != m_ct.size()) {
            return makeError(ErrorCode::InvalidArgument,
                             "CT grid of " + std::to_string(in.ctHu.size()) +
                                 " voxels, the model takes " + std::to_string(m_ct.size()));
        }
        // Section 3.1 step 2: lung window to [0, 1].
        const float lo = c.windowCenter - c.windowWidth / 2;
        for (size_t i = 0; i < m_ct.size(); ++i)
            m_ct[i] = std::clamp((in.ctHu[i] - lo) / c.windowWidth, 0.0f, 1.0f);
        Status s = encodeOrReuse(kModImage,
                                 encodingKey(kModImage, m_ct.data(), m_ct.size() * sizeof(float)),
                                 [&] { return g.encodeImage(m_ct.data()); });
        if (s) s = g.runHeads();
        if (!s) return s.error();
    }
    auto textKey = [](int m, const std::vector<int32_t>& ids) {
        return encodingKey(m, ids.data(), ids.size() * sizeof(int32_t));
    };
    if (!in.recordIds.empty()) {
        const int64_t n = int64_t(in.recordIds.size());
        Status s = encodeOrReuse(kModRecord, textKey(kModRecord, in.recordIds),
                                 [&] { return g.encodeRecord(in.recordIds.data(), n); });
        if (!s) return s.error();
    }
    if (!in.mel.empty()) {
        if (in.melFrames < 1 || int64_t(in.mel.size()) != in.melFrames * c.nMels) {
            return makeError(ErrorCode::InvalidArgument, "log-mel input is not [80, frames]");
        }
        Status s = encodeOrReuse(
            kModVoice,
            encodingKey(kModVoice, in.mel.data(), in.mel.size() * sizeof(float), in.melFrames),
            [&] { return g.encodeVoice(in.mel.data(), in.melFrames); });
        if (!s) return s.error();
    }
    if (!in.questionIds.empty()) {
        const int64_t n = int64_t(in.questionIds.size());
        Status s = encodeOrReuse(kModQuestion, textKey(kModQuestion, in.questionIds),
                                 [&] { return g.encodeQuestion(in.questionIds.data(), n); });
        if (!s) return s.error();
    }
    a.encodeMs = msSince(t0);
    t0 = std::chrono::steady_clock::now();
    Status s = g.fuse();
    if (!s) return s.error();
    a.modalityWeights = g.modalityWeights();
    a.fuseMs = msSince(t0);

    // Greedy generation (section 9): from [bos] until eos or the token limit.
    t0 = std::chrono::steady_clock::now();
    const int64_t maxIds = m_options.maxAnswerTokens > 0
                               ? std::min<int64_t>(m_options.maxAnswerTokens, c.decMaxTokens)
                               : c.decMaxTokens;
    int32_t last = c.bosId;
    int64_t decoded = 0;
    while (decoded + 1 < maxIds) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            return makeError(ErrorCode::Cancelled, "question cancelled");
        }
        s = g.decode(&last, 1);
        if (!s) return s.error();
        const float* lg = g.logits(decoded);
        last = int32_t(argmax(lg, int(c.vocab)));
        ++decoded;
        if (decoded == 1) a.firstTokenMs = msSince(start);
        a.ids.push_back(last);
        std::vector<ConsiliumExpertChoice> layers;
        for (int64_t l = 0; l < int64_t(m_engine->model().dec.size()); ++l) {
            ConsiliumExpertChoice e;
            for (int j = 0; j < 2; ++j) {
                e.experts[size_t(j)] = g.experts(decoded - 1, l)[j];
                e.weights[size_t(j)] = g.expertWeights(decoded - 1, l)[j];
            }
            layers.push_back(e);
        }
        a.experts.push_back(std::move(layers));
        if (onToken && !onToken(last, m_engine->tokenizer().decode({last}))) {
            return makeError(ErrorCode::Cancelled, "question cancelled");
        }
        if (last == c.eosId) break;
    }
    a.text = m_engine->tokenizer().decode(a.ids);
    a.decodeMs = msSince(t0);

    // Explanations (section 13): rollout of the decoder cross-attention through fusion.
    t0 = std::chrono::steady_clock::now();
    const int64_t nq = g.queryRows();
    std::vector<double> aDec(size_t(nq), decoded ? 0.0 : 1.0 / double(nq));
    for (int64_t t = 0; t < decoded; ++t)
        for (int64_t j = 0; j < nq; ++j)
            aDec[size_t(j)] += g.decoderCrossAttention(t)[j] / double(decoded);
    if (g.present(kModImage)) {
        const int64_t n = c.nImg();
        a.imageAttention.assign(size_t(n), 0.f);
        for (int64_t j = 0; j < nq; ++j)
            for (int64_t p = 0; p < n; ++p)
                a.imageAttention[size_t(p)] +=
                    float(aDec[size_t(j)] * g.fusionImageAttention()[j * n + p]);
        a.peakPatch = argmax(a.imageAttention.data(), int(n));
        a.peakGrid = consiliumPatchCentre(c, a.peakPatch, g.detection() + a.peakPatch * 13);
        findings(&a);
    }
    if (g.present(kModRecord)) {
        const int64_t n = g.recordTokens();
        a.recordAttention.assign(size_t(n), 0.f);
        for (int64_t j = 0; j < nq; ++j)
            for (int64_t p = 0; p < n; ++p)
                a.recordAttention[size_t(p)] +=
                    float(aDec[size_t(j)] * g.fusionRecordAttention()[j * n + p]);
    }
    a.headsMs = msSince(t0);
    return a;
}

}  // namespace consilium::inference
