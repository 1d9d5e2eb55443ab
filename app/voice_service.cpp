#include "app/voice_service.h"

#include <QFileInfo>
#include <QMetaObject>
#include <QtConcurrent>

#include "app/speech.h"
#include "audio/audio_devices.h"
#include "audio/audio_file.h"
#include "audio/capture.h"
#include "audio/playback.h"
#include "audio/transcriber.h"

namespace consilium::app {

namespace {
QString q(const std::string& s) {
    return QString::fromStdString(s);
}
}  // namespace

VoiceService::VoiceService(QObject* parent)
    : QObject(parent), m_transcriber(std::make_shared<std::unique_ptr<audio::Transcriber>>()) {
    qRegisterMetaType<consilium::app::VoiceTranscript>();
    m_worker.setMaxThreadCount(1);
    m_levelTimer.setInterval(50);
    connect(&m_levelTimer, &QTimer::timeout, this, &VoiceService::pollLevel);
}

VoiceService::~VoiceService() {
    m_levelTimer.stop();
    m_stopPlayback->store(true);
    if (auto capture = std::move(m_capture)) {
        (void)QtConcurrent::run(&m_worker, [capture] { capture->cancel(); });
    }
    m_worker.waitForDone();  // queued results addressed to this object are then dropped
}

bool VoiceService::isRecording() const {
    return m_capture && m_capture->isRecording();
}

void VoiceService::startRecording(const QString& deviceName, double maxSeconds) {
    if (m_capture) return;
    const std::string wanted = deviceName.toStdString();
    (void)QtConcurrent::run(&m_worker, [this, wanted, maxSeconds] {
        audio::CaptureOptions options;
        options.maxSeconds = maxSeconds;
        if (!wanted.empty()) {
            auto devices = audio::listInputDevices();
            if (devices.ok()) {
                for (const auto& d : devices.value())
                    if (d.name == wanted) options.deviceIndex = d.index;
            }
        }
        auto opened = audio::AudioCapture::open(options);
        if (!opened.ok()) {
            const QString message = q(opened.error().message);
            QMetaObject::invokeMethod(this, [this, message] { emit failed(message); });
            return;
        }
        std::shared_ptr<audio::AudioCapture> capture(std::move(opened.value()));
        const Status started = capture->start();
        if (!started.ok()) {
            const QString message = q(started.error().message);
            QMetaObject::invokeMethod(this, [this, message] { emit failed(message); });
            return;
        }
        const QString name = q(capture->deviceName());
        QMetaObject::invokeMethod(this, [this, capture, name] {
            m_capture = capture;
            m_levelTimer.start();
            emit recordingStarted(name);
        });
    });
}

void VoiceService::pollLevel() {
    if (!m_capture) return;
    const auto level = m_capture->level();
    emit levelChanged(level.rms, level.peak, m_capture->recordedSeconds());
    if (!m_capture->isRecording()) stopRecording();  // maximum length or device lost
}

void VoiceService::cancelRecording() {
    m_levelTimer.stop();
    auto capture = std::move(m_capture);
    if (capture) (void)QtConcurrent::run(&m_worker, [capture] { capture->cancel(); });
}

void VoiceService::stopRecording() {
    m_levelTimer.stop();
    auto capture = std::move(m_capture);
    if (!capture) return;
    (void)QtConcurrent::run(&m_worker, [this, capture] {
        auto stopped = capture->stop();
        if (!stopped.ok()) {
            const QString message = q(stopped.error().message);
            QMetaObject::invokeMethod(this, [this, message] { emit failed(message); });
            return;
        }
        audio::Recording rec = std::move(stopped.value());
        const QString warning = rec.status.ok() ? QString() : q(rec.status.error().message);
        std::vector<float> samples = rec.audio.samples;
        const int rate = rec.audio.sampleRate;
        const double seconds = rate > 0 ? double(samples.size()) / rate : 0.0;
        QMetaObject::invokeMethod(this, [this, samples, rate, seconds, warning]() mutable {
            m_lastRecording = samples;
            emit recorded(seconds, warning);
            if (seconds <= 0) return;
            QString path;
            if (m_recordings.isValid())
                path = m_recordings.filePath(
                    QStringLiteral("recording-%1.wav").arg(++m_recordingCount));
            transcribeSamples(std::move(samples), rate, path);
        });
    });
}

void VoiceService::play(const QString& path) {
    m_stopPlayback->store(false);
    auto stop = m_stopPlayback;
    const std::string file = path.toStdString();
    (void)QtConcurrent::run(&m_worker, [this, file, stop] {
        QString error;
        auto read = audio::readAudioFile(file);
        if (!read.ok()) {
            error = q(read.error().message);
        } else {
            const Status played = audio::playAudio(read.value(), stop.get());
            if (!played.ok()) error = q(played.error().message);
        }
        QMetaObject::invokeMethod(this, [this, error] { emit playbackFinished(error); });
    });
}

void VoiceService::stopPlayback() {
    m_stopPlayback->store(true);
}

void VoiceService::transcribeFile(const QString& path) {
    const std::string file = path.toStdString();
    (void)QtConcurrent::run(&m_worker, [this, file, path] {
        auto read = audio::readAudioFile(file);
        if (!read.ok()) {
            const QString message = q(read.error().message);
            QMetaObject::invokeMethod(this, [this, message] { emit failed(message); });
            return;
        }
        std::vector<float> samples = std::move(read.value().samples);
        const int rate = read.value().sampleRate;
        QMetaObject::invokeMethod(this, [this, samples, rate, path]() mutable {
            transcribeSamples(std::move(samples), rate, path);
        });
    });
}

void VoiceService::transcribeSamples(std::vector<float> samples, int sampleRate,
                                     const QString& audioPath) {
    emit transcribing();
    auto holder = m_transcriber;
    // A recording (not yet a file) is written where audioPath says, before it is consumed.
    const bool write = !audioPath.isEmpty() && !QFileInfo::exists(audioPath);
    (void)QtConcurrent::run(&m_worker, [this, holder, samples = std::move(samples), sampleRate,
                                        audioPath, write]() mutable {
        auto fail = [this](const std::string& m) {
            const QString message = q(m);
            QMetaObject::invokeMethod(this, [this, message] { emit failed(message); });
        };
        if (!*holder) {
            // The acoustic model and grammar load once, on first use.
            auto created = createQuestionTranscriber();
            if (!created.ok()) return fail(created.error().message);
            *holder = std::move(created.value());
        }
        audio::AudioBuffer buffer;
        buffer.samples = std::move(samples);
        buffer.sampleRate = sampleRate;
        QString kept = audioPath;
        if (write && !audio::writeWav16(audioPath.toStdString(), buffer).ok())
            kept.clear();  // the transcript still works; only the voice input is lost
        auto result = (*holder)->transcribe(buffer);
        if (!result.ok()) return fail(result.error().message);
        const auto& t = result.value();
        VoiceTranscript v;
        v.understood = t.understood;
        v.text = q(t.text);
        v.bestGuess = q(t.bestGuess);
        v.reason = q(t.reason);
        v.confidence = t.confidence;
        v.audioSeconds = t.audioSeconds;
        v.decodeSeconds = t.decodeSeconds;
        v.audioPath = kept;
        QMetaObject::invokeMethod(this, [this, v] { emit transcribed(v); });
    });
}

}  // namespace consilium::app
