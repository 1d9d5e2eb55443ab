// Whisper-compatible log-mel spectrogram.
//
// Follows openai/whisper whisper/audio.py (log_mel_spectrogram, mel_filters), commit
// of 2023-2024 (v20231117+), and whisper.cpp's log_mel_spectrogram:
//   16 kHz mono input; torch.stft(n_fft=400, hop_length=160, window=hann_window(400)
//   [periodic], center=True, pad_mode="reflect"); the last frame dropped
//   (stft[..., :-1]); power |X|^2; mel = filters @ power; log10(max(mel, 1e-10));
//   clamp to (global max - 8); (x + 4) / 4.
// The mel filters are librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) — Slaney mel
// scale (htk=False) and Slaney area normalisation (norm="slaney") — which is what
// whisper's mel_filters.npz stores. slaneyMelFilters() computes them; a model file may
// supply its own matrix instead.
//
// Layout of every matrix here: row-major float32. Filters: [n_mels, n_fft/2 + 1]. Output:
// [n_mels, n_frames] (mel-major, as whisper's encoder input), n_frames = n_samples / hop.
//
// Thread safety: a LogMelSpectrogram is immutable after create(); compute() is const and
// may run concurrently from several threads (it allocates its scratch per call).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/status.h"

namespace consilium::audio {

struct LogMelConfig {
    int sampleRate = 16000;  // Hz
    int nFft = 400;          // 25 ms window
    int hopLength = 160;     // 10 ms
    int nMels = 80;
};

// librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False, norm="slaney"),
// computed in double as librosa does and stored as float32 (librosa's default dtype).
// Returns [n_mels, n_fft/2 + 1]; empty when an argument is not positive.
std::vector<float> slaneyMelFilters(int sampleRate, int nFft, int nMels);

// The periodic Hann window of torch.hann_window(n) (periodic=True):
// w[i] = 0.5 - 0.5 cos(2 pi i / n).
std::vector<double> periodicHann(int n);

struct LogMel {
    int nMels = 0;
    int nFrames = 0;
    std::vector<float> values;  // [nMels, nFrames]
    float at(int mel, int frame) const { return values[size_t(mel) * nFrames + frame]; }
};

class LogMelSpectrogram {
  public:
    // `filters` ([nMels, nFft/2 + 1] row-major), when given, replaces the computed Slaney
    // filters (e.g. the matrix a model file carries).
    // Errors: InvalidArgument (non-positive sizes, hop > nFft, a filter matrix of the wrong
    // size or with non-finite values).
    static Result<LogMelSpectrogram> create(const LogMelConfig& config = {},
                                            std::optional<std::vector<float>> filters = {});

    // Log-mel of mono `samples` at config().sampleRate. Whisper pads to 30 s before
    // calling its front end; callers that feed the Whisper encoder do so themselves.
    // Errors: InvalidArgument (fewer than nFft/2 + 1 samples: reflect padding needs them,
    // as torch.stft does; a non-finite sample).
    Result<LogMel> compute(const float* samples, size_t n) const;

    const LogMelConfig& config() const { return m_config; }
    const std::vector<float>& filters() const { return m_filters; }  // [nMels, nFft/2 + 1]

  private:
    LogMelConfig m_config;
    std::vector<double> m_window;  // [nFft], cached
    std::vector<float> m_filters;  // [nMels, nFft/2 + 1]
};

}  // namespace consilium::audio
