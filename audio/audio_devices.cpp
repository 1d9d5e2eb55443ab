#include "audio/audio_devices.h"

#include <portaudio.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace consilium::audio {
namespace {

// While PortAudio scans its host APIs, ALSA and JACK print dozens of lines per absent
// card or server straight to stderr. Those are expected on machines without sound
// hardware; hide them during the scan (the result is reported through return values).
class QuietStderr {
  public:
    QuietStderr() {
        std::fflush(stderr);
        m_saved = dup(STDERR_FILENO);
        const int devNull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (m_saved >= 0 && devNull >= 0) dup2(devNull, STDERR_FILENO);
        if (devNull >= 0) close(devNull);
    }
    ~QuietStderr() {
        std::fflush(stderr);
        if (m_saved >= 0) {
            dup2(m_saved, STDERR_FILENO);
            close(m_saved);
        }
    }
    QuietStderr(const QuietStderr&) = delete;
    QuietStderr& operator=(const QuietStderr&) = delete;

  private:
    int m_saved = -1;
};

PaError quietInitialize() {
    QuietStderr quiet;
    return Pa_Initialize();
}

// Pa_Initialize/Pa_Terminate as a scoped handle.
struct PaSession {
    PaError rc;
    PaSession() : rc(quietInitialize()) {}
    ~PaSession() {
        if (rc == paNoError) {
            QuietStderr quiet;
            Pa_Terminate();
        }
    }
    PaSession(const PaSession&) = delete;
    PaSession& operator=(const PaSession&) = delete;
};

}  // namespace

std::string portAudioVersion() {
    return Pa_GetVersionText();
}

Result<std::vector<AudioInputDevice>> listInputDevices() {
    PaSession pa;
    if (pa.rc != paNoError) {
        return makeError(ErrorCode::IoError,
                         std::string("PortAudio failed to initialise: ") + Pa_GetErrorText(pa.rc));
    }
    std::vector<AudioInputDevice> devices;
    const PaDeviceIndex count = Pa_GetDeviceCount();
    if (count < 0) {
        return makeError(ErrorCode::IoError, std::string("PortAudio could not list devices: ") +
                                                 Pa_GetErrorText(count));
    }
    const PaDeviceIndex defaultInput = Pa_GetDefaultInputDevice();
    for (PaDeviceIndex i = 0; i < count; ++i) {
        const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
        if (!info || info->maxInputChannels <= 0) continue;
        AudioInputDevice d;
        d.index = i;
        d.name = info->name ? info->name : "";
        const PaHostApiInfo* api = Pa_GetHostApiInfo(info->hostApi);
        d.hostApi = api && api->name ? api->name : "";
        d.maxInputChannels = info->maxInputChannels;
        d.defaultSampleRate = info->defaultSampleRate;
        d.isDefault = i == defaultInput;
        devices.push_back(std::move(d));
    }
    return devices;
}

}  // namespace consilium::audio
