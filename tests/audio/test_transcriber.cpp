// Transcription of spoken questions with the question grammar, on speech synthesised by
// espeak-ng at test time with voices the grammar was not tuned on (the tuning used en-us
// and en-gb). The full measurement (>= 100 utterances) is bench/audio/asr_bench.cpp.
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "audio/audio_file.h"
#include "audio/transcriber.h"

using namespace consilium;
using namespace consilium::audio;

namespace {

const std::string kQuestions = CONSILIUM_SOURCE_DIR "/resources/questions/questions.json";
const std::string kExtraDict = CONSILIUM_SOURCE_DIR "/resources/audio/consilium-extra.dict";
const std::string kMllr = CONSILIUM_SOURCE_DIR "/resources/audio/en-us-espeak.mllr";

bool run(const QString& program, const QStringList& args) {
    QProcess p;
    p.start(program, args);
    return p.waitForFinished(60000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

struct Utterance {
    const char* text;
    const char* voice;
    int wpm;
    const char* noise;  // "" or a sox noise type
};

// Held-out voices and accents, 130-180 wpm, a third with noise (about 25 dB SNR).
const Utterance kUtterances[] = {
    {"is there a nodule in the right upper lobe", "en-gb-scotland", 150, ""},
    {"how big is the largest nodule", "en-029", 135, ""},
    {"what is the lung rads category", "en-us+f3", 170, "whitenoise"},
    {"how old is the patient", "en-gb-x-rp", 160, ""},
    {"how many pack years did the patient smoke", "en-gb-scotland", 140, "pinknoise"},
    {"is the patient eligible for lung cancer screening", "en-us+f3", 155, ""},
    {"does the patient have pleural effusion", "en-gb-x-rp", 145, ""},
    {"what is the next step", "en-029", 175, "whitenoise"},
    {"where is the nodule", "en-us+m3", 180, ""},
    {"is the nodule ground glass", "en-gb-x-rp", 130, "pinknoise"},
    {"what is on slice forty two", "en-us+f3", 150, ""},
    {"summarize the findings", "en-us+m3", 165, ""},
};

}  // namespace

class TestTranscriber : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        if (!QFile::exists(QString(kPocketsphinxModelRoot) + "/en-us/mdef"))
            QSKIP("pocketsphinx-en-us is not installed");
        if (QStandardPaths::findExecutable("espeak-ng").isEmpty() ||
            QStandardPaths::findExecutable("sox").isEmpty())
            QSKIP("espeak-ng or sox is not installed");
        auto questions = QuestionSet::loadFile(kQuestions);
        QVERIFY(questions.ok());
        TranscriberConfig config;
        config.extraDictionary = kExtraDict;
        config.mllrTransform = kMllr;  // as the app and the CLI decode
        QCOMPARE(config.gapLimit(), TranscriberConfig::kGapLimitAdapted);
        auto t = Transcriber::create(config, std::move(questions.value()));
        QVERIFY2(t.ok(), t.ok() ? "" : t.error().toString().c_str());
        m_transcriber = std::move(t.value());
    }

    void heldOutVoicesExactMatch() {
        int exact = 0, n = 0;
        double audio = 0, decode = 0;
        for (const auto& u : kUtterances) {
            auto result = say(u.text, u.voice, u.wpm, u.noise);
            QVERIFY(result.ok());
            const Transcription& t = result.value();
            const bool ok = t.understood && t.text == u.text;
            exact += ok;
            ++n;
            audio += t.audioSeconds;
            decode += t.decodeSeconds;
            qInfo("%s %-15s %3d %-10s gap %5.2f | %s | %s", ok ? "ok  " : "MISS", u.voice, u.wpm,
                  u.noise, t.gapPerFrame, u.text,
                  t.understood ? t.text.c_str() : ("(not understood) " + t.bestGuess).c_str());
            if (ok) QVERIFY2(!t.intent.empty() && t.confidence > 0.3, u.text);
        }
        qInfo("exact match %d/%d, %.3f s decode per s audio", exact, n, decode / audio);
        QVERIFY2(exact >= n - 2, qPrintable(QString("exact match %1/%2").arg(exact).arg(n)));
    }

    void slotsAreExtracted() {
        auto result = say("is there a nodule in the left lower lobe", "en-gb-x-rp", 150, "");
        QVERIFY(result.ok());
        QVERIFY(result->understood);
        QCOMPARE(result->intent, std::string("nodule_in_lobe"));
        QCOMPARE(result->slotValues.at("lobe"), std::string("LLL"));
    }

    // Out-of-grammar speech is "not understood" (never a confident wrong question).
    void outOfGrammarIsNotUnderstood_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("voice");
        QTest::newRow("pizza") << "please order a pizza with extra cheese"
                               << "en-gb-x-rp";
        QTest::newRow("fox") << "the quick brown fox jumps over the lazy dog"
                             << "en-029";
        QTest::newRow("email") << "send an email to the hospital manager"
                               << "en-us+f3";
    }
    void outOfGrammarIsNotUnderstood() {
        QFETCH(QString, text);
        QFETCH(QString, voice);
        auto result = say(text.toStdString(), voice.toStdString(), 160, "");
        QVERIFY(result.ok());
        qInfo("gap %.2f, best guess \"%s\"", result->gapPerFrame, result->bestGuess.c_str());
        QVERIFY(!result->understood);
        QVERIFY(result->text.empty());
        QVERIFY(result->intent.empty());
        QVERIFY(!result->reason.empty());
        QVERIFY(result->confidence < 0.5);
    }

    void silenceIsNoSpeech() {
        const AudioBuffer silence{std::vector<float>(16000, 0.0f), 16000};
        auto result = m_transcriber->transcribe(silence);
        QVERIFY(result.ok());
        QVERIFY(!result->understood);
        QCOMPARE(result->reason, std::string("no speech"));
        QCOMPARE(m_transcriber->transcribe(AudioBuffer{{0.0f}, 0}).error().code,
                 ErrorCode::InvalidArgument);
    }

    void missingWordsAndModelAreReported() {
        auto questions = QuestionSet::loadJson(
            "{\"format\": \"consilium-questions\", \"version\": 1, \"slots\": {}, \"intents\": "
            "[{\"id\": \"a\", \"en\": [\"is there qxzvolumetry\"]}]}",
            "inline");
        QVERIFY(questions.ok());
        auto t = Transcriber::create(TranscriberConfig{}, questions.value());
        QVERIFY(!t.ok());
        QCOMPARE(t.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(t.error().message.find("qxzvolumetry") != std::string::npos,
                 t.error().message.c_str());

        TranscriberConfig noModel;
        noModel.acousticModel = "/nonexistent/model";
        auto m = Transcriber::create(noModel, questions.value());
        QVERIFY(!m.ok());
        QCOMPARE(m.error().code, ErrorCode::NotFound);
        QVERIFY(m.error().message.find("/nonexistent/model") != std::string::npos);

        // A missing speaker adaptation is named, not silently skipped.
        auto valid = QuestionSet::loadFile(kQuestions);
        QVERIFY(valid.ok());
        TranscriberConfig noMllr;
        noMllr.extraDictionary = kExtraDict;
        noMllr.mllrTransform = "/nonexistent/en-us-espeak.mllr";
        auto a = Transcriber::create(noMllr, valid.value());
        QVERIFY(!a.ok());
        QCOMPARE(a.error().code, ErrorCode::NotFound);
        QVERIFY2(a.error().message.find("/nonexistent/en-us-espeak.mllr") != std::string::npos,
                 a.error().message.c_str());
        // Without adaptation the limit chosen for the raw model applies.
        QCOMPARE(TranscriberConfig{}.gapLimit(), TranscriberConfig::kGapLimitUnadapted);
    }

  private:
    Result<Transcription> say(const std::string& text, const std::string& voice, int wpm,
                              const std::string& noise) {
        const QString clean = m_dir.filePath("clean.wav"), noisy = m_dir.filePath("noisy.wav");
        const QString n = m_dir.filePath("noise.wav");
        if (!run("espeak-ng", {"-v", QString::fromStdString(voice), "-s", QString::number(wpm),
                               "-w", clean, QString::fromStdString(text)}))
            return makeError(ErrorCode::Internal, "espeak-ng failed");
        QString wav = clean;
        if (!noise.empty()) {
            if (!run("sox", {clean, n, "synth", QString::fromStdString(noise), "vol", "0.02"}) ||
                !run("sox", {"-m", "-v", "1", clean, "-v", "1", n, noisy}))
                return makeError(ErrorCode::Internal, "sox failed");
            wav = noisy;
        }
        auto audio = readAudioFile(wav.toStdString());
        if (!audio) return audio.error();
        return m_transcriber->transcribe(audio.value());
    }

    QTemporaryDir m_dir;
    std::unique_ptr<Transcriber> m_transcriber;
};

QTEST_GUILESS_MAIN(TestTranscriber)
#include "test_transcriber.moc"
