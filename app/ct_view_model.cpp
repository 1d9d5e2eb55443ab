#include "app/ct_view_model.h"

#include <algorithm>
#include <cmath>

#include "imaging/volume.h"

namespace consilium::app {

// Display convention (radiological): axial slices show the patient's right on the
// viewer's left and anterior at the top; coronal and sagittal slices show the head at the
// top. With the usual axial acquisition (row direction +x = patient left, column direction
// +y = posterior, slices sorted along +z = superior) that is: axial (col=x, row=y),
// coronal (col=x, row=flipped z), sagittal (col=y, row=flipped z).

WindowLevel windowPreset(const QString& name) {
    if (name == "mediastinum") return {40, 400};
    if (name == "bone") return {400, 1800};
    if (name == "brain") return {40, 80};
    if (name == "abdomen") return {60, 400};
    return {-600, 1500};  // lung
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
    if (empty() || index < 0 || index >= sliceCount(plane)) return {};
    const QSize size = sliceSize(plane);
    QImage img(size, QImage::Format_Grayscale8);
    // Linear window (DICOM PS3.3 C.11.2.1.2 without the 0.5 offsets): [c - w/2, c + w/2] -> [0,
    // 255].
    const double lo = wl.center - wl.width / 2.0;
    const double scale = 255.0 / std::max(1.0, wl.width);
    const bool invert = m_volume->invertedDisplay;
    for (int row = 0; row < size.height(); ++row) {
        uchar* line = img.scanLine(row);
        for (int col = 0; col < size.width(); ++col) {
            const auto v = voxelOf(*m_volume, plane, index, col, row);
            const double g = std::clamp((m_volume->at(v[0], v[1], v[2]) - lo) * scale, 0.0, 255.0);
            line[col] = uchar(std::lround(invert ? 255.0 - g : g));
        }
    }
    return img;
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

QString CtViewModel::units() const {
    return empty() ? QString() : QString::fromStdString(m_volume->units);
}

}  // namespace consilium::app
