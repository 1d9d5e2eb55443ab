#include "imaging/window_level.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace consilium::imaging {

namespace {

struct Linear {
    double lo, hi, scale, offset;
    explicit Linear(const WindowLevel& wl) {
        const double w = std::max(1.0, wl.width);
        lo = wl.center - 0.5 - (w - 1) / 2;
        hi = wl.center - 0.5 + (w - 1) / 2;
        scale = w > 1 ? 255.0 / (w - 1) : 0.0;
        offset = (0.5 - (wl.center - 0.5) / std::max(1.0, w - 1)) * 255.0;
    }
    uint8_t operator()(double x) const {
        if (x <= lo) return 0;
        if (x > hi) return 255;
        return uint8_t(std::clamp(std::lround(x * scale + offset), 0L, 255L));
    }
};

}  // namespace

WindowLevel windowPreset(WindowPreset preset) {
    switch (preset) {
        case WindowPreset::Lung:
            return {-600, 1500};
        case WindowPreset::Mediastinum:
            return {50, 350};
        case WindowPreset::Bone:
            return {400, 1800};
        case WindowPreset::Brain:
            return {40, 80};
        case WindowPreset::Abdomen:
            return {40, 400};
    }
    return {40, 400};
}

const char* windowPresetName(WindowPreset preset) {
    switch (preset) {
        case WindowPreset::Lung:
            return "lung";
        case WindowPreset::Mediastinum:
            return "mediastinum";
        case WindowPreset::Bone:
            return "bone";
        case WindowPreset::Brain:
            return "brain";
        case WindowPreset::Abdomen:
            return "abdomen";
    }
    return "?";
}

std::optional<WindowPreset> windowPresetFromName(const std::string& name) {
    for (WindowPreset p : {WindowPreset::Lung, WindowPreset::Mediastinum, WindowPreset::Bone,
                           WindowPreset::Brain, WindowPreset::Abdomen})
        if (name == windowPresetName(p)) return p;
    return std::nullopt;
}

void applyWindow(const float* values, size_t count, const WindowLevel& wl, bool invert,
                 uint8_t* out) {
    const Linear f(wl);
    for (size_t i = 0; i < count; ++i) {
        const uint8_t y = f(values[i]);
        out[i] = invert ? uint8_t(255 - y) : y;
    }
}

void applyWindow(const int16_t* values, size_t count, const WindowLevel& wl, bool invert,
                 uint8_t* out) {
    // A 64 Ki-entry table: one lookup per voxel.
    static thread_local std::vector<uint8_t> lut;
    static thread_local std::array<double, 3> key{0, 0, -1};
    if (key[0] != wl.center || key[1] != wl.width || key[2] != double(invert) || lut.empty()) {
        lut.resize(65536);
        const Linear f(wl);
        for (int v = -32768; v <= 32767; ++v) {
            const uint8_t y = f(double(v));
            lut[size_t(v + 32768)] = invert ? uint8_t(255 - y) : y;
        }
        key = {wl.center, wl.width, double(invert)};
    }
    for (size_t i = 0; i < count; ++i)
        out[i] = lut[size_t(int(values[i]) + 32768)];
}

}  // namespace consilium::imaging
