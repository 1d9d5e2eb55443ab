// RGBA rendering of a grayscale slice with an attention heatmap and markers on top, so the
// UI only paints finished buffers. Colormaps are OpenCV's (cv::applyColorMap).
//
// Heatmap values are expected in [0, 1] (clamped); they may have any resolution and are
// resized (bilinear) to the image. A pixel gets colour where heat >= threshold, blended
// with alpha = opacity * smoothstep over [threshold, threshold + 0.1] (a soft edge).
// Markers are drawn antialiased in image pixel coordinates (x right, y down).
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "imaging/window_level.h"
#include "kernels/status.h"

namespace consilium::imaging {

enum class Colormap { Jet, Hot, Inferno, Viridis };

struct HeatmapStyle {
    Colormap colormap = Colormap::Jet;
    float opacity = 0.5f;    // 0..1
    float threshold = 0.2f;  // heat below is transparent
};

enum class MarkerShape { Circle, Cross, Box };

struct Marker {
    float x = 0, y = 0;  // centre, image pixels
    float radius = 8;    // pixels
    MarkerShape shape = MarkerShape::Circle;
    uint8_t rgba[4] = {255, 255, 0, 255};
    float thickness = 1.5f;  // pixels
};

// A straight-alpha RGBA8 image, row-major, 4 bytes per pixel.
struct RgbaImage {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;  // [height][width][4]
};

struct Heatmap {
    int width = 0;
    int height = 0;
    std::vector<float> values;  // [height][width], 0..1
};

// Grey base + heatmap (optional: width 0 = none) + markers. Errors: InvalidArgument (empty
// base image, heatmap values size != width*height).
Result<RgbaImage> composeOverlay(const Image8& base, const Heatmap& heat, const HeatmapStyle& style,
                                 const std::vector<Marker>& markers);

// RGB of a colormap at t in [0, 1] (for legends).
std::array<uint8_t, 3> colormapColor(Colormap colormap, float t);
// The whole colormap as 256 RGB entries (entry i is colormapColor(colormap, i / 255)), in one
// OpenCV call: build it once and index it per pixel.
std::array<std::array<uint8_t, 3>, 256> colormapTable(Colormap colormap);

}  // namespace consilium::imaging
