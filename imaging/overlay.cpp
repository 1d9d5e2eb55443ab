#include "imaging/overlay.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace consilium::imaging {

namespace {

int cvColormap(Colormap c) {
    switch (c) {
        case Colormap::Jet:
            return cv::COLORMAP_JET;
        case Colormap::Hot:
            return cv::COLORMAP_HOT;
        case Colormap::Inferno:
            return cv::COLORMAP_INFERNO;
        case Colormap::Viridis:
            return cv::COLORMAP_VIRIDIS;
    }
    return cv::COLORMAP_JET;
}

}  // namespace

// applyColorMap on a 0..255 ramp; OpenCV returns BGR.
std::array<std::array<uint8_t, 3>, 256> colormapTable(Colormap c) {
    cv::Mat ramp(1, 256, CV_8U);
    for (int i = 0; i < 256; ++i)
        ramp.at<uint8_t>(0, i) = uint8_t(i);
    cv::Mat bgr;
    cv::applyColorMap(ramp, bgr, cvColormap(c));
    std::array<std::array<uint8_t, 3>, 256> table{};
    for (int i = 0; i < 256; ++i) {
        const cv::Vec3b p = bgr.at<cv::Vec3b>(0, i);
        table[size_t(i)] = {p[2], p[1], p[0]};
    }
    return table;
}

std::array<uint8_t, 3> colormapColor(Colormap colormap, float t) {
    const auto table = colormapTable(colormap);
    return table[size_t(std::clamp(std::lround(t * 255.f), 0L, 255L))];
}

Result<RgbaImage> composeOverlay(const Image8& base, const Heatmap& heat, const HeatmapStyle& style,
                                 const std::vector<Marker>& markers) {
    if (base.width <= 0 || base.height <= 0 ||
        base.pixels.size() != size_t(base.width) * size_t(base.height))
        return makeError(ErrorCode::InvalidArgument, "overlay base image is empty or inconsistent");
    if (heat.width > 0 && heat.values.size() != size_t(heat.width) * size_t(heat.height))
        return makeError(ErrorCode::InvalidArgument,
                         "heatmap has " + std::to_string(heat.values.size()) + " values for " +
                             std::to_string(heat.width) + "x" + std::to_string(heat.height));
    cv::Mat rgba(base.height, base.width, CV_8UC4);
    {
        const cv::Mat grey(base.height, base.width, CV_8U,
                           const_cast<uint8_t*>(base.pixels.data()));
        cv::cvtColor(grey, rgba, cv::COLOR_GRAY2RGBA);
    }
    if (heat.width > 0 && heat.height > 0) {
        cv::Mat h(heat.height, heat.width, CV_32F, const_cast<float*>(heat.values.data()));
        cv::Mat scaled;
        if (heat.width == base.width && heat.height == base.height)
            scaled = h;
        else
            cv::resize(h, scaled, cv::Size(base.width, base.height), 0, 0, cv::INTER_LINEAR);
        const auto table = colormapTable(style.colormap);
        const float opacity = std::clamp(style.opacity, 0.f, 1.f);
        for (int y = 0; y < base.height; ++y) {
            const float* hp = scaled.ptr<float>(y);
            uint8_t* out = rgba.ptr<uint8_t>(y);
            for (int x = 0; x < base.width; ++x) {
                const float v = std::clamp(hp[x], 0.f, 1.f);
                if (v < style.threshold) continue;
                const float edge = std::clamp((v - style.threshold) / 0.1f, 0.f, 1.f);
                const float a = opacity * edge * edge * (3 - 2 * edge);
                const auto& c = table[size_t(std::lround(v * 255.f))];
                for (int k = 0; k < 3; ++k)
                    out[4 * x + k] =
                        uint8_t(std::lround(out[4 * x + k] * (1 - a) + c[size_t(k)] * a));
            }
        }
    }
    for (const Marker& m : markers) {
        const cv::Scalar colour(m.rgba[0], m.rgba[1], m.rgba[2], m.rgba[3]);
        const int thickness = std::max(1, int(std::lround(m.thickness)));
        // Sub-pixel positions: 4 fractional bits.
        const cv::Point c(int(std::lround(m.x * 16)), int(std::lround(m.y * 16)));
        const int r = int(std::lround(m.radius * 16));
        switch (m.shape) {
            case MarkerShape::Circle:
                cv::circle(rgba, c, r, colour, thickness, cv::LINE_AA, 4);
                break;
            case MarkerShape::Box:
                cv::rectangle(rgba, cv::Point(c.x - r, c.y - r), cv::Point(c.x + r, c.y + r),
                              colour, thickness, cv::LINE_AA, 4);
                break;
            case MarkerShape::Cross:
                cv::line(rgba, cv::Point(c.x - r, c.y), cv::Point(c.x + r, c.y), colour, thickness,
                         cv::LINE_AA, 4);
                cv::line(rgba, cv::Point(c.x, c.y - r), cv::Point(c.x, c.y + r), colour, thickness,
                         cv::LINE_AA, 4);
                break;
        }
    }
    RgbaImage out;
    out.width = base.width;
    out.height = base.height;
    out.pixels.assign(rgba.data, rgba.data + size_t(base.width) * size_t(base.height) * 4);
    return out;
}

}  // namespace consilium::imaging
