#include "inference/consilium_batcher.h"

#include <algorithm>
#include <cmath>

namespace consilium::inference {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double sigmoid(double x) {
    return 1.0 / (1.0 + std::exp(-x));
}

template <typename T>
int argmax(const T* v, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

// Section 10: the candidates of a grid of detection rows of `cols` values (patches, or the
// dense head's cells): a row scoring >= det.threshold that beats its up to 26 neighbours (a
// tie goes to the lower index), best first, at most det.max_candidates. `at` gives a
// candidate's centre in grid coordinates, its patch and its lobe.
template <typename At>
std::vector<ConsiliumFinding> localMaxima(const ConsiliumConfig& c, const float* det, int64_t cols,
                                          const std::array<int64_t, 3>& n, At at) {
    auto score = [&](int64_t p) { return float(sigmoid(det[p * cols])); };
    std::vector<ConsiliumFinding> cand;
    for (int64_t p = 0; p < n[0] * n[1] * n[2]; ++p) {
        const float s = score(p);
        if (!(s >= c.detThreshold)) continue;
        const int64_t pz = p / (n[1] * n[2]), py = (p / n[2]) % n[1], px = p % n[2];
        bool isMax = true;
        for (int64_t dz = -1; dz <= 1 && isMax; ++dz)
            for (int64_t dy = -1; dy <= 1 && isMax; ++dy)
                for (int64_t dx = -1; dx <= 1 && isMax; ++dx) {
                    const int64_t z = pz + dz, y = py + dy, x = px + dx;
                    if ((!dz && !dy && !dx) || z < 0 || y < 0 || x < 0 || z >= n[0] || y >= n[1] ||
                        x >= n[2])
                        continue;
                    const int64_t q = (z * n[1] + y) * n[2] + x;
                    const float sq = score(q);
                    if (!(sq < s || (sq == s && q > p))) isMax = false;
                }
        if (!isMax) continue;
        const float* o = det + p * cols;
        ConsiliumFinding f;
        f.diameterGridVoxels = std::exp(double(o[4]));
        f.type = argmax(o + 5, 3);
        f.lobe = argmax(o + 8, 5);
        f.score = s;
        at(p, o, &f);
        cand.push_back(f);
    }
    std::stable_sort(
        cand.begin(), cand.end(),
        [](const ConsiliumFinding& x, const ConsiliumFinding& y) { return x.score > y.score; });
    if (int64_t(cand.size()) > c.detMaxCandidates) cand.resize(size_t(c.detMaxCandidates));
    return cand;
}

std::vector<ConsiliumFinding> findCandidates(const ConsiliumConfig& c, const float* det) {
    return localMaxima(c, det, 13, {c.nz(), c.ny(), c.nx()},
                       [&](int64_t p, const float* o, ConsiliumFinding* f) {
                           f->patch = p;
                           f->grid = consiliumPatchCentre(c, p, o);
                       });
}

// The dense head's cells: centre (cell + sigmoid(o[1..3])) * total stride - 0.5. In a
// map-only head the lobe logits add the patch head's (`det`, rows of 13) of the cell's patch;
// with Lung-RADS from findings, column 13 gives the solid part's share.
std::vector<ConsiliumFinding> findDenseCandidates(const ConsiliumConfig& c, const float* dense,
                                                  const float* det) {
    const std::array<int64_t, 3> n = {c.convCells(0), c.convCells(1), c.convCells(2)};
    return localMaxima(
        c, dense, c.denseCols(), n, [&](int64_t k, const float* o, ConsiliumFinding* f) {
            const int64_t z = k / (n[1] * n[2]), y = (k / n[2]) % n[1], x = k % n[2];
            f->patch = c.cellPatch(z, y, x);
            const int64_t cell[3] = {z, y, x};
            for (int a = 0; a < 3; ++a)
                f->grid[size_t(a)] =
                    (double(cell[a]) + sigmoid(o[1 + a])) * double(c.convStride(a)) - 0.5;
            if (c.detDenseMapOnly) f->lobe = consiliumFindingLobe(c, o, det, f->patch);
            if (c.lungRadsFromFindings) f->solidFraction = sigmoid(o[13]);
        });
}

}  // namespace

// One request from add() to its onDone: what the answer needs of its fusion (captured when
// it was encoded, since the graph then moves on to other requests) and its decoder state.
struct ConsiliumBatcher::Active {
    uint64_t id = 0;
    ConsiliumRequest req;
    ConsiliumAnswer answer;
    ConsiliumSequence seq;
    std::vector<float> avgImg, avgRec, det;  // [nq, N_img], [nq, N_rec], [N_img, 13]
    std::vector<float> headImg;              // [h, nq, N_img]
    bool image = false, record = false;
    int64_t nRec = 0, maxIds = 0;
    std::vector<int32_t> feed;  // ids the next step runs: [last] or, after preemption, all
    Clock::time_point added, decodeStart;
    bool decoding = false;
    bool stopped = false;  // cancel(id), or the token callback returned false
    int stage = 0;         // next prefill unit (Stage)
    bool recordBegun = false;
};

namespace {
enum Stage { kStageImage, kStageRecord, kStageVoice, kStageQuestion, kStageFuse, kStageDone };
}  // namespace

Result<std::unique_ptr<ConsiliumBatcher>> ConsiliumBatcher::create(
    std::shared_ptr<const ConsiliumEngine> engine, const ConsiliumBatcherOptions& options) {
    std::unique_ptr<ConsiliumBatcher> b(new ConsiliumBatcher());
    b->m_engine = engine;
    b->m_options = options;
    b->m_options.maxBatch = std::max<int64_t>(1, options.maxBatch);
    b->m_options.blockTokens = std::max<int64_t>(1, options.blockTokens);
    auto g = ConsiliumGraph::create(engine->modelPtr(), options.limits, options.cpu);
    if (!g) return g.error();
    b->m_graph = std::move(g.value());
    const int64_t perAnswer =
        (b->m_graph->maxAnswerTokens() + b->m_options.blockTokens - 1) / b->m_options.blockTokens;
    // At least one answer of the longest length fits, so preemption always makes progress.
    const int64_t blocks = std::max(
        perAnswer, options.kvBlocks > 0 ? options.kvBlocks : perAnswer * b->m_options.maxBatch);
    auto pool = b->m_graph->createKvPool(blocks, b->m_options.blockTokens);
    if (!pool) return pool.error();
    b->m_pool = std::move(pool.value());
    const ConsiliumConfig& c = engine->model().config();
    try {
        b->m_ct.resize(size_t(c.grid[0] * c.grid[1] * c.grid[2]));
    } catch (const std::bad_alloc&) {
        return makeError(ErrorCode::OutOfMemory, "not enough memory for the CT grid");
    }
    return b;
}

ConsiliumBatcher::~ConsiliumBatcher() = default;

uint64_t ConsiliumBatcher::add(ConsiliumRequest request) {
    auto a = std::make_unique<Active>();
    a->id = m_nextId++;
    a->req = std::move(request);
    a->added = Clock::now();
    // Stable by priority: after every queued request of the same or a higher priority.
    auto at = std::find_if(m_waiting.begin(), m_waiting.end(),
                           [&](const auto& w) { return w->req.priority > a->req.priority; });
    const uint64_t id = a->id;
    m_waiting.insert(at, std::move(a));
    return id;
}

bool ConsiliumBatcher::cancel(uint64_t id) {
    if (m_prefilling && m_prefilling->id == id) return m_prefilling->stopped = true;
    for (auto& a : m_waiting)
        if (a->id == id) return a->stopped = true;
    for (auto& a : m_running)
        if (a->id == id) return a->stopped = true;
    return false;
}

bool ConsiliumBatcher::cancelled(const Active& a) const {
    return a.stopped || (a.req.cancel && a.req.cancel->load(std::memory_order_relaxed));
}

void ConsiliumBatcher::finish(std::unique_ptr<Active> a, Result<ConsiliumAnswer> r) {
    m_pool->release(&a->seq.blocks);
    if (a->req.onDone) a->req.onDone(std::move(r));
}

bool ConsiliumBatcher::step() {
    if (idle()) return false;
    ++m_stats.steps;
    // Cancelled requests leave before any work.
    for (auto it = m_waiting.begin(); it != m_waiting.end();) {
        if (!cancelled(**it)) {
            ++it;
            continue;
        }
        auto a = std::move(*it);
        it = m_waiting.erase(it);
        finish(std::move(a), makeError(ErrorCode::Cancelled, "question cancelled"));
    }
    for (size_t i = 0; i < m_running.size();) {
        if (!cancelled(*m_running[i])) {
            ++i;
            continue;
        }
        auto a = std::move(m_running[i]);
        m_running.erase(m_running.begin() + long(i));
        finish(std::move(a), makeError(ErrorCode::Cancelled, "question cancelled"));
    }
    if (m_prefilling && cancelled(*m_prefilling)) {
        finish(std::move(m_prefilling), makeError(ErrorCode::Cancelled, "question cancelled"));
    }
    const auto t0 = Clock::now();
    prefill();
    m_stats.prefillMs += msSince(t0);
    if (!m_running.empty()) {
        const auto t0 = Clock::now();
        decodeStep();
        m_stats.decodeMs += msSince(t0);
    }
    m_stats.maxRunning = std::max(m_stats.maxRunning, int64_t(m_running.size()));
    return true;
}

void ConsiliumBatcher::drain() {
    while (step()) {
    }
}

// Admits requests while there is room in the batch and advances their encoders by about one
// chunk of rows; a request whose fusion is done joins the running answers.
void ConsiliumBatcher::prefill() {
    const ConsiliumConfig& c = m_engine->model().config();
    int64_t budget = std::max(m_options.limits.textChunkTokens, c.nImg());
    uint64_t counted = 0;  // the request whose prefillSteps counts this step
    while (budget > 0) {
        if (!m_prefilling) {
            if (m_waiting.empty() || int64_t(m_running.size()) >= m_options.maxBatch) return;
            m_prefilling = std::move(m_waiting.front());
            m_waiting.pop_front();
            m_graph->reset();
        }
        Active& a = *m_prefilling;
        if (counted != a.id) {
            ++a.answer.prefillSteps;
            counted = a.id;
        }
        m_graph->setCancelFlag(a.req.cancel.get());
        const auto t0 = Clock::now();
        const bool fusing = a.stage == kStageFuse;
        Status s = prefillUnit(a, &budget);
        m_graph->setCancelFlag(nullptr);
        (fusing ? a.answer.fuseMs : a.answer.encodeMs) += msSince(t0);
        if (!s) {
            finish(std::move(m_prefilling), s.error());
        } else if (a.stage == kStageDone) {
            auto done = std::move(m_prefilling);
            if (done->maxIds < 2) {
                complete(std::move(done));
            } else {
                m_running.push_back(std::move(done));
            }
        }
    }
}

// One unit of a request's encoders (each output from the engine's cache when the same input
// was encoded before), or its fusion; what its answer needs is then copied out of the graph.
Status ConsiliumBatcher::prefillUnit(Active& a, int64_t* budget) {
    const ConsiliumConfig& c = m_engine->model().config();
    ConsiliumGraph& g = *m_graph;
    const ConsiliumInputs& in = a.req.inputs;
    ConsiliumAnswer& ans = a.answer;
    EncodingCache& cache = m_engine->cache();
    const bool reuse = m_options.reuseEncodings;
    auto lookUp = [&](int m, const EncodingKey& key) -> Result<bool> {
        if (!reuse) return false;
        auto e = cache.find(key);
        if (!e) return false;
        ans.reused[size_t(m)] = true;
        Status s = g.setEncoded(m, e->data.data(), e->rows);
        if (!s) return s.error();
        if (m == kModImage && c.hasDenseDet()) g.setDenseDetection(e->aux.data());
        return true;
    };
    auto keep = [&](int m, const EncodingKey& key) {
        if (!reuse) return;
        Encoding e;
        e.modality = m;
        e.rows = g.encodedRows(m);
        e.dim = c.dim;
        e.data.assign(g.encoded(m), g.encoded(m) + e.rows * c.dim);
        if (m == kModImage && c.hasDenseDet()) {
            e.aux.assign(g.denseDetection(),
                         g.denseDetection() + c.convCellCount() * c.denseCols());
        }
        cache.insert(key, std::move(e));
    };
    auto textKey = [](int m, const std::vector<int32_t>& ids) {
        return encodingKey(m, ids.data(), ids.size() * sizeof(int32_t));
    };
    switch (a.stage) {
        case kStageImage: {
            a.stage = kStageRecord;
            if (in.ctHu.empty()) return Status::success();
            if (in.ctHu.size() != m_ct.size()) {
                return makeError(ErrorCode::InvalidArgument,
                                 "CT grid of " + std::to_string(in.ctHu.size()) +
                                     " voxels, the model takes " + std::to_string(m_ct.size()));
            }
            if (c.lungRadsFromFindings && !(in.ctSpacingYxMm > 0)) {
                return makeError(ErrorCode::InvalidArgument,
                                 "the CT grid's in-plane spacing is missing: this model's "
                                 "Lung-RADS comes from the findings' sizes in mm");
            }
            // Section 3.1 step 2: lung window to [0, 1].
            const float lo = c.windowCenter - c.windowWidth / 2;
            for (size_t i = 0; i < m_ct.size(); ++i)
                m_ct[i] = std::clamp((in.ctHu[i] - lo) / c.windowWidth, 0.0f, 1.0f);
            const EncodingKey key =
                encodingKey(kModImage, m_ct.data(), m_ct.size() * sizeof(float));
            auto hit = lookUp(kModImage, key);
            if (!hit) return hit.error();
            if (!hit.value()) {
                Status s = g.encodeImage(m_ct.data());
                if (!s) return s;
                keep(kModImage, key);
                *budget -= c.nImg();
            }
            return g.runHeads();
        }
        case kStageRecord: {
            if (in.recordIds.empty()) {
                a.stage = kStageVoice;
                return Status::success();
            }
            const EncodingKey key = textKey(kModRecord, in.recordIds);
            if (!a.recordBegun) {
                auto hit = lookUp(kModRecord, key);
                if (!hit) return hit.error();
                if (hit.value()) {
                    a.stage = kStageVoice;
                    return Status::success();
                }
                Status s = g.beginRecord(in.recordIds.data(), int64_t(in.recordIds.size()));
                if (!s) return s;
                a.recordBegun = true;
            }
            bool done = false;
            Status s = g.continueRecord(&done);
            if (!s) return s;
            *budget -= m_options.limits.textChunkTokens;
            if (done) {
                keep(kModRecord, key);
                a.stage = kStageVoice;
            }
            return Status::success();
        }
        case kStageVoice: {
            a.stage = kStageQuestion;
            if (in.mel.empty()) return Status::success();
            if (in.melFrames < 1 || int64_t(in.mel.size()) != in.melFrames * c.nMels) {
                return makeError(ErrorCode::InvalidArgument, "log-mel input is not [80, frames]");
            }
            const EncodingKey key =
                encodingKey(kModVoice, in.mel.data(), in.mel.size() * sizeof(float), in.melFrames);
            auto hit = lookUp(kModVoice, key);
            if (!hit) return hit.error();
            if (hit.value()) return Status::success();
            Status s = g.encodeVoice(in.mel.data(), in.melFrames);
            if (!s) return s;
            keep(kModVoice, key);
            *budget -= in.melFrames / 4;
            return Status::success();
        }
        case kStageQuestion: {
            a.stage = kStageFuse;
            if (in.questionIds.empty()) return Status::success();
            const EncodingKey key = textKey(kModQuestion, in.questionIds);
            auto hit = lookUp(kModQuestion, key);
            if (!hit) return hit.error();
            if (hit.value()) return Status::success();
            Status s = g.encodeQuestion(in.questionIds.data(), int64_t(in.questionIds.size()));
            if (!s) return s;
            keep(kModQuestion, key);
            *budget -= int64_t(in.questionIds.size());
            return Status::success();
        }
        default:
            break;
    }
    // Fusion, the answer's decoder state and what its explanation needs.
    Status s = g.fuse();
    if (s) s = g.exportSequence(&a.seq);
    if (!s) return s;
    ans.modalityWeights = g.modalityWeights();
    const int64_t nq = g.queryRows();
    try {
        a.image = g.present(kModImage);
        a.record = g.present(kModRecord);
        if (a.image) {
            const int64_t n = c.nImg();
            a.avgImg.assign(g.fusionImageAttention(), g.fusionImageAttention() + nq * n);
            a.headImg.assign(g.fusionImageAttentionByHead(),
                             g.fusionImageAttentionByHead() + c.fusionHeads[kModImage] * nq * n);
            a.det.assign(g.detection(), g.detection() + n * 13);
            ans.findings = c.hasDenseDet()
                               ? findDenseCandidates(c, g.denseDetection(), g.detection())
                               : findCandidates(c, g.detection());
            ans.lungRads = c.lungRadsFromFindings
                               ? consiliumLungRadsOfFindings(c, ans.findings, in.ctSpacingYxMm)
                               : argmax(g.lungRadsLogits(), 5);
        }
        if (a.record) {
            a.nRec = g.recordTokens();
            a.avgRec.assign(g.fusionRecordAttention(), g.fusionRecordAttention() + nq * a.nRec);
        }
    } catch (const std::bad_alloc&) {
        return makeError(ErrorCode::OutOfMemory, "not enough memory for an answer");
    }
    *budget -= nq;
    const int64_t limit = m_graph->maxAnswerTokens();
    a.maxIds = a.req.maxAnswerTokens > 0 ? std::min(a.req.maxAnswerTokens, limit) : limit;
    a.feed = {c.bosId};
    a.stage = kStageDone;
    return Status::success();
}

// One decoder step for the running answers in priority order, as many as the step's row
// budget takes; preempts the newest lowest-priority answers when the pool is short.
void ConsiliumBatcher::decodeStep() {
    const ConsiliumConfig& c = m_engine->model().config();
    const int64_t rowBudget = m_options.maxStepTokens > 0
                                  ? std::min(m_options.maxStepTokens, m_graph->maxBatchRows())
                                  : m_graph->maxBatchRows();
    std::vector<size_t> order(m_running.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        return m_running[x]->req.priority < m_running[y]->req.priority;
    });
    std::vector<size_t> chosen;
    int64_t rows = 0;
    for (size_t i : order) {
        const int64_t n = int64_t(m_running[i]->feed.size());
        if (rows + n > rowBudget) continue;
        rows += n;
        chosen.push_back(i);
    }
    // Blocks: preempt from the back of the priority order (the newest of the lowest
    // priority) until the chosen answers fit.
    auto blocksNeeded = [&] {
        int64_t need = 0;
        for (size_t i : chosen) {
            const Active& a = *m_running[i];
            need += m_pool->blocksFor(a.seq.pos + int64_t(a.feed.size())) -
                    int64_t(a.seq.blocks.size());
        }
        return need;
    };
    for (size_t k = order.size(); blocksNeeded() > m_pool->freeBlocks() && k-- > 1;) {
        Active& victim = *m_running[order[k]];
        if (victim.seq.blocks.empty()) continue;
        m_pool->release(&victim.seq.blocks);
        // Recompute later: bos and every id generated so far, from position 0.
        victim.feed.assign(1, c.bosId);
        victim.feed.insert(victim.feed.end(), victim.answer.ids.begin(), victim.answer.ids.end());
        victim.seq.pos = 0;
        ++m_stats.preemptions;
        chosen.erase(std::remove(chosen.begin(), chosen.end(), order[k]), chosen.end());
    }
    while (!chosen.empty() && blocksNeeded() > m_pool->freeBlocks())
        chosen.pop_back();
    if (chosen.empty()) return;
    std::vector<ConsiliumSequence*> seqs;
    std::vector<const int32_t*> ids;
    std::vector<int64_t> counts;
    for (size_t i : chosen) {
        Active& a = *m_running[i];
        if (!a.decoding) {
            a.decoding = true;
            a.decodeStart = Clock::now();
        }
        seqs.push_back(&a.seq);
        ids.push_back(a.feed.data());
        counts.push_back(int64_t(a.feed.size()));
    }
    Status s =
        m_graph->decodeBatch(seqs.data(), ids.data(), counts.data(), int64_t(seqs.size()), *m_pool);
    for (int64_t n : counts)
        m_stats.decodedRows += n;
    std::vector<size_t> done;
    for (size_t i : chosen) {
        Active& a = *m_running[i];
        if (!s) {
            done.push_back(i);
            continue;
        }
        const int32_t next = int32_t(argmax(a.seq.logits.data(), int(c.vocab)));
        a.answer.ids.push_back(next);
        if (a.answer.ids.size() == 1) a.answer.firstTokenMs = msSince(a.added);
        a.feed.assign(1, next);
        bool stop = next == c.eosId || int64_t(a.answer.ids.size()) + 1 >= a.maxIds;
        if (a.req.onToken && !a.req.onToken(next, m_engine->tokenizer().decode({next}))) {
            a.stopped = true;
            stop = true;
        }
        if (stop) done.push_back(i);
    }
    // Finished answers leave the batch (highest index first keeps the others' indices).
    std::sort(done.rbegin(), done.rend());
    for (size_t i : done) {
        auto a = std::move(m_running[i]);
        m_running.erase(m_running.begin() + long(i));
        if (!s) {
            finish(std::move(a), s.error());
        } else if (cancelled(*a)) {
            finish(std::move(a), makeError(ErrorCode::Cancelled, "question cancelled"));
        } else {
            complete(std::move(a));
        }
    }
}

// The answer text, experts per token and the explanation rollout (section 13).
void ConsiliumBatcher::complete(std::unique_ptr<Active> a) {
    const ConsiliumConfig& c = m_engine->model().config();
    ConsiliumAnswer& ans = a->answer;
    const ConsiliumSequence& q = a->seq;
    if (a->decoding) ans.decodeMs = msSince(a->decodeStart);
    auto t0 = Clock::now();
    ans.text = m_engine->tokenizer().decode(ans.ids);
    const int64_t L = int64_t(m_engine->model().dec.size());
    const int64_t decoded = int64_t(ans.ids.size());
    for (int64_t t = 0; t < decoded; ++t) {
        std::vector<ConsiliumExpertChoice> layers;
        for (int64_t l = 0; l < L; ++l) {
            ConsiliumExpertChoice e;
            for (size_t j = 0; j < 2; ++j) {
                e.experts[j] = q.expertIds[size_t((t * L + l) * 2) + j];
                e.weights[j] = q.expertW[size_t((t * L + l) * 2) + j];
            }
            layers.push_back(e);
        }
        ans.experts.push_back(std::move(layers));
    }
    const int64_t nq = q.nq;
    std::vector<double> aDec(size_t(nq), decoded ? 0.0 : 1.0 / double(nq));
    for (int64_t t = 0; t < decoded; ++t)
        for (int64_t j = 0; j < nq; ++j)
            aDec[size_t(j)] += q.decCross[size_t(t * nq + j)] / double(decoded);
    if (a->image) {
        const int64_t n = c.nImg();
        // rollout(w, A): sum_j w[j] A[j, :] for a query weighting w [nq] and A [nq, N_img].
        auto rollout = [&](const std::vector<double>& w, const float* A) {
            std::vector<float> out(size_t(n), 0.f);
            for (int64_t j = 0; j < nq; ++j)
                for (int64_t p = 0; p < n; ++p)
                    out[size_t(p)] += float(w[size_t(j)] * A[j * n + p]);
            return out;
        };
        ans.imageAttention = rollout(aDec, a->avgImg.data());
        ans.peakPatch = argmax(ans.imageAttention.data(), int(n));
        ans.peakGrid = consiliumPeakLocation(c, ans.peakPatch, a->det.data() + ans.peakPatch * 13,
                                             ans.findings);
        for (int64_t l = 0; l < L; ++l) {
            std::vector<double> w(size_t(nq), decoded ? 0.0 : 1.0 / double(nq));
            for (int64_t t = 0; t < decoded; ++t)
                for (int64_t j = 0; j < nq; ++j)
                    w[size_t(j)] +=
                        q.decCrossLayers[size_t((t * L + l) * nq + j)] / double(decoded);
            ans.imageAttentionByLayer.push_back(rollout(w, a->avgImg.data()));
        }
        for (int64_t h = 0; h < c.fusionHeads[kModImage]; ++h)
            ans.imageAttentionByHead.push_back(rollout(aDec, a->headImg.data() + h * nq * n));
    }
    if (a->record) {
        const int64_t n = a->nRec;
        ans.recordAttention.assign(size_t(n), 0.f);
        for (int64_t j = 0; j < nq; ++j)
            for (int64_t p = 0; p < n; ++p)
                ans.recordAttention[size_t(p)] +=
                    float(aDec[size_t(j)] * a->avgRec[size_t(j * n + p)]);
    }
    ans.headsMs = msSince(t0);
    ConsiliumAnswer out = std::move(ans);
    finish(std::move(a), std::move(out));
}

ConsiliumBatcher::Stats ConsiliumBatcher::stats() const {
    Stats s = m_stats;
    s.waiting = int64_t(m_waiting.size());
    s.running = int64_t(m_running.size());
    s.kvBlocks = m_pool->totalBlocks();
    s.kvBlocksUsed = m_pool->usedBlocks();
    s.kvBlocksPeak = m_pool->peakUsedBlocks();
    s.blockTokens = m_pool->blockTokens();
    s.kvBytes = m_pool->bytes();
    return s;
}

}  // namespace consilium::inference
