// Tokenizers (tokenizer.ggml.* "llama" and "gpt2"), the sampler and the generation loop.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <map>

#include "inference/generate.h"
#include "inference/test_model.h"

using namespace consilium;
using namespace consilium::inference;

namespace {

struct Loaded {
    std::shared_ptr<WeightStore> store;
    std::unique_ptr<Tokenizer> tok;
};

Loaded load(const QTemporaryDir& dir, const RandomLlamaSpec& spec) {
    const std::string path =
        (dir.path() + "/" + QString::fromStdString(spec.tokenizer) + ".gguf").toStdString();
    Loaded l;
    if (!writeRandomLlama(spec, path).ok()) return l;
    auto s = WeightStore::open(path);
    if (!s.ok()) return l;
    l.store = std::move(s.value());
    auto t = Tokenizer::fromGguf(l.store->file());
    if (t.ok()) l.tok = std::move(t.value());
    return l;
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
  private slots:
    void sentencePieceStyle() {
        QTemporaryDir dir;
        RandomLlamaSpec spec;
        auto l = load(dir, spec);
        QVERIFY(l.tok);
        const Tokenizer& t = *l.tok;
        QCOMPARE(t.kind(), Tokenizer::Kind::SentencePiece);
        QCOMPARE(t.bos(), 1);
        QCOMPARE(t.eos(), 2);
        const std::string sp = "\xE2\x96\x81";
        // "ab a" -> "▁ab" "▁a": the best-scoring merges first (llama.cpp llm_tokenizer_spm).
        auto ids = t.encode("ab a", true);
        QCOMPARE(ids.size(), size_t(3));
        QCOMPARE(ids[0], 1);
        QCOMPARE(t.tokenText(ids[1]), sp + "ab");
        QCOMPARE(t.tokenText(ids[2]), sp + "a");
        QCOMPARE(t.decode(ids), std::string("ab a"));
        // Characters outside the vocabulary fall back to byte tokens.
        ids = t.encode("\xC3\xA9!", false);  // "é!"
        QVERIFY(ids.size() >= 3);
        QCOMPARE(t.tokenText(ids[ids.size() - 3]), std::string("<0xC3>"));
        QCOMPARE(t.tokenText(ids[ids.size() - 2]), std::string("<0xA9>"));
        QCOMPARE(t.tokenText(ids.back()), std::string("<0x21>"));
        for (const char* s :
             {"hello world", "  two  spaces", "line\nbreak", "x", "\xE2\x82\xAC 5"}) {
            QCOMPARE(QString::fromStdString(t.decode(t.encode(s, true))), QString::fromUtf8(s));
        }
        QCOMPARE(t.piece(1), std::string());  // control token
        QVERIFY(t.isEndOfGeneration(2));
    }

    void byteLevelBpe() {
        QTemporaryDir dir;
        RandomLlamaSpec spec;
        spec.tokenizer = "gpt2";
        spec.vocab = 1000;
        auto l = load(dir, spec);
        QVERIFY(l.tok);
        const Tokenizer& t = *l.tok;
        QCOMPARE(t.kind(), Tokenizer::Kind::BytePairGpt2);
        QVERIFY(!t.addBosByDefault());
        const std::string G = "\xC4\xA0";  // U+0120, GPT-2's space
        auto ids = t.encode("hello world", false);
        std::vector<std::string> texts;
        for (int32_t id : ids)
            texts.push_back(t.tokenText(id));
        const std::vector<std::string> want = {"h", "e", "l", "l", "o", G + "wo", "r", "l", "d"};
        QCOMPARE(texts, want);
        for (const char* s :
             {"hello world", "it's 42 cats!!", "tab\there\n\nnew", "na\xC3\xAFve \xE2\x82\xAC"}) {
            QCOMPARE(t.decode(t.encode(s, false)), std::string(s));
        }
        QVERIFY(t.isEndOfGeneration(int32_t(t.size() - 1)));
    }

    void sampler() {
        const float logits[5] = {0.5f, 2.0f, 1.0f, -1.0f, 1.9f};
        Sampler greedy(5, {0.0f, 40, 1.0f, 1});
        QCOMPARE(greedy.sample(logits), 1);
        Sampler top1(5, {1.5f, 1, 1.0f, 7});
        for (int i = 0; i < 50; ++i)
            QCOMPARE(top1.sample(logits), 1);
        // Top-p 0.3: only the most likely token is inside the nucleus.
        Sampler nucleus(5, {1.0f, 0, 0.3f, 3});
        for (int i = 0; i < 50; ++i)
            QCOMPARE(nucleus.sample(logits), 1);
        // Temperature 1, no cuts: frequencies follow the softmax.
        Sampler full(5, {1.0f, 0, 1.0f, 11});
        std::map<int, int> counts;
        const int draws = 40000;
        for (int i = 0; i < draws; ++i)
            ++counts[full.sample(logits)];
        double z = 0;
        for (float x : logits)
            z += std::exp(double(x));
        for (int v = 0; v < 5; ++v) {
            const double p = std::exp(double(logits[v])) / z;
            QVERIFY2(std::fabs(counts[v] / double(draws) - p) < 0.01,
                     qPrintable(QString::number(v)));
        }
        // Top-k 2: only tokens 1 and 4.
        Sampler k2(5, {1.0f, 2, 1.0f, 5});
        for (int i = 0; i < 200; ++i) {
            const int s = k2.sample(logits);
            QVERIFY(s == 1 || s == 4);
        }
        // Same seed, same sequence.
        Sampler a(5, {1.0f, 0, 1.0f, 99}), b(5, {1.0f, 0, 1.0f, 99});
        for (int i = 0; i < 100; ++i)
            QCOMPARE(a.sample(logits), b.sample(logits));
    }

    void generation() {
        QTemporaryDir dir;
        RandomLlamaSpec spec;
        spec.type = DType::Q8_0;
        const std::string path = (dir.path() + "/g.gguf").toStdString();
        QVERIFY(writeRandomLlama(spec, path).ok());
        auto store = WeightStore::open(path);
        QVERIFY(store.ok());
        std::shared_ptr<WeightStore> ws(std::move(store.value()));
        auto tok = Tokenizer::fromGguf(ws->file());
        QVERIFY(tok.ok());
        auto model = LlamaModel::load(ws);
        QVERIFY(model.ok());
        SessionOptions so;
        so.maxContext = 64;
        so.maxBatch = 4;  // the prompt takes several batches
        auto session = LlamaSession::create(model.value(), so);
        QVERIFY(session.ok());
        LlamaSession& s = *session.value();

        GenerateOptions go;
        go.maxNewTokens = 12;
        go.sampling.temperature = 0.0f;
        go.stopAtEndOfGeneration = false;
        std::vector<int32_t> streamed;
        go.onToken = [&](int32_t t, const std::string&) {
            streamed.push_back(t);
            return true;
        };
        auto r = generate(s, *tok.value(), "the quick brown fox", go);
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().toString().c_str());
        QCOMPARE(r->tokens.size(), size_t(12));
        QCOMPARE(streamed, r->tokens);
        QCOMPARE(r->stopReason, std::string("length"));
        QVERIFY(r->promptTokens.size() > 4);
        // Greedy generation equals feeding the tokens back by hand.
        s.reset();
        std::vector<int32_t> all = r->promptTokens;
        for (size_t i = 0; i < all.size(); i += 4) {
            QVERIFY(s.forward(all.data() + i, std::min<int64_t>(4, int64_t(all.size() - i))).ok());
        }
        for (size_t i = 0; i < r->tokens.size(); ++i) {
            const float* lg = s.logits();
            const int32_t best = int32_t(std::max_element(lg, lg + s.vocab()) - lg);
            QCOMPARE(best, r->tokens[i]);
            QVERIFY(s.forward(&best, 1).ok());
        }
        std::string pieces;
        for (int32_t id : r->tokens)
            pieces += tok.value()->piece(id);
        QCOMPARE(r->text, pieces);

        // Stop token, callback stop, cancellation.
        go.stopTokens = {r->tokens[3]};
        auto r2 = generate(s, *tok.value(), "the quick brown fox", go);
        QVERIFY(r2.ok());
        QCOMPARE(r2->stopReason, std::string("stop-token"));
        QVERIFY(r2->tokens.size() <= 3);
        go.stopTokens.clear();
        int calls = 0;
        go.onToken = [&](int32_t, const std::string&) { return ++calls < 2; };
        auto r3 = generate(s, *tok.value(), "x", go);
        QCOMPARE(r3->stopReason, std::string("callback"));
        QCOMPARE(r3->tokens.size(), size_t(2));
        std::atomic<bool> cancel{false};
        go.cancel = &cancel;
        go.onToken = [&](int32_t, const std::string&) {
            cancel = true;
            return true;
        };
        auto r4 = generate(s, *tok.value(), "x", go);
        QVERIFY(!r4.ok());
        QCOMPARE(int(r4.error().code), int(ErrorCode::Cancelled));
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
