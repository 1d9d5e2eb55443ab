// The byte-level BPE pre-tokenizers (inference/pretokenizer.h) against Python's `regex`
// module running the same expressions (pretokenize_reference.py), on text that exercises
// every alternative: contractions in both cases, digit runs, Chinese, accented and other
// scripts, punctuation runs, CR/LF and space runs, leading and trailing whitespace.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

#include "inference/pretokenizer.h"

using namespace consilium::inference;

namespace {

const char* kTexts[] = {
    "Hello world",
    "I'm sure it's what they'd've wanted, WE'LL SEE, it'S fine",
    "The patient is 67 years old; 40 pack-years (quit in 2009). Call 555-0123456!",
    "  leading spaces and trailing   ",
    "line one\nline two\r\n\r\n  indented\n\n\ttabbed\t\n",
    "患者女性，58岁。既往吸烟，已戒烟8年，累计30包年。",
    "Ünïcödé façade — naïve café; Ελληνικά; русский текст; العربية ٣٤٥",
    "emoji 😀😀 and symbols ©®™ $100.00 + 7% = ???",
    "code: x=a+b*(c-d)/e; if(x>=10){return 'ok';}",
    "numbers 1 12 123 1234 12345 1234567 and ½ ¼ Ⅻ",
    "...!!!   ???\n\n\n",
    "'s 'S 'Re 'VE 'll 'D 'x",
    "a\u00a0b\u2003c\u3000d",
    "tabs\t\tand\u2028separators\u2029here",
    " ",
    "\n",
    "x",
    "カタカナとひらがな、漢字123four56,seven; ñ̃ combining marks e\u0301",
    ".NET #include <x> a-b_c @user $HOME",
    // DeepSeek LLM's lists: Hangul, full-width punctuation, Greek extended (U+1F7D, U+1FBE),
    // the Ohm and Kelvin signs, Deseret; a run of spaces at the very end.
    "\uD55C\uAD6D\uC5B4 \uD14D\uC2A4\uD2B8\uFF01\uFF08\u5168\u89D2\uFF09 \u1F7D\u1FBE "
    "\u2126hm \u212Aelvin \U00010400\U00010428 x\u2018q\u201F\u3001 end   ",
};

}  // namespace

class TestPreTokenizer : public QObject {
    Q_OBJECT
  private slots:
    void namesMapToExpressions() {
        QVERIFY(preTokenizerNamed("") == PreTokenizer::Gpt2);
        QVERIFY(preTokenizerNamed("default") == PreTokenizer::Gpt2);
        QVERIFY(preTokenizerNamed("llama-bpe") == PreTokenizer::Llama3);
        QVERIFY(preTokenizerNamed("qwen2") == PreTokenizer::Qwen2);
        QVERIFY(preTokenizerNamed("deepseek-v3") == PreTokenizer::DeepSeekV3);
        QVERIFY(preTokenizerNamed("deepseek-llm") == PreTokenizer::DeepSeekLlm);
        QVERIFY(preTokenizerNamed("deepseek-coder") == PreTokenizer::DeepSeekCoder);
        QVERIFY(!preTokenizerNamed("deepseek-r2").has_value());
    }

    void matchesPythonRegex() {
        QJsonArray texts;
        for (const char* t : kTexts)
            texts.append(QString::fromUtf8(t));
        QProcess py;
        py.start("/usr/bin/python3",
                 {CONSILIUM_SOURCE_DIR "/tests/inference/pretokenize_reference.py"});
        QVERIFY(py.waitForStarted());
        py.write(QJsonDocument(texts).toJson());
        py.closeWriteChannel();
        QVERIFY(py.waitForFinished(60000));
        const QByteArray err = py.readAllStandardError();
        if (err.contains("No module named 'regex'")) QSKIP("python3-regex is not installed");
        QVERIFY2(py.exitCode() == 0, err.constData());
        const QJsonObject ref = QJsonDocument::fromJson(py.readAllStandardOutput()).object();
        const std::pair<const char*, PreTokenizer> kinds[] = {
            {"gpt2", PreTokenizer::Gpt2},
            {"llama3", PreTokenizer::Llama3},
            {"qwen2", PreTokenizer::Qwen2},
            {"deepseek-v3", PreTokenizer::DeepSeekV3},
            {"deepseek-llm", PreTokenizer::DeepSeekLlm},
            {"deepseek-coder", PreTokenizer::DeepSeekCoder}};
        int compared = 0;
        for (const auto& [name, kind] : kinds) {
            const QJsonArray all = ref[name].toArray();
            QCOMPARE(all.size(), texts.size());
            for (int i = 0; i < texts.size(); ++i) {
                QStringList want, got;
                for (const auto& v : all[i].toArray())
                    want << v.toString();
                for (const std::string& p : preTokenize(kind, kTexts[i]))
                    got << QString::fromStdString(p);
                QVERIFY2(got == want,
                         qPrintable(QStringLiteral("%1, text %2:\n  got  [%3]\n  want [%4]")
                                        .arg(name)
                                        .arg(i)
                                        .arg(got.join("|"))
                                        .arg(want.join("|"))));
                ++compared;
            }
        }
        QCOMPARE(compared, 6 * int(std::size(kTexts)));
        // The expressions really differ on this text: digits group by three, or not at all.
        QCOMPARE(preTokenize(PreTokenizer::Llama3, "12345").size(), size_t(2));
        QCOMPARE(preTokenize(PreTokenizer::Qwen2, "12345").size(), size_t(5));
        QCOMPARE(preTokenize(PreTokenizer::Gpt2, "12345").size(), size_t(1));
        // DeepSeek-V3: digits by three first, then CJK runs, whatever surrounds them.
        QCOMPARE(preTokenize(PreTokenizer::DeepSeekV3, "ab12345患者x"),
                 (std::vector<std::string>{"ab", "123", "45", "患者", "x"}));
        // DeepSeek LLM keeps digit runs whole, DeepSeek Coder cuts every digit.
        QCOMPARE(preTokenize(PreTokenizer::DeepSeekLlm, "ab 12345"),
                 (std::vector<std::string>{"ab", " ", "12345"}));
        QCOMPARE(preTokenize(PreTokenizer::DeepSeekCoder, "ab 123"),
                 (std::vector<std::string>{"ab", " ", "1", "2", "3"}));
    }
};

QTEST_GUILESS_MAIN(TestPreTokenizer)
#include "test_pretokenizer.moc"
