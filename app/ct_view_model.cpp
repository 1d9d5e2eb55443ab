#include "app/ct_view_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "imaging/overlay.h"
#include "imaging/reslice.h"
#include "imaging/volume.h"
#include "imaging/window_level.h"

namespace consilium::app {

// Rendering is imaging/reslice.h's; the pixel -> voxel mapping below mirrors its plane
// convention (radiological): axial (col=x, row=y), coronal (col=x, row=flipped z),
// sagittal (col=y, row=flipped z).
static_assert(int(consilium::app::Plane::Coronal) == int(consilium::imaging::Plane::Coronal) &&
                  int(consilium::app::Plane::Sagittal) == int(consilium::imaging::Plane::Sagittal),
              "app::Plane mirrors imaging::Plane");

WindowLevel windowPreset(const QString& name) {
    const auto preset = imaging::windowPresetFromName(name.toStdString());
    const auto wl = imaging::windowPreset(preset.value_or(imaging::WindowPreset::Lung));
    return {wl.center, wl.width};
}

CtViewModel::CtViewModel(std::shared_ptr<const imaging::Volume> volume)
    : m_volume(std::move(volume)) {}
CtViewModel::~CtViewModel() = default;

bool CtViewModel::empty() const {
    return !m_volume || m_volume->empty();
}

int CtViewModel::sliceCount(Plane plane) const {
    if (empty()) return 0;
    const auto& d = m_volume->dims;
    return plane == Plane::Axial ? d[2] : plane == Plane::Coronal ? d[1] : d[0];
}

QSize CtViewModel::sliceSize(Plane plane) const {
    if (empty()) return {};
    const auto& d = m_volume->dims;
    switch (plane) {
        case Plane::Axial:
            return {d[0], d[1]};
        case Plane::Coronal:
            return {d[0], d[2]};
        case Plane::Sagittal:
            return {d[1], d[2]};
    }
    return {};
}

QSizeF CtViewModel::pixelSizeMm(Plane plane) const {
    if (empty()) return {1, 1};
    const auto& s = m_volume->spacing;
    switch (plane) {
        case Plane::Axial:
            return {s[0], s[1]};
        case Plane::Coronal:
            return {s[0], s[2]};
        case Plane::Sagittal:
            return {s[1], s[2]};
    }
    return {1, 1};
}

namespace {

// The four colormaps as 256-entry RGB tables, built once (one OpenCV call each): building
// them entry by entry through imaging::colormapColor() ran applyColorMap 1024 times and
// stalled the first heatmap by ~145 ms (consilium-bench-gui).
using ColorTable = std::array<std::array<uint8_t, 3>, 256>;
const ColorTable& colorTable(imaging::Colormap colormap) {
    static const std::array<ColorTable, 4> tables = [] {
        std::array<ColorTable, 4> t{};
        for (int c = 0; c < 4; ++c)
            t[size_t(c)] = imaging::colormapTable(static_cast<imaging::Colormap>(c));
        return t;
    }();
    return tables[std::min(size_t(colormap), size_t(3))];
}

// One RGBA8888 pixel of a heatmap: the colour of weight w in [0, 1] (quantised as
// imaging::colormapColor does), alpha = alphaMax · w.
void paintHeat(uchar* px, double w, double alphaMax,
               imaging::Colormap colormap = imaging::Colormap::Jet) {
    const auto& rgb =
        colorTable(colormap)[size_t(std::clamp(std::lround(float(w) * 255.f), 0L, 255L))];
    px[0] = rgb[0];
    px[1] = rgb[1];
    px[2] = rgb[2];
    px[3] = uchar(std::lround(alphaMax * w));
}

// Voxel of pixel (col, row) on slice `index` of `plane`.
std::array<int, 3> voxelOf(const imaging::Volume& v, Plane plane, int index, int col, int row) {
    const int nz = v.dims[2];
    switch (plane) {
        case Plane::Axial:
            return {col, row, index};
        case Plane::Coronal:
            return {col, index, nz - 1 - row};
        case Plane::Sagittal:
            return {index, col, nz - 1 - row};
    }
    return {0, 0, 0};
}

}  // namespace

QImage CtViewModel::renderSlice(Plane plane, int index, const WindowLevel& wl) const {
    if (empty()) return {};
    auto rendered = imaging::renderSlice(*m_volume, static_cast<imaging::Plane>(plane), index,
                                         {wl.center, wl.width});
    if (!rendered.ok()) return {};
    const imaging::Image8& img = rendered.value();
    QImage out(img.width, img.height, QImage::Format_Grayscale8);
    for (int row = 0; row < img.height; ++row) {
        std::memcpy(out.scanLine(row), img.pixels.data() + size_t(row) * img.width,
                    size_t(img.width));
    }
    return out;
}

std::optional<VoxelProbe> CtViewModel::probe(Plane plane, int index, QPointF pixel) const {
    if (empty() || index < 0 || index >= sliceCount(plane)) return std::nullopt;
    const QSize size = sliceSize(plane);
    const int col = int(std::floor(pixel.x())), row = int(std::floor(pixel.y()));
    if (col < 0 || row < 0 || col >= size.width() || row >= size.height()) return std::nullopt;
    const auto v = voxelOf(*m_volume, plane, index, col, row);
    VoxelProbe p;
    p.x = v[0];
    p.y = v[1];
    p.z = v[2];
    p.value = m_volume->at(v[0], v[1], v[2]);
    const auto mm = m_volume->toPatient({double(v[0]), double(v[1]), double(v[2])});
    p.patientMm = QVector3D(float(mm[0]), float(mm[1]), float(mm[2]));
    return p;
}

int CtViewModel::sliceIndexAt(Plane plane, const QVector3D& patientMm) const {
    if (empty()) return -1;
    const auto v = m_volume->toVoxel({patientMm.x(), patientMm.y(), patientMm.z()});
    const int axis = plane == Plane::Axial ? 2 : plane == Plane::Coronal ? 1 : 0;
    const int i = int(std::lround(v[axis]));
    return i >= 0 && i < sliceCount(plane) ? i : -1;
}

QPointF CtViewModel::pixelAt(Plane plane, const QVector3D& patientMm) const {
    if (empty()) return {};
    const auto v = m_volume->toVoxel({patientMm.x(), patientMm.y(), patientMm.z()});
    const double flippedZ = m_volume->dims[2] - 1 - v[2];
    switch (plane) {
        case Plane::Axial:
            return {v[0] + 0.5, v[1] + 0.5};
        case Plane::Coronal:
            return {v[0] + 0.5, flippedZ + 0.5};
        case Plane::Sagittal:
            return {v[1] + 0.5, flippedZ + 0.5};
    }
    return {};
}

QImage CtViewModel::attentionOverlay(Plane plane, int index, const QVector3D& peakMm,
                                     double sigmaMm) const {
    if (empty() || index < 0 || index >= sliceCount(plane) || sigmaMm <= 0) return {};
    const QSize size = sliceSize(plane);
    QImage img(size, QImage::Format_RGBA8888);
    img.fill(Qt::transparent);
    const double inv2s2 = 1.0 / (2.0 * sigmaMm * sigmaMm);
    for (int row = 0; row < size.height(); ++row) {
        uchar* line = img.scanLine(row);
        for (int col = 0; col < size.width(); ++col) {
            const auto v = voxelOf(*m_volume, plane, index, col, row);
            const auto mm = m_volume->toPatient({double(v[0]), double(v[1]), double(v[2])});
            const double dx = mm[0] - peakMm.x(), dy = mm[1] - peakMm.y(), dz = mm[2] - peakMm.z();
            const double w = std::exp(-(dx * dx + dy * dy + dz * dz) * inv2s2);
            if (w < 0.2) continue;
            paintHeat(line + 4 * col, w, 255.0);
        }
    }
    return img;
}

QImage CtViewModel::attentionMapOverlay(Plane plane, int index, const std::array<int, 3>& grid,
                                        const std::array<int, 3>& patch,
                                        const std::vector<float>& weights, double threshold,
                                        imaging::Colormap colormap) const {
    if (empty() || index < 0 || index >= sliceCount(plane)) return {};
    for (int i = 0; i < 3; ++i)
        if (grid[size_t(i)] < 1 || patch[size_t(i)] < 1 || grid[size_t(i)] % patch[size_t(i)])
            return {};
    const int nz = grid[0] / patch[0], ny = grid[1] / patch[1], nx = grid[2] / patch[2];
    if (weights.size() != size_t(nz) * size_t(ny) * size_t(nx)) return {};
    const float top = *std::max_element(weights.begin(), weights.end());
    if (!(top > 0)) return {};
    // Continuous patch coordinate of a continuous grid coordinate g along one axis: patch k
    // has its centre at grid k·p + (p − 1)/2.
    auto patchCoord = [](double g, int p, int n, int* i0, double* t) {
        const double u = std::clamp((g - (p - 1) / 2.0) / p, 0.0, double(n - 1));
        *i0 = std::min(int(u), std::max(0, n - 2));
        *t = n > 1 ? u - *i0 : 0.0;
    };
    const imaging::Volume& v = *m_volume;
    const double Sx = v.dims[0], Sy = v.dims[1], Sz = v.dims[2];
    auto at = [&](int z, int y, int x) {
        return double(weights[size_t((z * ny + y) * nx + x)]) / top;
    };
    const QSize size = sliceSize(plane);
    QImage img(size, QImage::Format_RGBA8888);
    img.fill(Qt::transparent);
    for (int row = 0; row < size.height(); ++row) {
        uchar* line = img.scanLine(row);
        for (int col = 0; col < size.width(); ++col) {
            const auto vox = voxelOf(v, plane, index, col, row);
            // Source voxel -> grid coordinates (the inverse of docs/MODEL.md 3.1).
            const double gx = (vox[0] + 0.5) * grid[2] / Sx - 0.5;
            const double gy = (vox[1] + 0.5) * grid[1] / Sy - 0.5;
            const double gz = Sz > 1 ? vox[2] * (grid[0] - 1) / (Sz - 1) : (grid[0] - 1) / 2.0;
            int z0, y0, x0;
            double tz, ty, tx;
            patchCoord(gz, patch[0], nz, &z0, &tz);
            patchCoord(gy, patch[1], ny, &y0, &ty);
            patchCoord(gx, patch[2], nx, &x0, &tx);
            const int z1 = std::min(z0 + 1, nz - 1), y1 = std::min(y0 + 1, ny - 1),
                      x1 = std::min(x0 + 1, nx - 1);
            auto lerp = [](double a, double b, double t) { return a + (b - a) * t; };
            const double w = lerp(lerp(lerp(at(z0, y0, x0), at(z0, y0, x1), tx),
                                       lerp(at(z0, y1, x0), at(z0, y1, x1), tx), ty),
                                  lerp(lerp(at(z1, y0, x0), at(z1, y0, x1), tx),
                                       lerp(at(z1, y1, x0), at(z1, y1, x1), tx), ty),
                                  tz);
            if (w < threshold) continue;
            paintHeat(line + 4 * col, w, 200.0, colormap);
        }
    }
    return img;
}

QString CtViewModel::units() const {
    return empty() ? QString() : QString::fromStdString(m_volume->units);
}

}  // namespace consilium::app
