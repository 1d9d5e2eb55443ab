#include "audio/audio_devices.h"

#include <portaudio.h>

#include "audio/portaudio_session.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace consilium::audio {
namespace detail {

QuietStderr::QuietStderr() {
    std::fflush(stderr);
    m_saved = dup(STDERR_FILENO);
    const int devNull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (m_saved >= 0 && devNull >= 0) dup2(devNull, STDERR_FILENO);
    if (devNull >= 0) close(devNull);
}

QuietStderr::~QuietStderr() {
    std::fflush(stderr);
    if (m_saved >= 0) {
        dup2(m_saved, STDERR_FILENO);
        close(m_saved);
    }
}

namespace {
PaError quietInitialize() {
    QuietStderr quiet;
    return Pa_Initialize();
}
}  // namespace

PortAudioSession::PortAudioSession() : rc(quietInitialize()) {}

PortAudioSession::~PortAudioSession() {
    if (rc == paNoError) {
        QuietStderr quiet;
        Pa_Terminate();
    }
}

}  // namespace detail

std::string portAudioVersion() {
    return Pa_GetVersionText();
}

Result<std::vector<AudioInputDevice>> listInputDevices() {
    detail::PortAudioSession pa;
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

Result<int> findInputDevice(const std::string& name) {
    auto devices = listInputDevices();
    if (!devices) return devices.error();
    for (const auto& d : devices.value())
        if (d.name == name) return d.index;
    return makeError(ErrorCode::NotFound, "no audio input called \"" + name + "\" is connected");
}

}  // namespace consilium::audio
