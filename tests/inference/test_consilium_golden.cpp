// The consilium graph against the PyTorch mirror of docs/MODEL.md: every named intermediate
// tensor of section 15 (tests/data/consilium_golden, written by training/dump_golden.py) is
// recomputed by the engine from the golden inputs and compared with per-tensor limits.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <map>

#include "imaging/phantom.h"
#include "inference/consilium_engine.h"
#include "inference/consilium_graph.h"
#include "inference/consilium_session.h"
#include "inference/consilium_tokenizer.h"

using namespace consilium;
using namespace consilium::inference;

namespace {

const QString kDir = QStringLiteral(CONSILIUM_SOURCE_DIR "/tests/data/consilium_golden/");

struct Golden {
    std::map<std::string, std::vector<float>> f32;
    std::map<std::string, std::vector<int32_t>> i32;
    std::map<std::string, std::vector<int64_t>> shape;
    QJsonObject inputs;
};

bool loadGolden(const QString& stem, Golden* g) {
    QFile jf(kDir + stem + ".json"), bf(kDir + stem + ".bin");
    if (!jf.open(QIODevice::ReadOnly) || !bf.open(QIODevice::ReadOnly)) return false;
    const QJsonObject root = QJsonDocument::fromJson(jf.readAll()).object();
    const QByteArray bin = bf.readAll();
    const QJsonObject tensors = root["tensors"].toObject();
    for (auto it = tensors.begin(); it != tensors.end(); ++it) {
        const QJsonObject e = it.value().toObject();
        const std::string name = it.key().toStdString();
        const qint64 off = qint64(e["offset"].toDouble()), count = qint64(e["count"].toDouble());
        if (off < 0 || off + count * 4 > bin.size()) return false;
        std::vector<int64_t> shape;
        for (const auto& v : e["shape"].toArray())
            shape.push_back(int64_t(v.toDouble()));
        g->shape[name] = shape;
        if (e["dtype"].toString() == "i32") {
            std::vector<int32_t> v(static_cast<size_t>(count));
            std::memcpy(v.data(), bin.constData() + off, size_t(count) * 4);
            g->i32[name] = v;
        } else {
            std::vector<float> v(static_cast<size_t>(count));
            std::memcpy(v.data(), bin.constData() + off, size_t(count) * 4);
            g->f32[name] = v;
        }
    }
    g->inputs = root["inputs"].toObject();
    return true;
}

// The golden CT in HU: the session windows HU itself (section 3.1), so undo the window of
// the golden input.
std::vector<float> goldenHu(const Golden& g, const ConsiliumConfig& c) {
    const float lo = c.windowCenter - c.windowWidth / 2;
    std::vector<float> hu;
    for (float v : g.f32.at("in.ct"))
        hu.push_back(v * c.windowWidth + lo);
    return hu;
}

// Attention probabilities come out as [n_q, heads, n_kv]; the dump writes [heads, n_q, n_kv].
std::vector<float> headsFirst(const float* data, const std::vector<int64_t>& s) {
    std::vector<float> out(size_t(s[0] * s[1] * s[2]));
    for (int64_t i = 0; i < s[0]; ++i)
        for (int64_t h = 0; h < s[1]; ++h)
            for (int64_t j = 0; j < s[2]; ++j)
                out[size_t((h * s[0] + i) * s[2] + j)] = data[(i * s[1] + h) * s[2] + j];
    return out;
}

struct Captured {
    std::map<std::string, std::vector<float>> data;
    std::map<std::string, std::vector<int64_t>> shape;
};

struct Run {
    std::shared_ptr<ConsiliumModel> model;
    std::unique_ptr<ConsiliumGraph> graph;
    Captured cap;
    std::vector<int32_t> experts[2];
    std::vector<float> expertWeights[2];
    std::vector<float> imageAttn, recordAttn;
    std::vector<std::vector<float>> imageAttnByLayer, imageAttnByHead;  // [L][N_img], [h][N_img]
    std::vector<int32_t> genIds;
};

// Runs the whole golden recipe (training/reference_numpy.py main()) on the engine.
QString runGolden(const QString& modelFile, const Golden& g, Run* r, int64_t probsBudget,
                  int64_t textChunk = 0) {
    auto store = WeightStore::open((kDir + modelFile).toStdString());
    if (!store) return QString::fromStdString(store.error().toString());
    auto model = ConsiliumModel::load(std::shared_ptr<WeightStore>(std::move(store.value())));
    if (!model) return QString::fromStdString(model.error().toString());
    r->model = model.value();
    CpuBackendOptions cpu;
    cpu.threads = 2;
    ConsiliumLimits limits;
    if (probsBudget > 0) limits.probsBudgetFloats = probsBudget;
    if (textChunk > 0) limits.textChunkTokens = textChunk;
    auto graph = ConsiliumGraph::create(r->model, limits, cpu);
    if (!graph) return QString::fromStdString(graph.error().toString());
    r->graph = std::move(graph.value());
    ConsiliumGraph& G = *r->graph;
    G.setTap([r](const std::string& name, const float* data, std::vector<int64_t> shape) {
        int64_t n = 1;
        for (int64_t s : shape)
            n *= s;
        if (shape.size() == 3) {
            r->cap.data[name] = headsFirst(data, shape);
            std::swap(shape[0], shape[1]);
        } else {
            r->cap.data[name].assign(data, data + n);
        }
        r->cap.shape[name] = shape;
    });
    auto ids = [&](const char* name) {
        const auto& v = g.i32.at(name);
        return std::make_pair(v.data(), int64_t(v.size()));
    };
    Status s = G.encodeImage(g.f32.at("in.ct").data());
    if (s) s = G.runHeads();
    if (s) s = G.encodeRecord(ids("in.record_ids").first, ids("in.record_ids").second);
    if (s) s = G.encodeVoice(g.f32.at("in.mel").data(), g.shape.at("in.mel")[1]);
    if (s) s = G.encodeQuestion(ids("in.question_ids").first, ids("in.question_ids").second);
    if (s) s = G.fuse();
    const auto answer = ids("in.answer_ids");
    if (s) s = G.decode(answer.first, answer.second);
    if (!s) return QString::fromStdString(s.error().toString());
    const int64_t n = answer.second, L = int64_t(r->model->dec.size());
    for (int64_t l = 0; l < L; ++l)
        for (int64_t t = 0; t < n; ++t)
            for (int j = 0; j < 2; ++j) {
                r->experts[l].push_back(G.experts(t, l)[j]);
                r->expertWeights[l].push_back(G.expertWeights(t, l)[j]);
            }
    // Rollout over the teacher-forced positions (section 13).
    const int64_t nq = G.queryRows(), nImg = r->model->config().nImg(), nRec = G.recordTokens();
    std::vector<double> aDec(size_t(nq), 0.0);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < nq; ++j)
            aDec[size_t(j)] += G.decoderCrossAttention(t)[j] / double(n);
    r->imageAttn.assign(size_t(nImg), 0.f);
    r->recordAttn.assign(size_t(nRec), 0.f);
    for (int64_t j = 0; j < nq; ++j) {
        for (int64_t p = 0; p < nImg; ++p)
            r->imageAttn[size_t(p)] +=
                float(aDec[size_t(j)] * G.fusionImageAttention()[j * nImg + p]);
        for (int64_t p = 0; p < nRec; ++p)
            r->recordAttn[size_t(p)] +=
                float(aDec[size_t(j)] * G.fusionRecordAttention()[j * nRec + p]);
    }
    // The same rollout through each decoder layer alone and each fusion image head alone.
    for (int64_t l = 0; l < L; ++l) {
        std::vector<float> m(size_t(nImg), 0.f);
        for (int64_t j = 0; j < nq; ++j) {
            double w = 0;
            for (int64_t t = 0; t < n; ++t)
                w += G.decoderCrossAttention(t, l)[j] / double(n);
            for (int64_t p = 0; p < nImg; ++p)
                m[size_t(p)] += float(w * G.fusionImageAttention()[j * nImg + p]);
        }
        r->imageAttnByLayer.push_back(std::move(m));
    }
    for (int64_t h = 0; h < r->model->config().fusionHeads[0]; ++h) {
        std::vector<float> m(size_t(nImg), 0.f);
        const float* A = G.fusionImageAttentionByHead() + h * nq * nImg;
        for (int64_t j = 0; j < nq; ++j)
            for (int64_t p = 0; p < nImg; ++p)
                m[size_t(p)] += float(aDec[size_t(j)] * A[j * nImg + p]);
        r->imageAttnByHead.push_back(std::move(m));
    }
    // Greedy generation from [bos] (max as many ids as the dump), with the KV cache.
    G.setTap(nullptr);
    const size_t maxGen = g.i32.at("gen.ids").size();
    const int32_t eos = r->model->config().eosId;
    s = G.fuse();
    if (!s) return QString::fromStdString(s.error().toString());
    r->genIds = {r->model->config().bosId};
    while (r->genIds.size() < maxGen && (r->genIds.size() == 1 || r->genIds.back() != eos)) {
        s = G.decode(&r->genIds.back(), 1);
        if (!s) return QString::fromStdString(s.error().toString());
        const float* lg = G.logits(G.position() - 1);
        int32_t best = 0;
        for (int32_t v = 1; v < r->model->config().vocab; ++v)
            if (lg[v] > lg[best]) best = v;
        r->genIds.push_back(best);
    }
    return {};
}

double maxAbs(const std::vector<float>& v) {
    double m = 0;
    for (float x : v)
        m = std::max(m, double(std::fabs(x)));
    return m;
}

}  // namespace

class TestConsiliumGolden : public QObject {
    Q_OBJECT
  private slots:
    void everyTensor_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("stem");
        QTest::addColumn<double>("limit");  // max|a - b| <= limit * max(1, max|b|)
        QTest::addColumn<bool>("exactInts");
        QTest::addColumn<int>("probsBudget");  // > 0: fusion attention in query-row chunks
        QTest::addColumn<int>("textChunk");    // > 0: text encoder rows per chunk
        // F32 file: float32 engine against the float32 PyTorch mirror, limit of golden.json.
        QTest::newRow("f32") << "consilium-golden-f32.gguf"
                             << "golden" << 1e-4 << true << 0 << 0;
        // The same with fusion attention computed 5 query rows at a time (long records): every
        // tensor but the (then untapped) fusion.attn.* probabilities.
        QTest::newRow("f32_chunked") << "consilium-golden-f32.gguf"
                                     << "golden" << 1e-4 << true << 5 * 2 * 114 << 0;
        // Record (114 tokens) and question encoded 7 rows at a time, less than the window of
        // 16: each chunk attends to the kept keys of the one before. The per-layer text taps
        // of a chunked text are not produced; record.out, question.out and all after are.
        QTest::newRow("f32_text_chunks") << "consilium-golden-f32.gguf"
                                         << "golden" << 1e-4 << true << 0 << 7;
        // Q4_0 file: the engine rounds activations to Q8_0 blocks for its integer dot
        // products (kernels/cpu/matmul.h), the dump keeps float32 activations: measured worst
        // 1.8e-2 (record.blk.1.out) on AVX-512; limit with a 2x margin. Router and argmax decisions
        // may flip where the reference logits are close, so integer outputs are checked only with a
        // margin.
        QTest::newRow("q4_0") << "consilium-golden-q4_0.gguf"
                              << "golden_q4_0" << 4e-2 << false << 0 << 0;
        // The CT stem of section 5 (sub-patches, gelu, then the patch embedding).
        QTest::newRow("f32_stem") << "consilium-golden-stem-f32.gguf"
                                  << "golden_stem" << 1e-4 << true << 0 << 0;
        // The CT convolution layers of section 5 (two 3x3x3 layers, strides 2,2,2 and 1,2,2,
        // then 2x2x2 cells of 8 channels per patch); every layer's map is tapped.
        QTest::newRow("f32_conv") << "consilium-golden-conv-f32.gguf"
                                  << "golden_conv" << 1e-4 << true << 0 << 0;
        // The same with a dense head that reads the map alone and a 14th, solid-part column
        // (section 10, Lung-RADS from findings).
        QTest::newRow("f32_conv_map") << "consilium-golden-conv-map-f32.gguf"
                                      << "golden_conv_map" << 1e-4 << true << 0 << 0;
    }

    void everyTensor() {
        QFETCH(QString, model);
        QFETCH(QString, stem);
        QFETCH(double, limit);
        QFETCH(bool, exactInts);
        QFETCH(int, probsBudget);
        QFETCH(int, textChunk);
        Golden g;
        QVERIFY2(loadGolden(stem, &g), qPrintable("cannot read the golden set " + kDir + stem));
        Run r;
        const QString err = runGolden(model, g, &r, probsBudget, textChunk);
        QVERIFY2(err.isEmpty(), qPrintable(err));
        r.cap.data["expl.image_attn"] = r.imageAttn;
        r.cap.data["expl.record_attn"] = r.recordAttn;
        int compared = 0, chunkedAttention = 0, chunkedText = 0;
        double worst = 0;
        QString worstName;
        for (const auto& [name, want] : g.f32) {
            if (name.rfind("in.", 0) == 0) continue;
            if (probsBudget > 0 && name.rfind("fusion.attn.", 0) == 0 && !r.cap.data.count(name)) {
                ++chunkedAttention;
                ++compared;
                continue;
            }
            const bool textTap = name.rfind("record.", 0) == 0 || name.rfind("question.", 0) == 0;
            if (textChunk > 0 && textTap && !r.cap.data.count(name)) {
                QVERIFY2(name != "record.out" && name != "question.out", name.c_str());
                ++chunkedText;
                ++compared;
                continue;
            }
            std::vector<float> got;
            if (name.find(".expert_weights") != std::string::npos) {
                got = r.expertWeights[name[8] - '0'];
            } else {
                auto it = r.cap.data.find(name);
                QVERIFY2(it != r.cap.data.end(),
                         qPrintable("engine did not produce " + QString::fromStdString(name)));
                got = it->second;
            }
            QCOMPARE(got.size(), want.size());
            double err = 0;
            for (size_t i = 0; i < want.size(); ++i)
                err = std::max(err, double(std::fabs(got[i] - want[i])));
            const double rel = err / std::max(1.0, maxAbs(want));
            if (rel > worst) {
                worst = rel;
                worstName = QString::fromStdString(name);
            }
            if (exactInts || name.find(".expert_weights") == std::string::npos) {
                QVERIFY2(rel <= limit,
                         qPrintable(QStringLiteral("%1: max abs error %2 (relative %3) > %4")
                                        .arg(QString::fromStdString(name))
                                        .arg(err)
                                        .arg(rel)
                                        .arg(limit)));
            }
            ++compared;
        }
        // Integer outputs: experts per layer and the greedy answer.
        for (int l = 0; l < 2; ++l) {
            const std::string key = "dec.blk." + std::to_string(l) + ".experts";
            const auto& want = g.i32.at(key);
            const auto& logits = g.f32.at("dec.blk." + std::to_string(l) + ".router_logits");
            QCOMPARE(r.experts[l].size(), want.size());
            for (size_t i = 0; i < want.size(); ++i) {
                if (r.experts[l][i] == want[i]) continue;
                const size_t t = i / 2;
                const float a = logits[t * 8 + size_t(want[i])];
                const float b = logits[t * 8 + size_t(r.experts[l][i])];
                const bool close = std::fabs(a - b) < limit * 4;
                QVERIFY2(!exactInts && close,
                         qPrintable(QStringLiteral("%1 token %2: expert %3 instead of %4 "
                                                   "(reference logits %5 vs %6)")
                                        .arg(QString::fromStdString(key))
                                        .arg(t)
                                        .arg(r.experts[l][i])
                                        .arg(want[i])
                                        .arg(b)
                                        .arg(a)));
            }
            ++compared;
        }
        const auto& gen = g.i32.at("gen.ids");
        if (exactInts) {
            QCOMPARE(r.genIds, gen);
        } else {
            QVERIFY(!r.genIds.empty());
            QCOMPARE(r.genIds[0], gen[0]);
        }
        ++compared;
        qInfo("%s: %d tensors compared, worst relative error %.3g at %s", qPrintable(model),
              compared, worst, qPrintable(worstName));
        QCOMPARE(compared, int(g.f32.size() + g.i32.size()) - 5);
        // image [34, 2, 64], record [34, 1, 114] and voice [34, 2, 18] exceed 1140 floats.
        if (probsBudget > 0) QCOMPARE(chunkedAttention, 3);
        // record.embd and record.blk.{0,1}.out at least.
        if (textChunk > 0) QVERIFY(chunkedText >= 3);
    }

    // The SentencePiece model stored in the file reproduces the golden ids of the texts.
    // Section 13.2 split by decoder layer and by fusion head, against the same rollout of the
    // reference's own probabilities (dec.blk.{l}.cross_attn [c, n, N_q], fusion.attn.image
    // [h, N_q, N_img]).
    void imageAttentionByLayerAndHead() {
        Golden g;
        QVERIFY(loadGolden("golden", &g));
        Run r;
        const QString err = runGolden("consilium-golden-f32.gguf", g, &r, 0);
        QVERIFY2(err.isEmpty(), qPrintable(err));
        const auto& fs = g.shape.at("fusion.attn.image");
        const int64_t heads = fs[0], nq = fs[1], nImg = fs[2];
        const auto& fusion = g.f32.at("fusion.attn.image");
        QCOMPARE(int64_t(r.imageAttnByHead.size()), heads);
        const int64_t L = int64_t(r.imageAttnByLayer.size());
        QCOMPARE(L, int64_t(r.model->dec.size()));
        auto rollout = [&](const std::vector<double>& w, int64_t onlyHead) {
            std::vector<double> m(size_t(nImg), 0.0);
            for (int64_t h = 0; h < heads; ++h) {
                if (onlyHead >= 0 && h != onlyHead) continue;
                const double share = onlyHead >= 0 ? 1.0 : 1.0 / double(heads);
                for (int64_t j = 0; j < nq; ++j)
                    for (int64_t p = 0; p < nImg; ++p)
                        m[size_t(p)] +=
                            share * w[size_t(j)] * fusion[size_t((h * nq + j) * nImg + p)];
            }
            return m;
        };
        auto layerWeights = [&](int64_t l) {
            const std::string name = "dec.blk." + std::to_string(l) + ".cross_attn";
            const auto& s = g.shape.at(name);  // [c, n, N_q]
            const auto& a = g.f32.at(name);
            std::vector<double> w(size_t(nq), 0.0);
            for (int64_t h = 0; h < s[0]; ++h)
                for (int64_t t = 0; t < s[1]; ++t)
                    for (int64_t j = 0; j < nq; ++j)
                        w[size_t(j)] += a[size_t((h * s[1] + t) * nq + j)] / double(s[0] * s[1]);
            return w;
        };
        auto close = [&](const std::vector<float>& got, const std::vector<double>& want) {
            double sum = 0, worst = 0;
            for (size_t p = 0; p < want.size(); ++p) {
                sum += got[p];
                worst = std::max(worst, std::fabs(double(got[p]) - want[p]));
            }
            return std::fabs(sum - 1.0) < 1e-4 && worst < 1e-5;
        };
        std::vector<double> all(size_t(nq), 0.0);
        double differ = 0;
        for (int64_t l = 0; l < L; ++l) {
            const auto w = layerWeights(l);
            for (int64_t j = 0; j < nq; ++j)
                all[size_t(j)] += w[size_t(j)] / double(L);
            QVERIFY2(close(r.imageAttnByLayer[size_t(l)], rollout(w, -1)),
                     qPrintable(QString("decoder layer %1").arg(l)));
            for (int64_t p = 0; p < nImg; ++p)
                differ =
                    std::max(differ, std::fabs(double(r.imageAttnByLayer[size_t(l)][size_t(p)]) -
                                               double(r.imageAttn[size_t(p)])));
        }
        for (int64_t h = 0; h < heads; ++h)
            QVERIFY2(close(r.imageAttnByHead[size_t(h)], rollout(all, h)),
                     qPrintable(QString("fusion head %1").arg(h)));
        // The split shows something the average does not.
        QVERIFY(differ > 1e-6);
    }

    void chinesePunctuationSurvivesNfkc() {
        // The function on its own: full-width after a CJK character, English untouched.
        QCOMPARE(restoreCjkPunctuation("有,乳腺癌。"), std::string("有，乳腺癌。"));
        QCOMPARE(restoreCjkPunctuation("右肺上叶,第12层。"), std::string("右肺上叶，第12层。"));
        QCOMPARE(restoreCjkPunctuation("见(注)结节?"), std::string("见（注）结节？"));
        QCOMPARE(restoreCjkPunctuation("有:无;是!"), std::string("有：无；是！"));
        QCOMPARE(restoreCjkPunctuation("Yes, breast cancer (2019)? 1,2: ok!"),
                 std::string("Yes, breast cancer (2019)? 1,2: ok!"));
        QCOMPARE(restoreCjkPunctuation(""), std::string());
        QCOMPARE(restoreCjkPunctuation(",(x"), std::string(",(x"));

        // Through the shipped model's NFKC tokenizer: Chinese answers decode as written.
        auto store =
            WeightStore::open(CONSILIUM_SOURCE_DIR "/resources/models/consilium-demo-q4_0.gguf");
        QVERIFY(store.ok());
        auto model = ConsiliumModel::load(std::shared_ptr<WeightStore>(std::move(store.value())));
        QVERIFY(model.ok());
        auto tok =
            ConsiliumTokenizer::create(model.value()->tokenizerModel(), model.value()->config());
        QVERIFY(tok.ok());
        for (const char* text : {"有，乳腺癌。", "右肺下叶，第12层。", "有，共2个结节。",
                                 "Yes, breast cancer.", "Right lower lobe, slice 12."}) {
            QCOMPARE(tok.value()->decode(tok.value()->encodeWithBos(text)), std::string(text));
        }
    }

    void tokenizer() {
        Golden g;
        QVERIFY(loadGolden("golden", &g));
        auto store = WeightStore::open((kDir + "consilium-golden-f32.gguf").toStdString());
        QVERIFY(store.ok());
        auto model = ConsiliumModel::load(std::shared_ptr<WeightStore>(std::move(store.value())));
        QVERIFY(model.ok());
        auto tok =
            ConsiliumTokenizer::create(model.value()->tokenizerModel(), model.value()->config());
        QVERIFY2(tok.ok(), tok.ok() ? "" : tok.error().message.c_str());
        const std::vector<int32_t> rec =
            tok.value()->encodeWithBos(g.inputs["record_text"].toString().toStdString());
        QCOMPARE(rec, g.i32.at("in.record_ids"));
        const std::vector<int32_t> q =
            tok.value()->encodeWithBos(g.inputs["question_text"].toString().toStdString());
        QCOMPARE(q, g.i32.at("in.question_ids"));
        const std::string text = tok.value()->decode(rec);
        QCOMPARE(QString::fromStdString(text), g.inputs["record_text"].toString());
    }

    // The session API on the golden inputs: greedy answer = gen.ids, streaming callback per
    // token, explanations normalised, cancellation by flag and by callback.
    void session() {
        Golden g;
        QVERIFY(loadGolden("golden", &g));
        auto engine = ConsiliumEngine::open((kDir + "consilium-golden-f32.gguf").toStdString());
        QVERIFY2(engine.ok(), engine.ok() ? "" : engine.error().message.c_str());
        const ConsiliumConfig& c = engine.value()->model().config();
        ConsiliumSessionOptions so;
        so.cpu.threads = 2;
        so.maxAnswerTokens = int64_t(g.i32.at("gen.ids").size());
        auto session = ConsiliumSession::create(engine.value(), so);
        QVERIFY(session.ok());
        ConsiliumInputs in;
        in.ctHu = goldenHu(g, c);
        in.mel = g.f32.at("in.mel");
        in.melFrames = g.shape.at("in.mel")[1];
        in.recordIds = g.i32.at("in.record_ids");
        in.questionIds = g.i32.at("in.question_ids");
        std::vector<int32_t> streamed;
        auto a = session.value()->ask(in, [&](int32_t id, const std::string&) {
            streamed.push_back(id);
            return true;
        });
        QVERIFY2(a.ok(), a.ok() ? "" : a.error().message.c_str());
        const auto& gen = g.i32.at("gen.ids");
        QCOMPARE(a.value().ids, std::vector<int32_t>(gen.begin() + 1, gen.end()));
        QCOMPARE(streamed, a.value().ids);
        QCOMPARE(a.value().experts.size(), a.value().ids.size());
        const auto& w = g.f32.at("fusion.weights");
        for (size_t m = 0; m < 4; ++m)
            QVERIFY(std::fabs(a.value().modalityWeights[m] - w[m]) < 1e-4);
        double sum = 0;
        for (float v : a.value().imageAttention)
            sum += v;
        QVERIFY(std::fabs(sum - 1.0) < 1e-4);
        sum = 0;
        for (float v : a.value().recordAttention)
            sum += v;
        QVERIFY(std::fabs(sum - 1.0) < 1e-4);
        // Per layer and per head (section 13.2): each sums to 1 and their means are the map.
        for (const auto* list :
             {&a.value().imageAttentionByLayer, &a.value().imageAttentionByHead}) {
            QVERIFY(!list->empty());
            for (size_t p = 0; p < a.value().imageAttention.size(); ++p) {
                double mean = 0;
                for (const auto& m : *list)
                    mean += m[p] / double(list->size());
                QVERIFY(std::fabs(mean - a.value().imageAttention[p]) < 1e-5);
            }
            for (const auto& m : *list) {
                sum = 0;
                for (float v : m)
                    sum += v;
                QVERIFY(std::fabs(sum - 1.0) < 1e-4);
            }
        }
        QCOMPARE(a.value().imageAttentionByLayer.size(), engine.value()->model().dec.size());
        QVERIFY(a.value().peakPatch >= 0 && a.value().peakPatch < c.nImg());
        for (const auto& f : a.value().findings)  // a finding in the peak patch places it
            if (f.patch == a.value().peakPatch) {
                QCOMPARE(a.value().peakGrid, f.grid);
                break;
            }
        QVERIFY(a.value().lungRads >= 0 && a.value().lungRads < 5);
        for (const auto& f : a.value().findings)
            QVERIFY(f.score >= c.detThreshold);
        // Without a CT: no findings, no image weight.
        ConsiliumInputs textOnly;
        textOnly.questionIds = in.questionIds;
        auto t = session.value()->ask(textOnly);
        QVERIFY(t.ok());
        QVERIFY(t.value().findings.empty() && t.value().imageAttention.empty());
        QCOMPARE(t.value().modalityWeights[0], 0.0f);
        QCOMPARE(t.value().modalityWeights[3], 1.0f);
        // Cancellation.
        auto stop = session.value()->ask(in, [](int32_t, const std::string&) { return false; });
        QVERIFY(!stop.ok());
        QCOMPARE(stop.error().code, ErrorCode::Cancelled);
        std::atomic<bool> cancel{true};
        auto flagged = session.value()->ask(in, {}, &cancel);
        QVERIFY(!flagged.ok());
        QCOMPARE(flagged.error().code, ErrorCode::Cancelled);
        // No query at all is refused.
        ConsiliumInputs none;
        none.recordIds = in.recordIds;
        auto refused = session.value()->ask(none);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::InvalidArgument);
    }

    // The attention peak's location (section 13): the peak patch's highest-scoring finding,
    // else the patch head's centre of that patch.
    void peakLocation() {
        ConsiliumConfig c;
        c.grid = {64, 128, 128};
        c.patch = {8, 16, 16};
        const std::vector<float> o(13, 0.f);  // sigmoid(0) = 0.5: the patch's middle
        const int64_t p = (2 * c.ny() + 3) * c.nx() + 4;
        const std::array<double, 3> centre = consiliumPatchCentre(c, p, o.data());
        QCOMPARE(centre, (std::array<double, 3>{19.5, 55.5, 71.5}));
        QCOMPARE(consiliumPeakLocation(c, p, o.data(), {}), centre);
        ConsiliumFinding elsewhere, best, second;
        elsewhere.patch = p + 1;
        elsewhere.grid = {20, 56, 80};
        elsewhere.score = 0.9f;
        best.patch = p;
        best.grid = {20.25, 50.5, 70.75};
        best.score = 0.8f;
        second.patch = p;
        second.grid = {18, 52, 66};
        second.score = 0.6f;
        QCOMPARE(consiliumPeakLocation(c, p, o.data(), {elsewhere}), centre);
        QCOMPARE(consiliumPeakLocation(c, p, o.data(), {elsewhere, best, second}), best.grid);
    }

    // Lung-RADS v2022 (baseline) per nodule, at the rounding edges, and of a list of findings.
    void lungRadsRules() {
        QCOMPARE(lungRadsV2022("solid", 5.94, 5.94), std::string("2"));
        QCOMPARE(lungRadsV2022("solid", 5.96, 5.96), std::string("3"));  // rounds to 6.0
        QCOMPARE(lungRadsV2022("solid", 7.9, 7.9), std::string("3"));
        QCOMPARE(lungRadsV2022("solid", 8.0, 8.0), std::string("4A"));
        QCOMPARE(lungRadsV2022("solid", 15.0, 15.0), std::string("4B"));
        QCOMPARE(lungRadsV2022("part-solid", 5.9, 3.0), std::string("2"));
        QCOMPARE(lungRadsV2022("part-solid", 12.0, 5.9), std::string("3"));
        QCOMPARE(lungRadsV2022("part-solid", 12.0, 6.0), std::string("4A"));
        QCOMPARE(lungRadsV2022("part-solid", 12.0, 8.0), std::string("4B"));
        QCOMPARE(lungRadsV2022("ground-glass", 29.9, 0.0), std::string("2"));
        QCOMPARE(lungRadsV2022("ground-glass", 30.0, 0.0), std::string("3"));
        // The same table as the one the phantoms' truth.json is written with, everywhere.
        const std::pair<const char*, imaging::NoduleType> types[3] = {
            {"solid", imaging::NoduleType::Solid},
            {"part-solid", imaging::NoduleType::PartSolid},
            {"ground-glass", imaging::NoduleType::GroundGlass}};
        for (const auto& [name, type] : types)
            for (int d10 = 30; d10 <= 350; ++d10)
                for (double share : {0.0, 0.3, 0.5, 0.65, 1.0}) {
                    const double d = d10 / 10.0 + 0.004, s = d * share;
                    QCOMPARE(lungRadsV2022(name, d, s), imaging::lungRadsCategory(type, d, s));
                }

        ConsiliumConfig c;
        c.detTypes = {"solid", "part-solid", "ground-glass"};
        c.lungRadsCategories = {"1", "2", "3", "4A", "4B"};
        QCOMPARE(consiliumLungRadsOfFindings(c, {}, 2.0), 0);  // no findings: "1"
        ConsiliumFinding gg;                                   // 20 mm ground-glass: 2
        gg.type = 2;
        gg.diameterGridVoxels = 10;
        ConsiliumFinding ps = gg;  // 12 mm part-solid, solid part 0.55 x 12 = 6.6 mm: 4A
        ps.type = 1;
        ps.diameterGridVoxels = 6;
        ps.solidFraction = 0.55;
        QCOMPARE(consiliumLungRadsOfFindings(c, {gg}, 2.0), 1);
        QCOMPARE(consiliumLungRadsOfFindings(c, {gg, ps}, 2.0), 3);
        ps.solidFraction = 0.45;  // 5.4 mm: 3
        QCOMPARE(consiliumLungRadsOfFindings(c, {ps, gg}, 2.0), 2);
    }

    // Section 10 through the session, on the file whose dense head reads the map alone and
    // whose Lung-RADS comes from the findings: each finding is its cell's row of
    // det.dense.raw, with the patch head's lobe logits added and the solid-part column, and
    // the category is the findings' highest. Without the grid's spacing a CT is refused.
    void denseFindingsFromTheMapAlone() {
        Golden g;
        QVERIFY(loadGolden("golden_conv_map", &g));
        auto engine =
            ConsiliumEngine::open((kDir + "consilium-golden-conv-map-f32.gguf").toStdString());
        QVERIFY2(engine.ok(), engine.ok() ? "" : engine.error().message.c_str());
        const ConsiliumConfig& c = engine.value()->model().config();
        QVERIFY(c.detDenseMapOnly && c.lungRadsFromFindings);
        QCOMPARE(c.denseCols(), int64_t(14));
        ConsiliumSessionOptions so;
        so.cpu.threads = 2;
        so.maxAnswerTokens = 2;
        auto session = ConsiliumSession::create(engine.value(), so);
        QVERIFY(session.ok());
        ConsiliumInputs in;
        in.ctHu = goldenHu(g, c);
        in.questionIds = g.i32.at("in.question_ids");
        auto refused = session.value()->ask(in);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::InvalidArgument);
        QVERIFY(refused.error().message.find("spacing") != std::string::npos);

        in.ctSpacingYxMm = 3.0;
        auto a = session.value()->ask(in);
        QVERIFY2(a.ok(), a.ok() ? "" : a.error().message.c_str());
        const auto& dense = g.f32.at("det.dense.raw");
        const auto& det = g.f32.at("det.raw");
        QVERIFY(!a.value().findings.empty());
        auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
        bool patchChangedALobe = false;
        for (const auto& f : a.value().findings) {
            int64_t cell[3];
            for (int ax = 0; ax < 3; ++ax)
                cell[ax] =
                    int64_t(std::floor((f.grid[size_t(ax)] + 0.5) / double(c.convStride(ax))));
            const int64_t k = (cell[0] * c.convCells(1) + cell[1]) * c.convCells(2) + cell[2];
            const float* o = dense.data() + k * 14;
            QCOMPARE(f.patch, c.cellPatch(cell[0], cell[1], cell[2]));
            QVERIFY(std::fabs(f.score - sig(o[0])) < 1e-4);
            QVERIFY(std::fabs(f.solidFraction - sig(o[13])) < 1e-4);
            int lobe = 0, own = 0;
            for (int i = 1; i < 5; ++i) {
                if (o[8 + i] + det[size_t(f.patch * 13 + 8 + i)] >
                    o[8 + lobe] + det[size_t(f.patch * 13 + 8 + lobe)])
                    lobe = i;
                if (o[8 + i] > o[8 + own]) own = i;
            }
            QCOMPARE(f.lobe, lobe);
            patchChangedALobe = patchChangedALobe || lobe != own;
        }
        QVERIFY2(patchChangedALobe, "no finding's lobe depends on the patch head's logits here");
        QCOMPARE(a.value().lungRads, consiliumLungRadsOfFindings(c, a.value().findings, 3.0));
    }

    // Section 10, a finding's lobe under det.lobe_plane: the patch head's lobe
    // probabilities (the finding's row added) summed over its patch and its neighbours in
    // the same slab. The same numbers as training/selftest.py check_lobe_plane.
    void findingLobeVotesInThePlane() {
        ConsiliumConfig c;
        c.grid = {8, 24, 24};
        c.patch = {4, 8, 8};  // 2 x 3 x 3 patches
        std::vector<float> det(size_t(c.nImg() * 13), 0.f);
        auto setLobe = [&](int64_t p, int lobe, float logit) {
            det[size_t(p * 13 + 8 + lobe)] = logit;
        };
        for (int64_t p = 0; p < 9; ++p)
            setLobe(p, 0, 2.f);  // slab 0: RUL around
        setLobe(4, 3, 6.f);      // the centre patch alone: LUL, surely
        for (int64_t p = 9; p < 18; ++p)
            setLobe(p, 2, 9.f);  // slab 1: RLL everywhere, never in slab 0's vote
        const float zero[14] = {};
        c.detDenseMapOnly = true;
        QCOMPARE(consiliumFindingLobe(c, zero, det.data(), 4), 3);
        c.detLobePlane = true;
        QCOMPARE(consiliumFindingLobe(c, zero, det.data(), 4), 0);
        // A corner patch: itself and 3 neighbours; two of them now LLL.
        setLobe(1, 4, 5.f);
        setLobe(3, 4, 5.f);
        QCOMPARE(consiliumFindingLobe(c, zero, det.data(), 0), 4);
        QCOMPARE(consiliumFindingLobe(c, zero, det.data(), 13), 2);
        // The finding's own row shifts every neighbour's logits.
        float row[14] = {};
        row[8 + 1] = 20.f;
        QCOMPARE(consiliumFindingLobe(c, row, det.data(), 4), 1);
        c.detLobePlane = false;
        QCOMPARE(consiliumFindingLobe(c, row, det.data(), 4), 1);
        QCOMPARE(consiliumFindingLobe(c, zero, det.data(), 0), 0);
    }

    // Missing or ill-shaped tensors are refused with the tensor's name.
    void refusesBadFiles() {
        auto open = [](const QString& f) {
            return std::shared_ptr<WeightStore>(
                std::move(WeightStore::open(f.toStdString()).value()));
        };
        auto good = ConsiliumModel::load(open(kDir + "consilium-golden-f32.gguf"));
        QVERIFY(good.ok());
        QCOMPARE(good.value()->precision(), std::string("F32"));
        auto q4 = ConsiliumModel::load(open(kDir + "consilium-golden-q4_0.gguf"));
        QVERIFY(q4.ok());
        QCOMPARE(q4.value()->precision(), std::string("Q4_0"));

        QFile f(kDir + "consilium-golden-f32.gguf");
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        QTemporaryDir tmp;
        auto patchedFrom = [&](QByteArray b, const QByteArray& from, const QByteArray& to,
                               int extra) {
            const int at = b.indexOf(from);
            if (at < 0) return QString();
            b.replace(at, from.size(), to);
            if (extra >= 0) {
                // ne[0] of a 1-D tensor: u32 n_dims follows the name, then u64 ne[0].
                const int ne = at + to.size() + 4;
                b[ne] = char(extra);
            }
            const QString path = tmp.filePath("bad.gguf");
            QFile out(path);
            if (!out.open(QIODevice::WriteOnly) || out.write(b) != b.size()) return QString();
            return path;
        };
        auto patched = [&](const QByteArray& from, const QByteArray& to, int extra) {
            return patchedFrom(bytes, from, to, extra);
        };
        // Empty when the file `src` with the last letter of `name` (a key or a tensor) turned
        // into 'z' is refused as CorruptModel naming it; otherwise what happened instead.
        auto refusedByName = [&](const QByteArray& src, const char* name) -> std::string {
            QByteArray renamed(name);
            renamed[renamed.size() - 1] = 'z';
            const QString path = patchedFrom(src, QByteArray(name), renamed, -1);
            if (path.isEmpty()) return std::string(name) + " is not in the file";
            auto r = ConsiliumModel::load(open(path));
            if (r.ok()) return std::string("loaded without ") + name;
            if (r.error().code != ErrorCode::CorruptModel ||
                r.error().message.find(name) == std::string::npos)
                return r.error().message;
            return {};
        };
        // A tensor renamed: the expected one is missing and the new name is unknown.
        QString path = patched("lung_rads.out.bias", "lung_rads.out.biaz", -1);
        QVERIFY(!path.isEmpty());
        auto missing = ConsiliumModel::load(open(path));
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().code, ErrorCode::CorruptModel);
        QVERIFY2(missing.error().message.find("lung_rads.out.bias") != std::string::npos,
                 missing.error().message.c_str());
        // A bias one element short: its shape disagrees with the keys.
        path = patched("fusion.gate_out.bias", "fusion.gate_out.bias", 3);
        QVERIFY(!path.isEmpty());
        auto shape = ConsiliumModel::load(open(path));
        QVERIFY(!shape.ok());
        QCOMPARE(shape.error().code, ErrorCode::CorruptModel);
        QVERIFY2(shape.error().message.find("fusion.gate_out.bias") != std::string::npos,
                 shape.error().message.c_str());

        // A CT stem file (section 5) loads; without its channel count or its weights it is
        // refused by name.
        QFile stemFile(kDir + "consilium-golden-stem-f32.gguf");
        QVERIFY(stemFile.open(QIODevice::ReadOnly));
        const QByteArray stemBytes = stemFile.readAll();
        auto stem = ConsiliumModel::load(open(kDir + "consilium-golden-stem-f32.gguf"));
        QVERIFY(stem.ok());
        QVERIFY(stem.value()->config().hasStem());
        QCOMPARE(stem.value()->config().patchIn(), int64_t(32 * 4));
        for (const char* name : {"consilium.ct.stem_channels", "ct.stem.weight"}) {
            const std::string why = refusedByName(stemBytes, name);
            QVERIFY2(why.empty(), why.c_str());
        }

        // A CT convolution file loads; without its strides or a layer's weights it is refused
        // by name, and a stride other than 1 or 2 is named too.
        QFile convFile(kDir + "consilium-golden-conv-f32.gguf");
        QVERIFY(convFile.open(QIODevice::ReadOnly));
        const QByteArray convBytes = convFile.readAll();
        auto conv = ConsiliumModel::load(open(kDir + "consilium-golden-conv-f32.gguf"));
        QVERIFY(conv.ok());
        QVERIFY(conv.value()->config().hasConv());
        QCOMPARE(conv.value()->config().convStride(2), int64_t(4));
        QCOMPARE(conv.value()->config().patchIn(), int64_t(8 * 8));
        // It carries the dense detection head of section 10 too.
        QCOMPARE(conv.value()->config().detDenseFfn, int64_t(24));
        QCOMPARE(conv.value()->config().convCellCount(), int64_t(8 * 8 * 8));
        for (const char* name :
             {"consilium.ct.conv_strides", "ct.conv.1.weight", "det.dense.out.weight"}) {
            const std::string why = refusedByName(convBytes, name);
            QVERIFY2(why.empty(), why.c_str());
        }
        {
            // consilium.ct.conv_strides is the u32 array 2,2,2,1,2,2: make its first entry 3.
            QByteArray b = convBytes;
            const QByteArray key("consilium.ct.conv_strides");
            const int at = b.indexOf(key);
            QVERIFY(at >= 0);
            const int first = at + key.size() + 4 + 4 + 8;  // value type, array type, count
            QCOMPARE(int(b[first]), 2);
            b[first] = 3;
            const QString bad = tmp.filePath("bad_conv_stride.gguf");
            QFile out(bad);
            QVERIFY(out.open(QIODevice::WriteOnly) && out.write(b) == b.size());
            out.close();
            auto refused = ConsiliumModel::load(open(bad));
            QVERIFY(!refused.ok());
            QVERIFY2(refused.error().message.find("stride") != std::string::npos,
                     refused.error().message.c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestConsiliumGolden)
#include "test_consilium_golden.moc"
