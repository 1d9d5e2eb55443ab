// Playing a recording back on the default audio output (the Voice dock's Play button), so the
// user can hear what the model will hear.
//
// Thread safety: playAudio() blocks its caller for the length of the audio; call it off the
// GUI thread. Reentrant (each call opens its own PortAudio stream).
#pragma once

#include <atomic>

#include "audio/audio_buffer.h"
#include "kernels/status.h"

namespace consilium::audio {

// Plays `audio` (mono, any rate: at the device's rate when the device refuses the buffer's)
// until it ends or `stop` becomes true. Errors: NoAudioDevice (no output device), IoError
// (PortAudio failed, with its message), InvalidArgument (empty audio or rate <= 0).
Status playAudio(const AudioBuffer& audio, const std::atomic<bool>* stop = nullptr);

}  // namespace consilium::audio
