// Voice questions for the GUI: record from a microphone (PortAudio, through audio/) with a
// live level and elapsed time, or load an audio file, then transcribe with the question
// grammar. All blocking work (opening the device, stopping and resampling, loading the
// acoustic model once, decoding) runs on one dedicated worker thread; the GUI thread only
// polls the level at ~20 Hz and receives results as queued signals with value types.
//
// Thread safety: a VoiceService lives on the GUI thread. The destructor cancels a running
// recording and waits for the worker.
#pragma once

#include <QObject>
#include <QString>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QTimer>

#include <atomic>
#include <memory>

namespace consilium::audio {
class AudioCapture;
class Transcriber;
}  // namespace consilium::audio

namespace consilium::app {

struct VoiceTranscript {
    bool understood = false;
    QString text;       // transcript when understood
    QString bestGuess;  // closest question when not understood
    QString reason;     // why not understood
    double confidence = 0;
    double audioSeconds = 0;
    double decodeSeconds = 0;
    // The audio that was transcribed: the file given, or the recording written as 16-bit WAV
    // in a folder the service owns. Asking with it gives the model the voice as well
    // (AskRequest::audioFile), not only the transcript.
    QString audioPath;
};

class VoiceService : public QObject {
    Q_OBJECT
  public:
    explicit VoiceService(QObject* parent = nullptr);
    ~VoiceService() override;

    // Starts recording from the named input ("" = the default input). Emits
    // recordingStarted or failed.
    void startRecording(const QString& deviceName, double maxSeconds = 30.0);
    // Stops, then transcribes what was recorded (emits recorded, then transcribed).
    void stopRecording();
    void cancelRecording();
    bool isRecording() const;
    // Transcribes an audio file (WAV, FLAC, OGG).
    void transcribeFile(const QString& path);
    // Plays an audio file (the last question's audio) on the default output; ends with
    // playbackFinished, early after stopPlayback().
    void play(const QString& path);
    void stopPlayback();
    // The last recording as 16 kHz mono samples (empty before the first one).
    const std::vector<float>& lastRecording() const { return m_lastRecording; }

  signals:
    void recordingStarted(const QString& deviceName);
    void levelChanged(float rms, float peak, double seconds);  // ~20 Hz while recording
    void recorded(double seconds, const QString& warning);     // warning: e.g. device lost
    void transcribing();
    void transcribed(const consilium::app::VoiceTranscript& transcript);
    void failed(const QString& message);
    void playbackFinished(const QString& error);  // empty when it played to the end or was stopped

  private:
    void transcribeSamples(std::vector<float> samples, int sampleRate, const QString& audioPath);
    void pollLevel();

    QThreadPool m_worker;  // one thread: the capture and the decoder are used serially
    QTimer m_levelTimer;
    std::shared_ptr<audio::AudioCapture> m_capture;
    std::shared_ptr<std::unique_ptr<audio::Transcriber>> m_transcriber;  // created on first use
    std::vector<float> m_lastRecording;
    std::shared_ptr<std::atomic<bool>> m_stopPlayback = std::make_shared<std::atomic<bool>>(false);
    QTemporaryDir m_recordings;  // recordings as WAV, removed with the service
    int m_recordingCount = 0;
};

}  // namespace consilium::app

Q_DECLARE_METATYPE(consilium::app::VoiceTranscript)
