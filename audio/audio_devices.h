// Audio input devices through PortAudio.
//
// Thread safety: each call initialises and terminates PortAudio itself (reference
// counted by PortAudio), so calls from different threads are safe but not concurrent
// with a capture on the same host API.
#pragma once

#include <string>
#include <vector>

#include "kernels/status.h"

namespace consilium::audio {

struct AudioInputDevice {
    int index = -1;  // PortAudio device index
    std::string name;
    std::string hostApi;  // "ALSA", "JACK", ...
    int maxInputChannels = 0;
    double defaultSampleRate = 0;  // Hz
    bool isDefault = false;
};

std::string portAudioVersion();  // "PortAudio V19.7.0-devel, revision ..."

// Every device with at least one input channel. NoAudioDevice is not an error here: an
// empty list is returned; PortAudio failing to initialise is (IoError with its text).
Result<std::vector<AudioInputDevice>> listInputDevices();

// The current index of the input device called `name` (AudioInputDevice::name). Indices
// change when hardware comes and goes; the name is what an app remembers between runs.
// Errors: NotFound (no input of that name now), IoError (PortAudio failed to initialise).
Result<int> findInputDevice(const std::string& name);

}  // namespace consilium::audio
