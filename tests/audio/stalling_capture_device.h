// A capture device that stops delivering mid-recording, for real: ALSA's `file` plugin reads
// its capture data from a FIFO that this helper writes (about a second of audio), then the
// writer falls silent while keeping the FIFO open, so the device is still there and delivers
// nothing. PortAudio's stream starves. Used by tests/audio/test_device_loss (the capture
// alone) and tests/ui/test_voice_device_loss (the Voice dock).
//
// install() must run before PortAudio (and so ALSA) first reads its configuration in the
// process: it points ALSA_CONFIG_PATH at a configuration whose default PCM is that FIFO.
#pragma once

#include <QFile>
#include <QString>
#include <QTemporaryDir>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

namespace consilium::testing {

class StallingCaptureDevice {
  public:
    ~StallingCaptureDevice() { finish(); }

    // False when the FIFO or the configuration cannot be written.
    bool install() {
        if (!m_dir.isValid()) return false;
        m_fifo = m_dir.filePath("capture.fifo");
        if (::mkfifo(m_fifo.toLocal8Bit().constData(), 0600) != 0) return false;
        QFile conf(m_dir.filePath("asound.conf"));
        if (!conf.open(QIODevice::WriteOnly)) return false;
        conf.write(QStringLiteral("</usr/share/alsa/alsa.conf>\n"
                                  "pcm.!default { type file slave.pcm \"null\" file \"/dev/null\" "
                                  "infile \"%1\" format \"raw\" }\n"
                                  "ctl.!default { type hw card 0 }\n")
                       .arg(m_fifo)
                       .toUtf8());
        conf.close();
        // A reader that goes away must give EPIPE to the writer, not kill the test.
        ::signal(SIGPIPE, SIG_IGN);
        qputenv("ALSA_CONFIG_PATH", conf.fileName().toLocal8Bit());
        return true;
    }

    // Feeds about a second of a tone (at any common rate and format) to the first reader
    // that stays, then stays silent for up to 5 s.
    void startWriter() {
        m_writer = std::thread([this] {
            std::vector<int16_t> tone(96000);
            for (size_t i = 0; i < tone.size(); ++i)
                tone[i] = int16_t(6000 * std::sin(0.05 * double(i)));
            // PortAudio opens and closes the device while it probes: a connection can end
            // under the writer (EPIPE), then the next one is waited for and fed from the start.
            int fd = -1;
            for (int tries = 0; tries < 2000 && !m_done.load() && !m_wrote.load(); ++tries) {
                fd = ::open(m_fifo.toLocal8Bit().constData(), O_WRONLY | O_NONBLOCK);
                if (fd < 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    continue;
                }
                ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
                const char* p = reinterpret_cast<const char*>(tone.data());
                size_t left = tone.size() * sizeof(int16_t);
                while (left > 0 && !m_done.load()) {
                    const ssize_t n = ::write(fd, p, left);
                    if (n <= 0) break;
                    p += n;
                    left -= size_t(n);
                }
                if (left == 0) {
                    m_wrote.store(true);
                    break;
                }
                ::close(fd);
                fd = -1;
            }
            // Silent but open: the device is still there and delivers nothing.
            for (int i = 0; i < 100 && !m_done.load(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            if (fd >= 0) ::close(fd);
        });
    }

    // Whether the whole second of audio reached a reader.
    bool wrote() const { return m_wrote.load(); }

    // Stops the writer (idempotent).
    void finish() {
        m_done.store(true);
        if (m_writer.joinable()) m_writer.join();
    }

  private:
    QTemporaryDir m_dir;
    QString m_fifo;
    std::thread m_writer;
    std::atomic<bool> m_wrote{false}, m_done{false};
};

}  // namespace consilium::testing
