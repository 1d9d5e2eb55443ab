// A simple energy-based voice-activity detector used to trim leading and trailing silence
// before transcription.
//
// Method: frame energies in dBFS (RMS over `frameSeconds` frames, hop = frame); the noise
// floor is a low percentile of those energies; a frame is "voiced" when it lies
// `marginDb` above the floor and above `absoluteThresholdDb`; speech starts at the first
// run of `minRunFrames` voiced frames and ends after the last such run; the range is
// widened by `padSeconds` on both sides (clamped to the signal) so soft onsets and
// release consonants are kept.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>

#include "audio/audio_buffer.h"

namespace consilium::audio {

struct VadOptions {
    double frameSeconds = 0.010;         // analysis frame and hop
    double floorPercentile = 0.10;       // noise floor = this quantile of frame energies
    double marginDb = 15.0;              // voiced: energy >= floor + margin ...
    double absoluteThresholdDb = -55.0;  // ... and >= this (dBFS), so silence is never speech
    int minRunFrames = 5;                // shortest voiced run that counts (rejects clicks)
    double padSeconds = 0.15;            // kept before the first and after the last run
};

struct SpeechRange {
    bool found = false;  // false: no speech at all (begin == end == 0)
    size_t begin = 0;    // first sample kept
    size_t end = 0;      // one past the last sample kept
};

// The speech range of mono `samples` at `sampleRate` Hz.
SpeechRange detectSpeech(const float* samples, size_t n, int sampleRate,
                         const VadOptions& options = {});

// `audio` cut to its speech range; an empty buffer (same rate) when there is no speech.
AudioBuffer trimSilence(const AudioBuffer& audio, const VadOptions& options = {});

}  // namespace consilium::audio
