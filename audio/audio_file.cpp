#include "audio/audio_file.h"

#include <sndfile.h>

#include <algorithm>
#include <filesystem>
#include <memory>

namespace consilium::audio {
namespace {

struct SndfileCloser {
    void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfileHandle = std::unique_ptr<SNDFILE, SndfileCloser>;

// libsndfile's name of the major format or the encoding, selected by `mask`.
std::string formatName(int format, int mask) {
    SF_FORMAT_INFO fi{};
    fi.format = format & mask;
    if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0 && fi.name) return fi.name;
    return "unknown";
}

}  // namespace

Result<AudioBuffer> readAudioFile(const std::string& path, AudioFileInfo* info) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return makeError(ErrorCode::NotFound, path + ": no such audio file");
    }
    SF_INFO sfInfo{};
    SndfileHandle file(sf_open(path.c_str(), SFM_READ, &sfInfo));
    if (!file) {
        return makeError(ErrorCode::CorruptFile,
                         path + ": not a readable audio file (" + sf_strerror(nullptr) + ")");
    }
    if (sfInfo.channels <= 0 || sfInfo.samplerate <= 0) {
        return makeError(ErrorCode::CorruptFile,
                         path + ": header declares " + std::to_string(sfInfo.channels) +
                             " channels at " + std::to_string(sfInfo.samplerate) + " Hz");
    }
    if (sfInfo.frames < 0 ||
        double(sfInfo.frames) > kMaxAudioFileSeconds * double(sfInfo.samplerate)) {
        return makeError(ErrorCode::InvalidArgument,
                         path + ": longer than " + std::to_string(int(kMaxAudioFileSeconds)) +
                             " s (" + std::to_string(sfInfo.frames) + " frames)");
    }
    if (info) {
        info->sampleRate = sfInfo.samplerate;
        info->channels = sfInfo.channels;
        info->frames = sfInfo.frames;
        info->format = formatName(sfInfo.format, SF_FORMAT_TYPEMASK);
        info->encoding = formatName(sfInfo.format, SF_FORMAT_SUBMASK);
    }

    const int channels = sfInfo.channels;
    AudioBuffer out;
    out.sampleRate = sfInfo.samplerate;
    out.samples.resize(size_t(sfInfo.frames));
    // Read in blocks of interleaved frames and average the channels of each frame.
    constexpr sf_count_t kBlockFrames = 4096;
    std::vector<float> block(size_t(kBlockFrames) * size_t(channels));
    sf_count_t done = 0;
    while (done < sfInfo.frames) {
        const sf_count_t want = std::min(kBlockFrames, sfInfo.frames - done);
        const sf_count_t got = sf_readf_float(file.get(), block.data(), want);
        if (got <= 0) break;
        for (sf_count_t f = 0; f < got; ++f) {
            float sum = 0.0f;
            for (int c = 0; c < channels; ++c)
                sum += block[size_t(f) * channels + c];
            out.samples[size_t(done + f)] = sum / float(channels);
        }
        done += got;
    }
    if (done != sfInfo.frames) {
        return makeError(ErrorCode::CorruptFile,
                         path + ": truncated, header promises " + std::to_string(sfInfo.frames) +
                             " frames but only " + std::to_string(done) + " could be read");
    }
    return out;
}

Status writeWav16(const std::string& path, const AudioBuffer& audio) {
    if (audio.sampleRate <= 0) {
        return makeError(
            ErrorCode::InvalidArgument,
            path + ": cannot write audio with sample rate " + std::to_string(audio.sampleRate));
    }
    SF_INFO sfInfo{};
    sfInfo.samplerate = audio.sampleRate;
    sfInfo.channels = 1;
    sfInfo.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SndfileHandle file(sf_open(path.c_str(), SFM_WRITE, &sfInfo));
    if (!file) {
        return makeError(ErrorCode::IoError,
                         path + ": cannot create (" + sf_strerror(nullptr) + ")");
    }
    // Clip instead of wrapping around when a float sample lies outside [-1, 1].
    sf_command(file.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
    const sf_count_t n = sf_count_t(audio.samples.size());
    if (sf_writef_float(file.get(), audio.samples.data(), n) != n) {
        return makeError(ErrorCode::IoError,
                         path + ": write failed (" + sf_strerror(file.get()) + ")");
    }
    if (sf_close(file.release()) != 0) {
        return makeError(ErrorCode::IoError, path + ": closing the file failed");
    }
    return Status::success();
}

}  // namespace consilium::audio
