// A capture device that stops delivering mid-recording, for real (StallingCaptureDevice: ALSA's
// `file` plugin fed from a FIFO that falls silent). PortAudio's stream starves; AudioCapture
// must end the recording by itself with AudioDeviceLost naming the device, and keep what was
// captured before (issue 4).
#include <QtTest>

#include <cmath>

#include "audio/capture.h"
#include "tests/audio/stalling_capture_device.h"

using namespace consilium;
using namespace consilium::audio;

class TestDeviceLoss : public QObject {
    Q_OBJECT
    consilium::testing::StallingCaptureDevice m_device;

  private slots:
    void initTestCase() { QVERIFY(m_device.install()); }

    void starvedDeviceIsLostAndTheAudioKept() {
        m_device.startWriter();
        auto finish = [&] { m_device.finish(); };

        auto capture = AudioCapture::open(CaptureOptions{-1, 20.0, 0.0});
        if (!capture.ok()) {
            finish();
            QFAIL(capture.error().toString().c_str());
        }
        QVERIFY(capture.value()->start().ok());
        // Ends by itself well before its 20 s maximum.
        const bool ended = capture.value()->waitUntilFinished(15.0);
        auto rec = capture.value()->stop();
        finish();
        QVERIFY(ended);
        QVERIFY(m_device.wrote());
        QVERIFY(rec.ok());
        const Recording& r = rec.value();
        QVERIFY(!r.reachedMaxLength);
        QVERIFY(!r.status.ok());
        QCOMPARE(r.status.error().code, ErrorCode::AudioDeviceLost);
        const std::string& why = r.status.error().message;
        QVERIFY2(why.find("\"default\"") != std::string::npos, why.c_str());
        qInfo("lost: %s", why.c_str());
        // What came before the stall is kept, at 16 kHz.
        QCOMPARE(r.audio.sampleRate, 16000);
        const double seconds = double(r.audio.samples.size()) / 16000.0;
        QVERIFY2(seconds > 0.2 && seconds < 10.0, qPrintable(QString::number(seconds)));
        float peak = 0;
        for (float s : r.audio.samples)
            peak = std::max(peak, std::fabs(s));
        QVERIFY2(peak > 0.01f, qPrintable(QString::number(peak)));
    }
};

QTEST_GUILESS_MAIN(TestDeviceLoss)
#include "test_device_loss.moc"
