// Mono audio held in memory: the common currency of audio/ (files, capture, resampling,
// voice-activity detection, log-mel, transcription).
#pragma once

#include <cstddef>
#include <vector>

namespace consilium::audio {

// The sample rate every speech consumer of audio/ expects (Whisper front end, pocketsphinx
// en-us acoustic model).
constexpr int kSpeechSampleRate = 16000;  // Hz

struct AudioBuffer {
    std::vector<float> samples;  // mono, nominal range [-1, 1]
    int sampleRate = 0;          // Hz

    double durationSeconds() const {
        return sampleRate > 0 ? double(samples.size()) / sampleRate : 0.0;
    }
};

}  // namespace consilium::audio
