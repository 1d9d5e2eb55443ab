// Window/level (VOI LUT) of modality values to 8-bit display values, with the usual CT
// presets. Formula: DICOM PS3.3 C.11.2.1.2.1, linear VOI LUT function:
//   y = 0                      if x <= c - 0.5 - (w - 1) / 2
//   y = 255                    if x >  c - 0.5 + (w - 1) / 2
//   y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255   otherwise (rounded to nearest)
// MONOCHROME1 volumes (Volume::invertedDisplay) are shown inverted: 255 - y.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace consilium::imaging {

struct WindowLevel {
    double center = 40.0;  // same units as the values (HU for CT)
    double width = 400.0;  // >= 1
};

enum class WindowPreset { Lung, Mediastinum, Bone, Brain, Abdomen };

// Lung (-600, 1500), mediastinum (50, 350), bone (400, 1800), brain (40, 80),
// abdomen (40, 400): center, width in HU.
WindowLevel windowPreset(WindowPreset preset);
const char* windowPresetName(WindowPreset preset);  // "lung", "mediastinum", ...
std::optional<WindowPreset> windowPresetFromName(const std::string& name);

// out[i] = window(values[i]); `out` holds `count` bytes. width < 1 is treated as 1.
void applyWindow(const float* values, size_t count, const WindowLevel& wl, bool invert,
                 uint8_t* out);
void applyWindow(const int16_t* values, size_t count, const WindowLevel& wl, bool invert,
                 uint8_t* out);

// An 8-bit grayscale image, row-major, tightly packed.
struct Image8 {
    int width = 0;
    int height = 0;
    double pixelWidthMm = 1.0;  // physical size of one pixel, for aspect-correct display
    double pixelHeightMm = 1.0;
    std::vector<uint8_t> pixels;  // [height][width]
};

}  // namespace consilium::imaging
