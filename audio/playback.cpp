#include "audio/playback.h"

#include <portaudio.h>

#include <algorithm>
#include <string>

#include "audio/portaudio_session.h"
#include "audio/resample.h"

namespace consilium::audio {

namespace {

std::string paText(PaError e) {
    return std::string(Pa_GetErrorText(e)) + " (" + std::to_string(e) + ")";
}

}  // namespace

Status playAudio(const AudioBuffer& audio, const std::atomic<bool>* stop) {
    if (audio.samples.empty() || audio.sampleRate <= 0)
        return makeError(ErrorCode::InvalidArgument, "playback: no audio to play");
    detail::PortAudioSession pa;
    if (pa.rc != paNoError)
        return makeError(ErrorCode::IoError, "PortAudio failed to initialise: " + paText(pa.rc));
    const PaDeviceIndex device = Pa_GetDefaultOutputDevice();
    const PaDeviceInfo* info = device == paNoDevice ? nullptr : Pa_GetDeviceInfo(device);
    if (!info || info->maxOutputChannels <= 0)
        return makeError(ErrorCode::NoAudioDevice,
                         "no audio output device to play the recording on");

    // The buffer's own rate first; a device that refuses it gets the audio resampled to its
    // default rate.
    AudioBuffer resampled;
    const AudioBuffer* play = &audio;
    PaStream* stream = nullptr;
    PaError err = paNoError;
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (attempt == 1) {
            auto r = resampleTo(audio, int(info->defaultSampleRate));
            if (!r) return r.error();
            resampled = std::move(r.value());
            play = &resampled;
        }
        PaStreamParameters out{};
        out.device = device;
        out.channelCount = 1;
        out.sampleFormat = paFloat32;
        out.suggestedLatency = info->defaultHighOutputLatency;
        detail::QuietStderr quiet;
        err = Pa_OpenStream(&stream, nullptr, &out, double(play->sampleRate),
                            paFramesPerBufferUnspecified, paClipOff, nullptr, nullptr);
        if (err == paNoError) break;
        stream = nullptr;
    }
    const std::string name = info->name ? info->name : "?";
    if (err != paNoError)
        return makeError(ErrorCode::IoError,
                         "cannot open audio output \"" + name + "\": " + paText(err));
    err = Pa_StartStream(stream);
    constexpr size_t kChunk = 1024;
    for (size_t i = 0; err == paNoError && i < play->samples.size(); i += kChunk) {
        if (stop && stop->load()) break;
        const size_t n = std::min(kChunk, play->samples.size() - i);
        err = Pa_WriteStream(stream, play->samples.data() + i, static_cast<unsigned long>(n));
        if (err == paOutputUnderflowed) err = paNoError;  // a glitch, not a failure
    }
    if (err == paNoError) {
        err = stop && stop->load() ? Pa_AbortStream(stream) : Pa_StopStream(stream);
    } else {
        Pa_AbortStream(stream);
    }
    Pa_CloseStream(stream);
    if (err != paNoError)
        return makeError(ErrorCode::IoError, "playback on \"" + name + "\" failed: " + paText(err));
    return Status::success();
}

}  // namespace consilium::audio
