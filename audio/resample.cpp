#include "audio/resample.h"

#include <soxr.h>

#include <cmath>
#include <string>

namespace consilium::audio {
namespace {

struct SoxrDeleter {
    void operator()(soxr_t s) const { soxr_delete(s); }
};
using SoxrHandle = std::unique_ptr<std::remove_pointer_t<soxr_t>, SoxrDeleter>;

Result<SoxrHandle> createSoxr(double inRate, double outRate) {
    if (!(inRate > 0) || !(outRate > 0)) {
        return makeError(ErrorCode::InvalidArgument, "resample: invalid rates " +
                                                         std::to_string(inRate) + " -> " +
                                                         std::to_string(outRate) + " Hz");
    }
    soxr_error_t err = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    SoxrHandle handle(soxr_create(inRate, outRate, 1, &err, &io, &quality, nullptr));
    if (err || !handle) {
        return makeError(ErrorCode::Internal,
                         std::string("resample: soxr_create failed: ") + (err ? err : "?"));
    }
    return handle;
}

// Runs all of `n` input samples (or the flush when `samples` is null) through `soxr`,
// appending to `out`.
Status drive(soxr_t soxr, const float* samples, size_t n, double ratio, std::vector<float>& out) {
    size_t consumed = 0;
    for (;;) {
        const size_t room = size_t(std::ceil(double(n - consumed) * ratio)) + 1024;
        const size_t before = out.size();
        out.resize(before + room);
        size_t idone = 0, odone = 0;
        const soxr_error_t err =
            soxr_process(soxr, samples ? samples + consumed : nullptr, samples ? n - consumed : 0,
                         &idone, out.data() + before, room, &odone);
        out.resize(before + odone);
        if (err) return makeError(ErrorCode::Internal, std::string("resample: ") + err);
        consumed += idone;
        // Done when the input is consumed and soxr did not fill all the room it was given
        // (a full output means it may hold more).
        if ((samples == nullptr || consumed >= n) && odone < room) break;
    }
    return Status::success();
}

}  // namespace

Result<std::vector<float>> resample(const float* samples, size_t n, double inRate, double outRate) {
    if (inRate == outRate && inRate > 0) return std::vector<float>(samples, samples + n);
    auto soxr = createSoxr(inRate, outRate);
    if (!soxr) return soxr.error();
    const double ratio = outRate / inRate;
    std::vector<float> out;
    out.reserve(size_t(std::ceil(double(n) * ratio)) + 1024);
    if (Status s = drive(soxr->get(), samples, n, ratio, out); !s) return s.error();
    if (Status s = drive(soxr->get(), nullptr, 0, ratio, out); !s) return s.error();
    // soxr emits exactly the delay-compensated signal; pin the length to the nominal one.
    out.resize(size_t(std::llround(double(n) * ratio)), 0.0f);
    return out;
}

Result<AudioBuffer> resampleTo(const AudioBuffer& audio, int outRate) {
    auto samples = resample(audio.samples.data(), audio.samples.size(), audio.sampleRate, outRate);
    if (!samples) return samples.error();
    return AudioBuffer{std::move(samples.value()), outRate};
}

struct StreamResampler::Impl {
    SoxrHandle soxr;
    double ratio = 1.0;
};

StreamResampler::StreamResampler(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
StreamResampler::~StreamResampler() = default;

Result<std::unique_ptr<StreamResampler>> StreamResampler::create(double inRate, double outRate) {
    auto soxr = createSoxr(inRate, outRate);
    if (!soxr) return soxr.error();
    auto impl = std::make_unique<Impl>();
    impl->soxr = std::move(soxr.value());
    impl->ratio = outRate / inRate;
    return std::unique_ptr<StreamResampler>(new StreamResampler(std::move(impl)));
}

Status StreamResampler::process(const float* samples, size_t n, std::vector<float>& out) {
    if (n == 0) return Status::success();
    return drive(m_impl->soxr.get(), samples, n, m_impl->ratio, out);
}

Status StreamResampler::flush(std::vector<float>& out) {
    return drive(m_impl->soxr.get(), nullptr, 0, m_impl->ratio, out);
}

}  // namespace consilium::audio
