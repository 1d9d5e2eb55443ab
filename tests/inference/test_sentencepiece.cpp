// A SentencePiece model embedded in a GGUF file (u8 array) loads through GgufFile and
// tokenizes exactly as libsentencepiece does with the same model.
#include <QTemporaryDir>
#include <QtTest>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "inference/gguf_writer.h"
#include "inference/sentencepiece_tokenizer.h"

using namespace consilium;
using namespace consilium::inference;

namespace {

class Lines : public sentencepiece::SentenceIterator {
  public:
    explicit Lines(std::vector<std::string> v) : m_v(std::move(v)) {}
    bool done() const override { return m_i >= m_v.size(); }
    void Next() override { ++m_i; }
    const std::string& value() const override { return m_v[m_i]; }
    sentencepiece::util::Status status() const override { return {}; }

  private:
    std::vector<std::string> m_v;
    size_t m_i = 0;
};

}  // namespace

class TestSentencePiece : public QObject {
    Q_OBJECT
  private slots:
    void embeddedModel() {
        std::vector<std::string> text;
        const char* base[] = {"the patient reports chest pain since yesterday",
                              "no prior cardiac history, smoker for twenty years",
                              "computed tomography shows a nodule in the right upper lobe",
                              "question: is the nodule larger than on the previous study?"};
        for (int r = 0; r < 50; ++r)
            for (const char* s : base)
                text.push_back(std::string(s) + " " + std::to_string(r));
        Lines lines(text);
        std::string proto;
        const auto st = sentencepiece::SentencePieceTrainer::Train(
            "--vocab_size=120 --model_type=bpe --character_coverage=1.0 --minloglevel=2", &lines,
            &proto);
        QVERIFY2(st.ok(), st.ToString().c_str());

        QTemporaryDir dir;
        const std::string path = (dir.path() + "/sp.gguf").toStdString();
        GgufWriter w;
        w.setString("general.architecture", "consilium");
        w.setU8Array(SentencePieceTokenizer::kDefaultKey, proto);
        QVERIFY(w.write(path).ok());
        auto f = GgufFile::open(path);
        QVERIFY(f.ok());
        auto tok = SentencePieceTokenizer::fromGguf(*f.value());
        QVERIFY2(tok.ok(), tok.ok() ? "" : tok.error().toString().c_str());
        QCOMPARE(tok.value()->size(), int64_t(120));
        QCOMPARE(tok.value()->decode(tok.value()->encode("the nodule is larger", true)),
                 std::string("the nodule is larger"));

        sentencepiece::SentencePieceProcessor sp;
        QVERIFY(sp.LoadFromSerializedProto(proto).ok());
        for (const char* s :
             {"the nodule is larger", "chest pain, smoker", "unseen words xyz 42"}) {
            std::vector<int> want;
            QVERIFY(sp.Encode(s, &want).ok());
            const auto got = tok.value()->encode(s, false);
            QCOMPARE(std::vector<int>(got.begin(), got.end()), want);
            std::string decoded;
            QVERIFY(sp.Decode(want, &decoded).ok());
            QCOMPARE(tok.value()->decode(got), decoded);
            const auto withBos = tok.value()->encode(s, true);
            QCOMPARE(withBos.front(), tok.value()->bos());
            // Spans: the same ids, in order, tiling the input bytes without overlap.
            const auto spans = tok.value()->encodeWithSpans(s);
            QCOMPARE(spans.size(), got.size());
            size_t at = 0;
            for (size_t i = 0; i < spans.size(); ++i) {
                QCOMPARE(spans[i].id, got[i]);
                QVERIFY(spans[i].begin >= at && spans[i].end >= spans[i].begin);
                at = spans[i].end;
            }
            QCOMPARE(at, std::string(s).size());
        }
        GgufWriter none;
        none.setString("general.architecture", "consilium");
        const std::string p2 = (dir.path() + "/none.gguf").toStdString();
        QVERIFY(none.write(p2).ok());
        auto f2 = GgufFile::open(p2);
        QVERIFY(f2.ok());
        auto missing = SentencePieceTokenizer::fromGguf(*f2.value());
        QCOMPARE(int(missing.error().code), int(ErrorCode::CorruptModel));
        auto bad = SentencePieceTokenizer::fromSerializedProto("not a proto", "test");
        QVERIFY(!bad.ok());
        QCOMPARE(int(bad.error().code), int(ErrorCode::CorruptModel));
    }
};

QTEST_GUILESS_MAIN(TestSentencePiece)
#include "test_sentencepiece.moc"
