// What the CT viewer shows, as Qt value types: slices of the loaded volume rendered to
// 8-bit images at a window/level, in axial, coronal and sagittal planes, with the geometry
// needed to map a pixel back to a voxel, its value and its patient-space (LPS mm) position.
// The volume and the rendering live in imaging/; this class only adapts them for ui/.
//
// Thread safety: immutable after construction; render calls may run on any thread.
#pragma once

#include <QImage>
#include <QPointF>
#include <QSizeF>
#include <QString>
#include <QVector3D>

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "imaging/overlay.h"

namespace consilium::imaging {
struct Volume;
}

namespace consilium::app {

enum class Plane { Axial, Coronal, Sagittal };
// Heatmap colours (imaging/overlay.h), in the order of heatmapColormapNames().
using HeatColormap = imaging::Colormap;

struct WindowLevel {
    double center = -600;  // HU
    double width = 1500;   // HU
};

// Named CT window presets (HU): lung, mediastinum, bone, brain, abdomen.
WindowLevel windowPreset(const QString& name);

struct VoxelProbe {
    int x = 0, y = 0, z = 0;  // voxel indices in the volume
    double value = 0;         // HU for CT
    QVector3D patientMm;      // LPS
};

class CtViewModel {
  public:
    explicit CtViewModel(std::shared_ptr<const imaging::Volume> volume);
    ~CtViewModel();

    bool empty() const;
    int sliceCount(Plane plane) const;
    // Image size of one slice in pixels, and the size of one pixel in mm (for aspect).
    QSize sliceSize(Plane plane) const;
    QSizeF pixelSizeMm(Plane plane) const;
    // Rendered slice (Format_Grayscale8); an index out of range gives a null image.
    QImage renderSlice(Plane plane, int index, const WindowLevel& wl) const;
    // Voxel under pixel (col, row) of slice `index`; nullopt outside the volume.
    std::optional<VoxelProbe> probe(Plane plane, int index, QPointF pixel) const;
    // Slice index in `plane` that contains the patient-space point, or -1.
    int sliceIndexAt(Plane plane, const QVector3D& patientMm) const;
    // Pixel position of a patient-space point on its slice in `plane`.
    QPointF pixelAt(Plane plane, const QVector3D& patientMm) const;
    QString units() const;  // "HU" for CT

    // Transparent RGBA image of slice `index`: a 3D Gaussian (sigma in mm) around the
    // model's attention peak, coloured with the Jet colormap, alpha following the weight
    // (transparent below 0.2). Null when the slice is out of range.
    QImage attentionOverlay(Plane plane, int index, const QVector3D& peakMm, double sigmaMm) const;

    // Transparent RGBA image of slice `index` from the model's whole attention map: one weight
    // per CT patch on the model grid (docs/MODEL.md 3.1 and 5: grid {D, H, W}, patch
    // {pd, ph, pw}, patch p = (pz·ny + py)·nx + px), trilinearly interpolated between patch
    // centres at each pixel's grid position, divided by the largest weight, in `colormap`,
    // alpha = weight, transparent below `threshold`. Null when the slice is out of range or
    // the map does not match grid / patch.
    QImage attentionMapOverlay(Plane plane, int index, const std::array<int, 3>& grid,
                               const std::array<int, 3>& patch, const std::vector<float>& weights,
                               double threshold = 0.2,
                               imaging::Colormap colormap = imaging::Colormap::Jet) const;

    const imaging::Volume& volume() const { return *m_volume; }

  private:
    std::shared_ptr<const imaging::Volume> m_volume;
};

}  // namespace consilium::app
