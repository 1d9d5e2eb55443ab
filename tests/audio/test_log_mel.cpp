// Whisper-compatible log-mel front end against the NumPy reference in
// log_mel_reference.py, on speech synthesised by espeak-ng.
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

#include "audio/audio_file.h"
#include "audio/log_mel.h"
#include "audio/resample.h"

using namespace consilium;
using namespace consilium::audio;

namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kReference = CONSILIUM_SOURCE_DIR "/tests/audio/log_mel_reference.py";

bool writeF32(const QString& path, const std::vector<float>& v) {
    std::ofstream f(path.toStdString(), std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
    return bool(f);
}

std::vector<float> readF32(const QString& path) {
    std::ifstream f(path.toStdString(), std::ios::binary | std::ios::ate);
    const auto bytes = size_t(f.tellg());
    std::vector<float> v(bytes / sizeof(float));
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
    return v;
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        m = std::max(m, double(std::abs(a[i] - b[i])));
    return m;
}

bool pythonHasNumpy() {
    QProcess p;
    p.start(kPython, {"-c", "import numpy"});
    return p.waitForFinished(30000) && p.exitCode() == 0;
}

}  // namespace

class TestLogMel : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void windowIsPeriodicHann() {
        const auto w = periodicHann(400);
        QCOMPARE(w.size(), size_t(400));
        QCOMPARE(w[0], 0.0);
        QVERIFY(std::abs(w[200] - 1.0) < 1e-15);  // periodic: peak at n/2, w[n-1] != 0
        QVERIFY(std::abs(w[100] - 0.5) < 1e-15);
        QVERIFY(w[399] > 0.0);
    }

    void filterShapeAndSlaneyArea() {
        const auto f = slaneyMelFilters(16000, 400, 80);
        QCOMPARE(f.size(), size_t(80 * 201));
        // Slaney normalisation: each triangle has area 1 in Hz (height 2 / width) -> the
        // sum of its weights times the 40 Hz bin spacing is ~1 for bands wide enough to
        // be sampled well.
        for (int m = 20; m < 80; ++m) {
            double sum = 0;
            for (int k = 0; k < 201; ++k)
                sum += f[size_t(m) * 201 + k];
            QVERIFY2(std::abs(sum * 40.0 - 1.0) < 0.1,
                     qPrintable(QString("band %1: %2").arg(m).arg(sum * 40)));
        }
        QVERIFY(slaneyMelFilters(0, 400, 80).empty());
    }

    // The parity check of the issue: max abs error <= 1e-4 on real-ish speech, and the
    // filter matrix equal to librosa's (float32).
    void matchesNumpyReference_data() {
        QTest::addColumn<QString>("voice");
        QTest::addColumn<QString>("text");
        QTest::newRow("en-us") << "en-us"
                               << "is there a nodule in the right upper lobe";
        QTest::newRow("en-gb+f3") << "en-gb+f3"
                                  << "what is the lung rads category";
        QTest::newRow("en-029") << "en-029"
                                << "how many pack years did the patient smoke";
    }
    void matchesNumpyReference() {
        QFETCH(QString, voice);
        QFETCH(QString, text);
        if (!QFile::exists(kPython) || !pythonHasNumpy())
            QSKIP("/usr/bin/python3 with numpy is not available (apt-get install python3-numpy)");
        if (QStandardPaths::findExecutable("espeak-ng").isEmpty())
            QSKIP("espeak-ng is not installed");
        const QString wav = m_dir.filePath(voice + ".wav");
        QCOMPARE(QProcess::execute("espeak-ng", {"-v", voice, "-w", wav, text}), 0);
        auto file = readAudioFile(wav.toStdString());
        QVERIFY(file.ok());
        auto speech = resampleTo(file.value());
        QVERIFY(speech.ok());

        const QString samples = m_dir.filePath(voice + ".f32"),
                      melOut = m_dir.filePath(voice + ".mel");
        const QString filtersOut = m_dir.filePath(voice + ".filters");
        QVERIFY(writeF32(samples, speech->samples));
        QProcess py;
        py.start(kPython, {kReference, samples, melOut, filtersOut});
        QVERIFY(py.waitForFinished(60000));
        QVERIFY2(py.exitCode() == 0, py.readAllStandardError().constData());

        auto front = LogMelSpectrogram::create();
        QVERIFY(front.ok());
        auto mel = front->compute(speech->samples.data(), speech->samples.size());
        QVERIFY(mel.ok());
        QCOMPARE(mel->nMels, 80);
        QCOMPARE(mel->nFrames, int(speech->samples.size() / 160));

        const auto refFilters = readF32(filtersOut);
        QCOMPARE(refFilters.size(), front->filters().size());
        const double filterErr = maxAbsDiff(refFilters, front->filters());
        QVERIFY2(filterErr <= 1e-7, qPrintable(QString("filter max abs error %1").arg(filterErr)));

        const auto refMel = readF32(melOut);
        QCOMPARE(refMel.size(), mel->values.size());
        const double err = maxAbsDiff(refMel, mel->values);
        qInfo("%s: %d frames, log-mel max abs error %.3g", qPrintable(voice), mel->nFrames, err);
        QVERIFY2(err <= 1e-4, qPrintable(QString("log-mel max abs error %1").arg(err)));
        // Speech, not a constant: the values span several decades.
        const auto [lo, hi] = std::minmax_element(mel->values.begin(), mel->values.end());
        QVERIFY(*hi - *lo > 1.0f);
        QCOMPARE(*lo, *hi - 2.0f);  // the max - 8 clamp, after (x + 4) / 4
    }

    void suppliedFiltersAreUsed() {
        std::vector<float> tone(16000);
        for (size_t i = 0; i < tone.size(); ++i)
            tone[i] = float(0.3 * std::sin(2 * M_PI * 700 * i / 16000.0));
        auto computed = LogMelSpectrogram::create();
        QVERIFY(computed.ok());
        auto same = LogMelSpectrogram::create({}, computed->filters());
        QVERIFY(same.ok());
        auto a = computed->compute(tone.data(), tone.size());
        auto b = same->compute(tone.data(), tone.size());
        QVERIFY(a.ok() && b.ok());
        QCOMPARE(a->values, b->values);

        // Filters scaled by 10: every unclamped value moves by log10(10) / 4 = 0.25 before
        // the max - 8 clamp moves with it, so the matrix shifts by exactly 0.25.
        std::vector<float> scaled = computed->filters();
        for (float& v : scaled)
            v *= 10.0f;
        auto louder = LogMelSpectrogram::create({}, scaled);
        QVERIFY(louder.ok());
        auto c = louder->compute(tone.data(), tone.size());
        QVERIFY(c.ok());
        double maxErr = 0;
        for (size_t i = 0; i < a->values.size(); ++i)
            maxErr = std::max(maxErr, std::abs(double(c->values[i] - a->values[i]) - 0.25));
        QVERIFY2(maxErr < 1e-5, qPrintable(QString::number(maxErr)));

        auto wrong = LogMelSpectrogram::create({}, std::vector<float>(80 * 200, 0.0f));
        QVERIFY(!wrong.ok());
        QCOMPARE(wrong.error().code, ErrorCode::InvalidArgument);
        std::vector<float> nan = computed->filters();
        nan[5] = std::nanf("");
        QCOMPARE(LogMelSpectrogram::create({}, nan).error().code, ErrorCode::InvalidArgument);
    }

    void framesAndBadInput() {
        auto front = LogMelSpectrogram::create();
        QVERIFY(front.ok());
        std::vector<float> s(16000 * 3, 0.0f);
        auto mel = front->compute(s.data(), s.size());
        QVERIFY(mel.ok());
        QCOMPARE(mel->nFrames, 300);  // whisper: 30 s -> 3000 frames
        // All zeros: log10(1e-10) = -10 everywhere -> (-10 + 4) / 4.
        QCOMPARE(mel->at(7, 123), -1.5f);
        auto shortest = front->compute(s.data(), 201);
        QVERIFY(shortest.ok());
        QCOMPARE(shortest->nFrames, 1);
        QCOMPARE(front->compute(s.data(), 200).error().code, ErrorCode::InvalidArgument);
        s[17] = std::nanf("");
        QCOMPARE(front->compute(s.data(), s.size()).error().code, ErrorCode::InvalidArgument);
        LogMelConfig bad;
        bad.hopLength = 0;
        QCOMPARE(LogMelSpectrogram::create(bad).error().code, ErrorCode::InvalidArgument);
    }

  private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestLogMel)
#include "test_log_mel.moc"
