#include "audio/log_mel.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace consilium::audio {
namespace {

// Slaney's Auditory Toolbox mel scale as librosa.core.convert.hz_to_mel / mel_to_hz
// (htk=False): linear below 1 kHz (200/3 Hz per mel), logarithmic above
// (step log(6.4)/27 per mel).
constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;  // 15
const double kLogStep = std::log(6.4) / 27.0;

double hzToMel(double hz) {
    return hz >= kMinLogHz ? kMinLogMel + std::log(hz / kMinLogHz) / kLogStep : hz / kFSp;
}

double melToHz(double mel) {
    return mel >= kMinLogMel ? kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel)) : kFSp * mel;
}

}  // namespace

std::vector<float> slaneyMelFilters(int sampleRate, int nFft, int nMels) {
    if (sampleRate <= 0 || nFft <= 0 || nMels <= 0) return {};
    const int nBins = nFft / 2 + 1;
    // librosa.fft_frequencies: linspace(0, sr/2, 1 + n_fft//2).
    std::vector<double> fftFreqs(nBins);
    for (int k = 0; k < nBins; ++k) {
        fftFreqs[k] = nBins > 1 ? double(sampleRate) / 2.0 * k / (nBins - 1) : 0.0;
    }
    // librosa.mel_frequencies(n_mels + 2, fmin=0, fmax=sr/2): linspace in mel, back to Hz.
    const double maxMel = hzToMel(sampleRate / 2.0);
    std::vector<double> melF(nMels + 2);
    for (int i = 0; i < nMels + 2; ++i)
        melF[i] = melToHz(maxMel * i / (nMels + 1));

    std::vector<float> weights(size_t(nMels) * nBins, 0.0f);
    for (int m = 0; m < nMels; ++m) {
        const double lowerDiff = melF[m + 1] - melF[m];
        const double upperDiff = melF[m + 2] - melF[m + 1];
        const double enorm = 2.0 / (melF[m + 2] - melF[m]);  // norm="slaney": unit area
        for (int k = 0; k < nBins; ++k) {
            const double lower = (fftFreqs[k] - melF[m]) / lowerDiff;
            const double upper = (melF[m + 2] - fftFreqs[k]) / upperDiff;
            const double w = std::max(0.0, std::min(lower, upper));
            // librosa stores the triangle in float32 first, then scales it by enorm.
            weights[size_t(m) * nBins + k] = float(double(float(w)) * enorm);
        }
    }
    return weights;
}

std::vector<double> periodicHann(int n) {
    std::vector<double> w(std::max(0, n));
    for (int i = 0; i < n; ++i)
        w[i] = 0.5 - 0.5 * std::cos(2.0 * M_PI * i / n);
    return w;
}

Result<LogMelSpectrogram> LogMelSpectrogram::create(const LogMelConfig& config,
                                                    std::optional<std::vector<float>> filters) {
    if (config.sampleRate <= 0 || config.nFft <= 1 || config.hopLength <= 0 || config.nMels <= 0 ||
        config.hopLength > config.nFft) {
        return makeError(
            ErrorCode::InvalidArgument,
            "log-mel: invalid configuration (rate " + std::to_string(config.sampleRate) +
                ", n_fft " + std::to_string(config.nFft) + ", hop " +
                std::to_string(config.hopLength) + ", mels " + std::to_string(config.nMels) + ")");
    }
    const size_t expected = size_t(config.nMels) * size_t(config.nFft / 2 + 1);
    LogMelSpectrogram s;
    s.m_config = config;
    s.m_window = periodicHann(config.nFft);
    if (filters) {
        if (filters->size() != expected) {
            return makeError(ErrorCode::InvalidArgument,
                             "log-mel: filter matrix has " + std::to_string(filters->size()) +
                                 " values, expected " + std::to_string(config.nMels) + " x " +
                                 std::to_string(config.nFft / 2 + 1));
        }
        for (float v : *filters) {
            if (!std::isfinite(v)) {
                return makeError(ErrorCode::InvalidArgument,
                                 "log-mel: filter matrix holds a non-finite value");
            }
        }
        s.m_filters = std::move(*filters);
    } else {
        s.m_filters = slaneyMelFilters(config.sampleRate, config.nFft, config.nMels);
    }
    return s;
}

Result<LogMel> LogMelSpectrogram::compute(const float* samples, size_t n) const {
    const int nFft = m_config.nFft, hop = m_config.hopLength, nMels = m_config.nMels;
    const int nBins = nFft / 2 + 1;
    const size_t pad = size_t(nFft / 2);
    if (!samples || n <= pad) {
        return makeError(ErrorCode::InvalidArgument,
                         "log-mel: " + std::to_string(n) + " samples, need at least " +
                             std::to_string(pad + 1) + " for reflect padding");
    }
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(samples[i])) {
            return makeError(ErrorCode::InvalidArgument,
                             "log-mel: non-finite sample at index " + std::to_string(i));
        }
    }

    // torch.stft(center=True, pad_mode="reflect"): pad n_fft/2 on both sides by mirroring
    // without repeating the edge sample (numpy.pad mode="reflect").
    const size_t padded = n + 2 * pad;
    auto at = [&](size_t j) -> double {  // sample j of the padded signal
        if (j < pad) return samples[pad - j];
        const size_t i = j - pad;
        if (i < n) return samples[i];
        return samples[2 * (n - 1) - i];
    };
    // 1 + (padded - n_fft) / hop frames, the last dropped as whisper does (stft[..., :-1]).
    const int nFrames = int((padded - size_t(nFft)) / size_t(hop));
    LogMel out;
    out.nMels = nMels;
    out.nFrames = nFrames;
    out.values.assign(size_t(nMels) * nFrames, 0.0f);
    if (nFrames == 0) return out;

    // Windowed frames, one per row, transformed together (cv::dft, DFT_ROWS; double).
    cv::Mat frames(nFrames, nFft, CV_64F);
    for (int f = 0; f < nFrames; ++f) {
        double* row = frames.ptr<double>(f);
        const size_t start = size_t(f) * hop;
        for (int i = 0; i < nFft; ++i)
            row[i] = at(start + i) * m_window[i];
    }
    cv::Mat spectrum;
    cv::dft(frames, spectrum, cv::DFT_ROWS | cv::DFT_COMPLEX_OUTPUT);

    // mel = filters @ |X|^2, then log10(max(mel, 1e-10)).
    std::vector<double> power(nBins);
    double maxLog = -1e300;
    for (int f = 0; f < nFrames; ++f) {
        const cv::Vec2d* row = spectrum.ptr<cv::Vec2d>(f);
        for (int k = 0; k < nBins; ++k)
            power[k] = row[k][0] * row[k][0] + row[k][1] * row[k][1];
        for (int m = 0; m < nMels; ++m) {
            const float* w = &m_filters[size_t(m) * nBins];
            double sum = 0.0;
            for (int k = 0; k < nBins; ++k)
                sum += double(w[k]) * power[k];
            const double logMel = std::log10(std::max(sum, 1e-10));
            out.values[size_t(m) * nFrames + f] = float(logMel);
            maxLog = std::max(maxLog, logMel);
        }
    }
    // Dynamic range clamp to 8 decades below the maximum, then scale to about [-1, 1].
    const float floorLog = float(maxLog - 8.0);
    for (float& v : out.values)
        v = (std::max(v, floorLog) + 4.0f) / 4.0f;
    return out;
}

}  // namespace consilium::audio
