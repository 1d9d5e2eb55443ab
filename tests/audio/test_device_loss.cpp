// A capture device that stops delivering mid-recording, for real: ALSA's `file` plugin reads
// its capture data from a FIFO this test writes (about a second of audio), then the writer
// falls silent. PortAudio's stream starves; AudioCapture must end the recording by itself with
// AudioDeviceLost naming the device, and keep what was captured before (issue 4).
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "audio/capture.h"

using namespace consilium;
using namespace consilium::audio;

class TestDeviceLoss : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    QString m_fifo;

  private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_fifo = m_dir.filePath("capture.fifo");
        QVERIFY(::mkfifo(m_fifo.toLocal8Bit().constData(), 0600) == 0);
        QFile conf(m_dir.filePath("asound.conf"));
        QVERIFY(conf.open(QIODevice::WriteOnly));
        conf.write(QStringLiteral("</usr/share/alsa/alsa.conf>\n"
                                  "pcm.!default { type file slave.pcm \"null\" file \"/dev/null\" "
                                  "infile \"%1\" format \"raw\" }\n"
                                  "ctl.!default { type hw card 0 }\n")
                       .arg(m_fifo)
                       .toUtf8());
        conf.close();
        // A reader that goes away must give EPIPE to the writer, not kill the test.
        ::signal(SIGPIPE, SIG_IGN);
        // Before PortAudio (and ALSA) first read their configuration in this process.
        qputenv("ALSA_CONFIG_PATH", conf.fileName().toLocal8Bit());
    }

    void starvedDeviceIsLostAndTheAudioKept() {
        std::atomic<bool> wrote{false}, done{false};
        std::thread writer([this, &wrote, &done] {
            std::vector<int16_t> tone(96000);  // about a second at any common rate and format
            for (size_t i = 0; i < tone.size(); ++i)
                tone[i] = int16_t(6000 * std::sin(0.05 * double(i)));
            // PortAudio opens and closes the device while it probes: a connection can end
            // under the writer (EPIPE), then the next one is waited for and fed from the start.
            int fd = -1;
            for (int tries = 0; tries < 2000 && !done.load() && !wrote.load(); ++tries) {
                fd = ::open(m_fifo.toLocal8Bit().constData(), O_WRONLY | O_NONBLOCK);
                if (fd < 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    continue;
                }
                ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
                const char* p = reinterpret_cast<const char*>(tone.data());
                size_t left = tone.size() * sizeof(int16_t);
                while (left > 0 && !done.load()) {
                    const ssize_t n = ::write(fd, p, left);
                    if (n <= 0) break;
                    p += n;
                    left -= size_t(n);
                }
                if (left == 0) {
                    wrote.store(true);
                    break;
                }
                ::close(fd);
                fd = -1;
            }
            // Silent but open: the device is still there and delivers nothing.
            for (int i = 0; i < 100 && !done.load(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            if (fd >= 0) ::close(fd);
        });
        auto finish = [&] {
            done.store(true);
            writer.join();
        };

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
        QVERIFY(wrote.load());
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
