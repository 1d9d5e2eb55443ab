// Recording a spoken question from an audio input through PortAudio.
//
// The device records mono at its native rate (its default sample rate); the PortAudio
// callback only copies samples into a preallocated lock-free ring buffer (ring_buffer.h)
// and updates the level meter atomics — no locks, allocation or logging. A drain thread
// owned by AudioCapture empties the ring buffer every few milliseconds, watches for the
// device vanishing and for the maximum length; stop() resamples everything to 16 kHz
// with libsoxr.
//
// Thread safety: open/start/stop/cancel/waitUntilFinished are called from one owning
// thread. level(), recordedSeconds() and isRecording() may be called from any thread
// (e.g. a GUI timer) while recording.
#pragma once

#include <memory>
#include <string>

#include "audio/audio_buffer.h"
#include "kernels/status.h"

namespace consilium::audio {

struct CaptureOptions {
    int deviceIndex = -1;      // PortAudio index from listInputDevices(); -1 = default input
    double maxSeconds = 60.0;  // recording stops by itself after this long
    double sampleRate = 0.0;   // Hz; 0 = the device's default (native) rate
};

struct CaptureLevel {
    float rms = 0.0f;   // of the most recent callback block, linear, 0..1
    float peak = 0.0f;  // absolute peak of the most recent callback block, 0..1
};

struct Recording {
    AudioBuffer audio;              // 16 kHz mono: everything captured
    double nativeSampleRate = 0.0;  // Hz the device delivered
    bool reachedMaxLength = false;
    size_t droppedSamples = 0;  // ring-buffer overruns (0 unless the drain thread stalled)
    // Ok, or AudioDeviceLost (the device stopped delivering or vanished mid-recording:
    // `audio` still holds what was captured before).
    Status status;
};

class AudioCapture {
  public:
    // Opens the device (does not start recording).
    // Errors: NoAudioDevice (no input device at all, or the device is unavailable —
    // PortAudio's paNoDevice / paDeviceUnavailable -9985), InvalidArgument (index out of
    // range or not an input, maxSeconds <= 0), IoError (PortAudio failed otherwise, with
    // its message).
    static Result<std::unique_ptr<AudioCapture>> open(const CaptureOptions& options = {});
    ~AudioCapture();  // cancels a running recording
    AudioCapture(const AudioCapture&) = delete;
    AudioCapture& operator=(const AudioCapture&) = delete;

    // Errors: IoError (PortAudio could not start the stream), InvalidArgument (already
    // started).
    Status start();
    // Blocks until the maximum length is reached, the device is lost, or `timeoutSeconds`
    // pass; true when the recording has finished by itself.
    bool waitUntilFinished(double timeoutSeconds);
    // Stops, drains and resamples. Errors: InvalidArgument (never started), Internal
    // (resampling failed). A lost device is reported in Recording::status, not here.
    Result<Recording> stop();
    // Stops and discards everything.
    void cancel();

    CaptureLevel level() const;
    double recordedSeconds() const;  // at the native rate, so far
    bool isRecording() const;        // started and neither finished nor stopped
    double nativeSampleRate() const;
    const std::string& deviceName() const;

  private:
    struct Impl;
    explicit AudioCapture(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace consilium::audio
