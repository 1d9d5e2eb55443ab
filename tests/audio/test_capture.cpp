// PortAudio capture on ALSA's null device (tests/CMakeLists.txt points ALSA_CONFIG_PATH at
// a configuration whose default pcm is `type null`), and the lock-free ring buffer.
#include <QtTest>

#include <thread>

#include "audio/audio_devices.h"
#include "audio/capture.h"
#include "audio/playback.h"
#include "audio/ring_buffer.h"

using namespace consilium;
using namespace consilium::audio;

class TestCapture : public QObject {
    Q_OBJECT

  private slots:
    void ringBufferKeepsOrderAcrossThreads() {
        SpscRingBuffer ring(1000);
        QCOMPARE(ring.capacity(), size_t(1024));
        constexpr size_t kTotal = 2'000'000;
        std::thread producer([&] {
            std::vector<float> block(257);
            size_t next = 0;
            while (next < kTotal) {
                const size_t n = std::min(block.size(), kTotal - next);
                for (size_t i = 0; i < n; ++i)
                    block[i] = float(next + i);  // exact below 2^24
                size_t done = 0;
                while (done < n)
                    done += ring.write(block.data() + done, n - done);
                next += n;
            }
        });
        std::vector<float> out(300);
        size_t expected = 0;
        bool inOrder = true;
        while (expected < kTotal) {
            const size_t got = ring.read(out.data(), out.size());
            for (size_t i = 0; i < got; ++i)
                inOrder &= out[i] == float(expected + i);
            expected += got;
        }
        producer.join();
        QVERIFY(inOrder);
        QCOMPARE(ring.available(), size_t(0));
        // Full buffer: writes are cut, not wrapped over unread data.
        std::vector<float> big(2000, 1.0f);
        QCOMPARE(ring.write(big.data(), big.size()), size_t(1024));
        QCOMPARE(ring.write(big.data(), 1), size_t(0));
    }

    void nullDeviceIsVisible() {
        QVERIFY2(qEnvironmentVariable("ALSA_CONFIG_PATH").endsWith("asound-null.conf"),
                 "run through ctest: the null ALSA configuration is set there");
        auto devices = listInputDevices();
        QVERIFY2(devices.ok(), devices.ok() ? "" : devices.error().toString().c_str());
        bool haveDefault = false;
        for (const auto& d : devices.value())
            haveDefault |= d.isDefault;
        QVERIFY2(haveDefault, "PortAudio lists no default input on the null ALSA device");
        // Remembered by name: the configuration's extra null pcm is found again.
        auto index = findInputDevice("consilium_null");
        QVERIFY2(index.ok(), index.ok() ? "" : index.error().toString().c_str());
        bool same = false;
        for (const auto& d : devices.value())
            same |= d.name == "consilium_null" && d.index == index.value();
        QVERIFY(same);
        QCOMPARE(findInputDevice("no such microphone").error().code, ErrorCode::NotFound);
    }

    // One second from the null device comes back as ~16000 samples at 16 kHz, silent.
    void recordsOneSecond() {
        auto capture = AudioCapture::open(CaptureOptions{-1, 1.0, 0.0});
        QVERIFY2(capture.ok(), capture.ok() ? "" : capture.error().toString().c_str());
        auto& c = *capture.value();
        QVERIFY(c.nativeSampleRate() > 0);
        QVERIFY(!c.isRecording());
        QVERIFY(c.start().ok());
        QVERIFY(!c.start().ok());  // twice is an error, not a crash
        QVERIFY2(c.waitUntilFinished(10.0), "the null device did not deliver 1 s within 10 s");
        QVERIFY(!c.isRecording());
        QVERIFY(std::abs(c.recordedSeconds() - 1.0) < 1e-3);
        auto rec = c.stop();
        QVERIFY(rec.ok());
        QVERIFY2(rec->status.ok(), rec->status.ok() ? "" : rec->status.error().toString().c_str());
        QVERIFY(rec->reachedMaxLength);
        QCOMPARE(rec->audio.sampleRate, 16000);
        qInfo("native rate %.0f Hz, %zu samples at 16 kHz", rec->nativeSampleRate,
              rec->audio.samples.size());
        QVERIFY2(std::abs(long(rec->audio.samples.size()) - 16000) <= 16,
                 qPrintable(QString::number(rec->audio.samples.size())));
        QCOMPARE(rec->droppedSamples, size_t(0));
        // ALSA's null device does not fill the buffers it hands over, so the content is
        // whatever memory held; the capture must still deliver finite samples in [-1, 1].
        bool sane = true;
        for (float s : rec->audio.samples)
            sane &= std::isfinite(s) && std::abs(s) <= 1.01f;
        QVERIFY(sane);
        QVERIFY(c.level().peak >= 0.0f && c.level().peak <= 1.0f);
        QVERIFY(c.level().rms >= 0.0f && c.level().rms <= c.level().peak + 1e-6f);
    }

    // ALSA's null device delivers faster than real time (30 s in well under 0.3 s here), so
    // "stop early" is checked for consistency rather than against the wall clock: whatever
    // was captured when stop() came is what comes back, resampled, minus counted overruns.
    void stopEarlyAndCancel() {
        auto capture = AudioCapture::open(CaptureOptions{-1, 5.0, 48000.0});
        QVERIFY(capture.ok());
        auto& c = *capture.value();
        QCOMPARE(c.nativeSampleRate(), 48000.0);
        QVERIFY(c.start().ok());
        auto rec = c.stop();
        QVERIFY(rec.ok());
        QVERIFY(rec->status.ok());
        const double kept = c.recordedSeconds() - double(rec->droppedSamples) / 48000.0;
        QVERIFY(c.recordedSeconds() <= 5.0 + 1e-9);
        QVERIFY2(
            std::abs(rec->audio.durationSeconds() - kept) < 2e-3,
            qPrintable(
                QString("%1 s returned, %2 s kept").arg(rec->audio.durationSeconds()).arg(kept)));
        QCOMPARE(rec->reachedMaxLength, c.recordedSeconds() >= 5.0 - 1e-9);

        auto second = AudioCapture::open(CaptureOptions{-1, 30.0, 44100.0});
        QVERIFY(second.ok());
        QCOMPARE(second.value()->nativeSampleRate(), 44100.0);
        QVERIFY(second.value()->start().ok());
        second.value()->cancel();
        QVERIFY(!second.value()->isRecording());
        QCOMPARE(second.value()->stop().error().code, ErrorCode::InvalidArgument);
    }

    void badArguments() {
        QCOMPARE(AudioCapture::open(CaptureOptions{-1, 0.0, 0.0}).error().code,
                 ErrorCode::InvalidArgument);
        auto out = AudioCapture::open(CaptureOptions{100000, 1.0, 0.0});
        QVERIFY(!out.ok());
        QCOMPARE(out.error().code, ErrorCode::InvalidArgument);
    }

    void playsBackOnTheNullDevice() {
        // The test harness's default output is ALSA's null device: it consumes in real time.
        AudioBuffer tone;
        tone.sampleRate = 16000;
        tone.samples.resize(4000);  // 0.25 s
        for (size_t i = 0; i < tone.samples.size(); ++i)
            tone.samples[i] = 0.2f * float(std::sin(0.2 * double(i)));
        const Status played = playAudio(tone);
        QVERIFY2(played.ok(), played.ok() ? "" : played.error().toString().c_str());
        // Stopped before it starts: returns at once, still no error.
        std::atomic<bool> stop{true};
        QVERIFY(playAudio(tone, &stop).ok());
        QCOMPARE(playAudio(AudioBuffer{}).error().code, ErrorCode::InvalidArgument);
    }
};

QTEST_GUILESS_MAIN(TestCapture)
#include "test_capture.moc"
