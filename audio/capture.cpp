#include "audio/capture.h"

#include <portaudio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "audio/portaudio_session.h"
#include "audio/resample.h"
#include "audio/ring_buffer.h"

namespace consilium::audio {
namespace {

using Clock = std::chrono::steady_clock;

// The drain thread wakes this often; the ring buffer holds many times more.
constexpr auto kDrainInterval = std::chrono::milliseconds(10);
constexpr double kRingSeconds = 2.0;
// No callback for this long while the stream claims to run: the device is gone.
constexpr double kStallSeconds = 2.0;

std::string paText(PaError e) {
    return std::string(Pa_GetErrorText(e)) + " (" + std::to_string(e) + ")";
}

bool isNoDeviceError(PaError e) {
    return e == paNoDevice || e == paDeviceUnavailable || e == paInvalidDevice;
}

}  // namespace

struct AudioCapture::Impl {
    detail::PortAudioSession pa;
    PaStream* stream = nullptr;
    std::string deviceName;
    double rate = 0.0;
    int channels = 1;
    uint64_t maxFrames = 0;

    std::unique_ptr<SpscRingBuffer> ring;
    std::vector<float> scratch;  // callback scratch (mixdown, sanitising), preallocated

    // Written by the callback, read anywhere.
    std::atomic<uint64_t> framesSeen{0};
    std::atomic<uint64_t> dropped{0};
    std::atomic<float> levelRms{0.0f}, levelPeak{0.0f};
    std::atomic<bool> maxReached{false};

    // Drain thread state.
    std::thread drainThread;
    std::atomic<bool> stopRequested{false};
    std::atomic<bool> stopping{false};  // stop() is stopping the stream: inactivity is expected
    std::atomic<bool> finished{false};  // max length reached or device lost
    std::atomic<bool> started{false};
    std::vector<float> captured;  // native rate, owned by the drain thread until joined
    std::mutex finishMutex;
    std::condition_variable finishCv;
    std::string lostMessage;  // set by the drain thread before `finished`
    std::atomic<bool> lost{false};

    ~Impl() { closeStream(); }

    void closeStream() {
        if (!stream) return;
        detail::QuietStderr quiet;
        Pa_AbortStream(stream);
        Pa_CloseStream(stream);
        stream = nullptr;
    }

    // Real-time callback: copy (mixing channels down if needed) and update the meter.
    static int callback(const void* input, void*, unsigned long frameCount,
                        const PaStreamCallbackTimeInfo*, PaStreamCallbackFlags, void* user) {
        auto* self = static_cast<Impl*>(user);
        const uint64_t seen = self->framesSeen.load(std::memory_order_relaxed);
        unsigned long frames = frameCount;
        bool last = false;
        if (seen + frames >= self->maxFrames) {
            frames = (unsigned long)(self->maxFrames - seen);
            last = true;
        }
        // Mix down (or copy) into the preallocated scratch block by block, sanitising as we
        // go: some host APIs hand over buffers they never filled (ALSA's null device does),
        // and NaN/inf or out-of-range values must not reach the resampler or the decoder.
        const float* in = static_cast<const float*>(input);
        const int channels = self->channels;
        float sumSq = 0.0f, peak = 0.0f;
        for (unsigned long done = 0; in && done < frames;) {
            const unsigned long n =
                std::min<unsigned long>(frames - done, (unsigned long)self->scratch.size());
            float* out = self->scratch.data();
            for (unsigned long f = 0; f < n; ++f) {
                float sum = 0.0f;
                for (int c = 0; c < channels; ++c)
                    sum += in[(done + f) * channels + c];
                float v = sum / float(channels);
                v = std::isfinite(v) ? std::clamp(v, -1.0f, 1.0f) : 0.0f;
                out[f] = v;
                sumSq += v * v;
                peak = std::max(peak, std::fabs(v));
            }
            const size_t written = self->ring->write(out, n);
            if (written < n) self->dropped.fetch_add(n - written, std::memory_order_relaxed);
            done += n;
        }
        if (in && frames > 0) {
            self->levelRms.store(std::sqrt(sumSq / float(frames)), std::memory_order_relaxed);
            self->levelPeak.store(peak, std::memory_order_relaxed);
        }
        self->framesSeen.store(seen + frames, std::memory_order_release);
        if (last) {
            self->maxReached.store(true, std::memory_order_release);
            return paComplete;
        }
        return paContinue;
    }

    void drainOnce(std::vector<float>& block) {
        for (size_t got; (got = ring->read(block.data(), block.size())) > 0;)
            captured.insert(captured.end(), block.begin(), block.begin() + long(got));
    }

    void markFinished(const std::string& lostReason) {
        {
            std::lock_guard<std::mutex> lock(finishMutex);
            if (!lostReason.empty()) {
                lostMessage = lostReason;
                lost.store(true);
            }
            finished.store(true);
        }
        finishCv.notify_all();
    }

    void drainLoop() {
        std::vector<float> block(4096);
        uint64_t lastSeen = 0;
        auto lastProgress = Clock::now();
        while (!stopRequested.load()) {
            std::this_thread::sleep_for(kDrainInterval);
            drainOnce(block);
            if (finished.load()) continue;
            if (maxReached.load(std::memory_order_acquire)) {
                markFinished("");
                continue;
            }
            const uint64_t seen = framesSeen.load(std::memory_order_acquire);
            if (seen != lastSeen) {
                lastSeen = seen;
                lastProgress = Clock::now();
            }
            const PaError active = Pa_IsStreamActive(stream);
            const double stalled =
                std::chrono::duration<double>(Clock::now() - lastProgress).count();
            if (active < 0 && !stopping.load()) {
                markFinished("the audio device \"" + deviceName +
                             "\" failed mid-recording: " + paText(active));
            } else if (active == 0 && !stopping.load()) {
                markFinished("the audio device \"" + deviceName +
                             "\" stopped delivering audio mid-recording");
            } else if (stalled > kStallSeconds && !stopping.load()) {
                markFinished("the audio device \"" + deviceName + "\" delivered no audio for " +
                             std::to_string(int(kStallSeconds)) + " s (unplugged?)");
            }
        }
        drainOnce(block);
    }
};

AudioCapture::AudioCapture(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

AudioCapture::~AudioCapture() {
    cancel();
}

Result<std::unique_ptr<AudioCapture>> AudioCapture::open(const CaptureOptions& options) {
    if (!(options.maxSeconds > 0)) {
        return makeError(ErrorCode::InvalidArgument, "capture: maximum length must be positive");
    }
    auto impl = std::make_unique<Impl>();
    if (impl->pa.rc != paNoError) {
        return makeError(ErrorCode::IoError,
                         "PortAudio failed to initialise: " + paText(impl->pa.rc));
    }
    PaDeviceIndex device = options.deviceIndex;
    if (device < 0) {
        device = Pa_GetDefaultInputDevice();
        if (device == paNoDevice) {
            return makeError(ErrorCode::NoAudioDevice,
                             "no audio input device: PortAudio found no microphone (open an audio "
                             "file instead)");
        }
    }
    if (device >= Pa_GetDeviceCount()) {
        return makeError(ErrorCode::InvalidArgument,
                         "capture: no audio device with index " + std::to_string(device));
    }
    const PaDeviceInfo* info = Pa_GetDeviceInfo(device);
    if (!info || info->maxInputChannels <= 0) {
        return makeError(
            ErrorCode::InvalidArgument,
            "capture: audio device " + std::to_string(device) + " has no input channels");
    }
    impl->deviceName = info->name ? info->name : "?";
    impl->rate = options.sampleRate > 0 ? options.sampleRate : info->defaultSampleRate;
    impl->maxFrames = uint64_t(std::ceil(options.maxSeconds * impl->rate));
    impl->ring = std::make_unique<SpscRingBuffer>(size_t(kRingSeconds * impl->rate));
    impl->captured.reserve(size_t(std::min(options.maxSeconds, 600.0) * impl->rate));

    // Mono if the device (or ALSA's plug layer) offers it, else all its channels mixed
    // down in the callback.
    PaError err = paNoError;
    for (int channels : {1, info->maxInputChannels}) {
        PaStreamParameters in{};
        in.device = device;
        in.channelCount = channels;
        in.sampleFormat = paFloat32;
        in.suggestedLatency = info->defaultLowInputLatency;
        impl->channels = channels;
        impl->scratch.assign(4096, 0.0f);
        detail::QuietStderr quiet;
        err = Pa_OpenStream(&impl->stream, &in, nullptr, impl->rate, paFramesPerBufferUnspecified,
                            paNoFlag, &Impl::callback, impl.get());
        if (err == paNoError) break;
        impl->stream = nullptr;
        if (channels == info->maxInputChannels) break;
    }
    if (err != paNoError) {
        const ErrorCode code = isNoDeviceError(err) ? ErrorCode::NoAudioDevice : ErrorCode::IoError;
        return makeError(code, "cannot open audio input \"" + impl->deviceName + "\" at " +
                                   std::to_string(int(impl->rate)) + " Hz: " + paText(err));
    }
    return std::unique_ptr<AudioCapture>(new AudioCapture(std::move(impl)));
}

Status AudioCapture::start() {
    Impl& d = *m_impl;
    if (d.started.load() || !d.stream)
        return makeError(ErrorCode::InvalidArgument, "capture: already started");
    PaError err;
    {
        detail::QuietStderr quiet;
        err = Pa_StartStream(d.stream);
    }
    if (err != paNoError) {
        return makeError(isNoDeviceError(err) ? ErrorCode::NoAudioDevice : ErrorCode::IoError,
                         "cannot start recording from \"" + d.deviceName + "\": " + paText(err));
    }
    d.started.store(true);
    d.drainThread = std::thread([&d] { d.drainLoop(); });
    return Status::success();
}

bool AudioCapture::waitUntilFinished(double timeoutSeconds) {
    Impl& d = *m_impl;
    std::unique_lock<std::mutex> lock(d.finishMutex);
    return d.finishCv.wait_for(lock, std::chrono::duration<double>(timeoutSeconds),
                               [&d] { return d.finished.load(); });
}

Result<Recording> AudioCapture::stop() {
    Impl& d = *m_impl;
    if (!d.started.load())
        return makeError(ErrorCode::InvalidArgument, "capture: stop() without start()");
    // Stop the stream first (Pa_StopStream returns after the last callback), then let the
    // drain thread empty the ring buffer one final time.
    d.stopping.store(true);
    if (d.stream) {
        detail::QuietStderr quiet;
        Pa_StopStream(d.stream);
    }
    d.stopRequested.store(true);
    if (d.drainThread.joinable()) d.drainThread.join();
    d.closeStream();
    d.started.store(false);

    Recording r;
    r.nativeSampleRate = d.rate;
    r.reachedMaxLength = d.maxReached.load();
    r.droppedSamples = size_t(d.dropped.load());
    {
        std::lock_guard<std::mutex> lock(d.finishMutex);
        if (d.lost.load()) r.status = makeError(ErrorCode::AudioDeviceLost, d.lostMessage);
    }
    auto resampled = resample(d.captured.data(), d.captured.size(), d.rate, kSpeechSampleRate);
    if (!resampled) return resampled.error();
    r.audio = AudioBuffer{std::move(resampled.value()), kSpeechSampleRate};
    d.captured.clear();
    return r;
}

void AudioCapture::cancel() {
    Impl& d = *m_impl;
    d.stopRequested.store(true);
    if (d.drainThread.joinable()) d.drainThread.join();
    d.closeStream();
    d.started.store(false);
    d.captured.clear();
}

CaptureLevel AudioCapture::level() const {
    return {m_impl->levelRms.load(std::memory_order_relaxed),
            m_impl->levelPeak.load(std::memory_order_relaxed)};
}

double AudioCapture::recordedSeconds() const {
    return m_impl->rate > 0
               ? double(m_impl->framesSeen.load(std::memory_order_acquire)) / m_impl->rate
               : 0.0;
}

bool AudioCapture::isRecording() const {
    return m_impl->started.load() && !m_impl->finished.load() && !m_impl->stopRequested.load();
}

double AudioCapture::nativeSampleRate() const {
    return m_impl->rate;
}

const std::string& AudioCapture::deviceName() const {
    return m_impl->deviceName;
}

}  // namespace consilium::audio
