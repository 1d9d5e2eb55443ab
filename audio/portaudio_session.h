// Internal to audio/: a scoped Pa_Initialize/Pa_Terminate pair that hides the ALSA and
// JACK chatter PortAudio's host-API scan prints to stderr on machines without sound
// hardware (the results are reported through return values instead).
#pragma once

#include <portaudio.h>

namespace consilium::audio::detail {

// Redirects stderr to /dev/null for its lifetime.
class QuietStderr {
  public:
    QuietStderr();
    ~QuietStderr();
    QuietStderr(const QuietStderr&) = delete;
    QuietStderr& operator=(const QuietStderr&) = delete;

  private:
    int m_saved = -1;
};

// Pa_Initialize on construction (rc holds its result), Pa_Terminate on destruction when it
// succeeded. PortAudio reference-counts initialisation, so sessions may nest.
struct PortAudioSession {
    PaError rc;
    PortAudioSession();
    ~PortAudioSession();
    PortAudioSession(const PortAudioSession&) = delete;
    PortAudioSession& operator=(const PortAudioSession&) = delete;
};

}  // namespace consilium::audio::detail
