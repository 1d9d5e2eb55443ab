// Audio files (libsndfile), resampling (libsoxr) and the voice-activity detector.
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

#include "audio/audio_file.h"
#include "audio/resample.h"
#include "audio/vad.h"

using namespace consilium;
using namespace consilium::audio;

namespace {

// Runs `program args`; true when it exits with 0.
bool run(const QString& program, const QStringList& args) {
    QProcess p;
    p.start(program, args);
    if (!p.waitForFinished(60000)) return false;
    return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

std::vector<float> sine(double hz, double rate, size_t n, double amplitude = 0.5) {
    std::vector<float> s(n);
    for (size_t i = 0; i < n; ++i)
        s[i] = float(amplitude * std::sin(2.0 * M_PI * hz * i / rate));
    return s;
}

// Dominant frequency by zero crossings (adequate for a clean sine).
double zeroCrossingHz(const std::vector<float>& s, double rate) {
    int crossings = 0;
    for (size_t i = 1; i < s.size(); ++i)
        crossings += (s[i - 1] < 0) != (s[i] < 0);
    return crossings / 2.0 / (double(s.size()) / rate);
}

double rms(const float* s, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += double(s[i]) * s[i];
    return n ? std::sqrt(sum / n) : 0.0;
}

}  // namespace

class TestAudioFile : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_haveSox = !QStandardPaths::findExecutable("sox").isEmpty();
    }

    // sox writes each format; libsndfile must read the same 440 Hz / 0.5 s tone back,
    // stereo mixed to mono, at the stored rate.
    void readsFormats_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QStringList>("soxOptions");
        QTest::addColumn<int>("rate");
        QTest::addColumn<QString>("format");
        QTest::newRow("wav u8 8k mono")
            << "a.wav" << QStringList{"-b", "8", "-e", "unsigned"} << 8000 << "WAV";
        QTest::newRow("wav s16 16k stereo")
            << "b.wav" << QStringList{"-b", "16", "-c", "2"} << 16000 << "WAV";
        QTest::newRow("wav s24 44.1k") << "c.wav" << QStringList{"-b", "24"} << 44100 << "WAV";
        QTest::newRow("wav s32 48k stereo")
            << "d.wav" << QStringList{"-b", "32", "-c", "2"} << 48000 << "WAV";
        QTest::newRow("wav float 22.05k")
            << "e.wav" << QStringList{"-b", "32", "-e", "floating-point"} << 22050 << "WAV";
        QTest::newRow("flac 24-bit stereo")
            << "f.flac" << QStringList{"-b", "24", "-c", "2"} << 44100 << "FLAC";
        QTest::newRow("ogg vorbis stereo") << "g.ogg" << QStringList{"-c", "2"} << 48000 << "OGG";
    }
    void readsFormats() {
        QFETCH(QString, file);
        QFETCH(QStringList, soxOptions);
        QFETCH(int, rate);
        QFETCH(QString, format);
        if (!m_haveSox) QSKIP("sox is not installed (apt-get install sox)");
        const QString path = m_dir.filePath(file);
        QStringList args{"-n", "-r", QString::number(rate)};
        args << soxOptions << path << "synth"
             << "0.5"
             << "sine"
             << "440"
             << "vol"
             << "0.5";
        QVERIFY2(run("sox", args), qPrintable("sox failed to write " + path));

        AudioFileInfo info;
        auto audio = readAudioFile(path.toStdString(), &info);
        QVERIFY2(audio.ok(), audio.ok() ? "" : audio.error().toString().c_str());
        QCOMPARE(audio->sampleRate, rate);
        QCOMPARE(info.sampleRate, rate);
        QCOMPARE(info.channels, soxOptions.contains("-c") ? 2 : 1);
        QVERIFY2(QString::fromStdString(info.format).startsWith(format), info.format.c_str());
        QVERIFY(std::abs(audio->durationSeconds() - 0.5) < 0.01);
        // Sine of amplitude 0.5: RMS 0.354 (8-bit and Vorbis lose a little).
        QVERIFY(std::abs(rms(audio->samples.data(), audio->samples.size()) - 0.3536) < 0.01);
        QVERIFY(std::abs(zeroCrossingHz(audio->samples, rate) - 440.0) < 5.0);
    }

    void stereoIsMixedDown() {
        if (!m_haveSox) QSKIP("sox is not installed (apt-get install sox)");
        // Left = sin, right = -sin: the mean of the channels is silence.
        const QString left = m_dir.filePath("l.wav"), right = m_dir.filePath("r.wav");
        const QString both = m_dir.filePath("lr.wav");
        QVERIFY(run("sox", {"-n", "-r", "16000", "-b", "16", left, "synth", "0.3", "sine", "300",
                            "vol", "0.5"}));
        QVERIFY(run("sox", {left, right, "vol", "-1"}));
        QVERIFY(run("sox", {"-M", left, right, both}));
        auto audio = readAudioFile(both.toStdString());
        QVERIFY(audio.ok());
        QCOMPARE(audio->samples.size(), size_t(4800));
        QVERIFY(rms(audio->samples.data(), audio->samples.size()) < 1e-4);
        auto mono = readAudioFile(left.toStdString());
        QVERIFY(rms(mono->samples.data(), mono->samples.size()) > 0.3);
    }

    void writeReadRoundTrip() {
        AudioBuffer a{sine(1000, 16000, 16000, 0.8), 16000};
        a.samples[10] = 1.7f;  // clipped, not wrapped
        a.samples[11] = -3.0f;
        const std::string path = m_dir.filePath("rt.wav").toStdString();
        QVERIFY(writeWav16(path, a).ok());
        AudioFileInfo info;
        auto b = readAudioFile(path, &info);
        QVERIFY(b.ok());
        QCOMPARE(info.encoding, std::string("Signed 16 bit PCM"));
        QCOMPARE(b->sampleRate, 16000);
        QCOMPARE(b->samples.size(), a.samples.size());
        QVERIFY(b->samples[10] > 0.999f);
        QVERIFY(b->samples[11] < -0.999f);
        double maxErr = 0;
        for (size_t i = 12; i < a.samples.size(); ++i)
            maxErr = std::max(maxErr, double(std::abs(a.samples[i] - b->samples[i])));
        QVERIFY(maxErr <= 1.0 / 32768 + 1e-6);
    }

    void errorsNameTheFile() {
        auto missing = readAudioFile(m_dir.filePath("nope.wav").toStdString());
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QVERIFY(missing.error().message.find("nope.wav") != std::string::npos);

        const std::string junk = m_dir.filePath("junk.wav").toStdString();
        std::ofstream(junk) << "RIFF this is not a wave file at all";
        auto corrupt = readAudioFile(junk);
        QVERIFY(!corrupt.ok());
        QCOMPARE(corrupt.error().code, ErrorCode::CorruptFile);
        QVERIFY(corrupt.error().message.find("junk.wav") != std::string::npos);

        QCOMPARE(
            writeWav16(m_dir.filePath("x.wav").toStdString(), AudioBuffer{{0.f}, 0}).error().code,
            ErrorCode::InvalidArgument);
        QCOMPARE(writeWav16("/nonexistent-dir/x.wav", AudioBuffer{{0.f}, 16000}).error().code,
                 ErrorCode::IoError);
    }

    // A 1 kHz tone keeps its frequency and level through 44.1k/48k/8k -> 16k; length is
    // the nominal one and the start is aligned (no filter delay left).
    void resamplesToSpeechRate_data() {
        QTest::addColumn<int>("inRate");
        QTest::newRow("44100") << 44100;
        QTest::newRow("48000") << 48000;
        QTest::newRow("22050") << 22050;
        QTest::newRow("8000") << 8000;
        QTest::newRow("16000") << 16000;
    }
    void resamplesToSpeechRate() {
        QFETCH(int, inRate);
        const AudioBuffer in{sine(1000, inRate, size_t(inRate), 0.5), inRate};
        auto out = resampleTo(in);
        QVERIFY(out.ok());
        QCOMPARE(out->sampleRate, 16000);
        QCOMPARE(out->samples.size(), size_t(16000));
        // Compare with the ideal 16 kHz sine away from the edges.
        const auto ideal = sine(1000, 16000, 16000, 0.5);
        double maxErr = 0;
        for (size_t i = 200; i < 15800; ++i)
            maxErr = std::max(maxErr, double(std::abs(out->samples[i] - ideal[i])));
        QVERIFY2(maxErr < 2e-3, qPrintable(QString("max error %1").arg(maxErr)));
    }

    void streamMatchesOneShot() {
        const auto in = sine(440, 48000, 48000);
        auto whole = resample(in.data(), in.size(), 48000, 16000);
        QVERIFY(whole.ok());
        auto stream = StreamResampler::create(48000, 16000);
        QVERIFY(stream.ok());
        std::vector<float> pieces;
        for (size_t i = 0; i < in.size(); i += 441)
            QVERIFY(stream.value()
                        ->process(in.data() + i, std::min<size_t>(441, in.size() - i), pieces)
                        .ok());
        QVERIFY(stream.value()->flush(pieces).ok());
        QVERIFY(std::abs(long(pieces.size()) - 16000) <= 2);
        double maxErr = 0;
        for (size_t i = 0; i < 15990; ++i)
            maxErr = std::max(maxErr, double(std::abs(pieces[i] - whole.value()[i])));
        QVERIFY2(maxErr < 1e-4, qPrintable(QString("max error %1").arg(maxErr)));
        QCOMPARE(resample(in.data(), in.size(), 0, 16000).error().code, ErrorCode::InvalidArgument);
    }

    // 0.5 s silence (with faint noise), 1 s "speech" (a modulated tone), 0.7 s silence.
    void vadTrimsLeadingAndTrailingSilence() {
        const int rate = 16000;
        std::vector<float> s(size_t(2.2 * rate));
        uint32_t seed = 1;
        for (size_t i = 0; i < s.size(); ++i) {
            seed = seed * 1664525u + 1013904223u;
            s[i] = 1e-3f * (float(seed >> 8) / float(1 << 24) - 0.5f);
        }
        for (size_t i = size_t(0.5 * rate); i < size_t(1.5 * rate); ++i)
            s[i] += float(0.3 * std::sin(2 * M_PI * 220 * i / rate) *
                          (0.6 + 0.4 * std::sin(2 * M_PI * 3 * i / rate)));
        VadOptions opt;
        const SpeechRange r = detectSpeech(s.data(), s.size(), rate, opt);
        QVERIFY(r.found);
        const double b = double(r.begin) / rate, e = double(r.end) / rate;
        QVERIFY2(std::abs(b - (0.5 - opt.padSeconds)) < 0.02, qPrintable(QString::number(b)));
        QVERIFY2(std::abs(e - (1.5 + opt.padSeconds)) < 0.02, qPrintable(QString::number(e)));
        const AudioBuffer trimmed = trimSilence(AudioBuffer{s, rate}, opt);
        QCOMPARE(trimmed.samples.size(), r.end - r.begin);
        QCOMPARE(trimmed.samples[0], s[r.begin]);
    }

    void vadFindsNoSpeechInSilenceOrSteadyNoise() {
        std::vector<float> zeros(16000, 0.0f);
        QVERIFY(!detectSpeech(zeros.data(), zeros.size(), 16000).found);
        std::vector<float> hum = sine(50, 16000, 16000, 0.05);
        QVERIFY(!detectSpeech(hum.data(), hum.size(), 16000).found);
        QVERIFY(trimSilence(AudioBuffer{zeros, 16000}).samples.empty());
        // A single 3 ms click is not speech.
        zeros[8000] = zeros[8001] = 0.9f;
        QVERIFY(!detectSpeech(zeros.data(), zeros.size(), 16000).found);
        QVERIFY(!detectSpeech(nullptr, 0, 16000).found);
    }

    void vadOnRealSpeech() {
        if (QStandardPaths::findExecutable("espeak-ng").isEmpty() || !m_haveSox)
            QSKIP("espeak-ng or sox is not installed");
        const QString raw = m_dir.filePath("say.wav"), padded = m_dir.filePath("padded.wav");
        QVERIFY(run("espeak-ng", {"-v", "en-us", "-w", raw, "how large is the nodule"}));
        QVERIFY(run("sox", {raw, padded, "pad", "1.0", "2.0"}));
        auto speech = readAudioFile(raw.toStdString());
        auto audio = readAudioFile(padded.toStdString());
        QVERIFY(speech.ok() && audio.ok());
        const AudioBuffer trimmed = trimSilence(audio.value());
        // Padding of 3 s removed; the speech itself (espeak's own edge silence aside) kept.
        QVERIFY(trimmed.durationSeconds() < speech->durationSeconds() + 0.35);
        QVERIFY(trimmed.durationSeconds() > speech->durationSeconds() - 0.5);
        const SpeechRange r =
            detectSpeech(audio->samples.data(), audio->samples.size(), audio->sampleRate);
        QVERIFY(double(r.begin) / audio->sampleRate > 0.8);
    }

  private:
    QTemporaryDir m_dir;
    bool m_haveSox = false;
};

QTEST_GUILESS_MAIN(TestAudioFile)
#include "test_audio_file.moc"
