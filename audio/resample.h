// Sample-rate conversion with libsoxr (the SoX resampler: linear-phase, "high quality"
// preset, passband to 0.91 of the lower Nyquist rate; https://sourceforge.net/p/soxr/).
//
// Thread safety: resample()/resampleTo() are reentrant. A StreamResampler is used by one
// thread at a time (the capture thread that drains the ring buffer), never from the audio
// callback.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "audio/audio_buffer.h"
#include "kernels/status.h"

namespace consilium::audio {

// Whole-buffer conversion of mono float samples from `inRate` to `outRate` (Hz). The
// output holds round(n * outRate / inRate) samples, aligned with the input (soxr removes
// its filter delay). Same rates return a copy.
// Errors: InvalidArgument (a rate <= 0), Internal (soxr failed, with its message).
Result<std::vector<float>> resample(const float* samples, size_t n, double inRate, double outRate);

// `audio` at `outRate` (default: the speech rate, 16 kHz).
Result<AudioBuffer> resampleTo(const AudioBuffer& audio, int outRate = kSpeechSampleRate);

// Incremental conversion for audio that arrives in pieces (capture). Feed blocks with
// process(), then flush() once at the end; the concatenated output equals the whole-buffer
// conversion up to rounding.
class StreamResampler {
  public:
    // Errors: InvalidArgument (a rate <= 0), Internal (soxr failed).
    static Result<std::unique_ptr<StreamResampler>> create(double inRate, double outRate);
    ~StreamResampler();
    StreamResampler(const StreamResampler&) = delete;
    StreamResampler& operator=(const StreamResampler&) = delete;

    // Appends the converted samples of `n` new input samples to `out`.
    Status process(const float* samples, size_t n, std::vector<float>& out);
    // Appends the samples still held in the filter; process() must not be called after.
    Status flush(std::vector<float>& out);

  private:
    struct Impl;
    explicit StreamResampler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace consilium::audio
