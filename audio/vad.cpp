#include "audio/vad.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace consilium::audio {

SpeechRange detectSpeech(const float* samples, size_t n, int sampleRate,
                         const VadOptions& options) {
    SpeechRange range;
    if (!samples || n == 0 || sampleRate <= 0) return range;
    const size_t frame =
        std::max<size_t>(1, size_t(std::lround(options.frameSeconds * sampleRate)));
    const size_t frames = n / frame + (n % frame ? 1 : 0);

    std::vector<double> energyDb(frames);
    for (size_t f = 0; f < frames; ++f) {
        const size_t b = f * frame, e = std::min(n, b + frame);
        double sum = 0.0;
        for (size_t i = b; i < e; ++i)
            sum += double(samples[i]) * samples[i];
        const double meanSquare = sum / double(e - b);
        energyDb[f] = 10.0 * std::log10(std::max(meanSquare, 1e-12));  // -120 dBFS floor
    }

    std::vector<double> sorted = energyDb;
    const size_t q = std::min(frames - 1, size_t(options.floorPercentile * double(frames)));
    std::nth_element(sorted.begin(), sorted.begin() + q, sorted.end());
    const double threshold = std::max(sorted[q] + options.marginDb, options.absoluteThresholdDb);

    // First and last frame of the runs of at least minRunFrames voiced frames.
    const size_t minRun = size_t(std::max(1, options.minRunFrames));
    size_t first = frames, last = 0, runStart = 0, run = 0;
    for (size_t f = 0; f <= frames; ++f) {
        const bool voiced = f < frames && energyDb[f] >= threshold;
        if (voiced) {
            if (run++ == 0) runStart = f;
            continue;
        }
        if (run >= minRun) {
            first = std::min(first, runStart);
            last = f;  // one past the run
        }
        run = 0;
    }
    if (first >= last) return range;

    const size_t pad = size_t(std::lround(options.padSeconds * sampleRate));
    const size_t begin = first * frame, end = std::min(n, last * frame);
    range.found = true;
    range.begin = begin > pad ? begin - pad : 0;
    range.end = std::min(n, end + pad);
    return range;
}

AudioBuffer trimSilence(const AudioBuffer& audio, const VadOptions& options) {
    const SpeechRange r =
        detectSpeech(audio.samples.data(), audio.samples.size(), audio.sampleRate, options);
    AudioBuffer out;
    out.sampleRate = audio.sampleRate;
    if (r.found)
        out.samples.assign(audio.samples.begin() + long(r.begin),
                           audio.samples.begin() + long(r.end));
    return out;
}

}  // namespace consilium::audio
