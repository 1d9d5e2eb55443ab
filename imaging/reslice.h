// Slices of a Volume along its three axes, windowed display images, and resampling to a
// model's input grid (OpenCV cv::resize in-plane, linear interpolation between slices).
//
// Planes are taken along the volume's own axes (imaging/volume.h): for an axial
// acquisition (ImageOrientationPatient 1\0\0\0\1\0) they are the anatomical planes, shown
// in the radiological convention:
//   Axial    (constant z index): width = x (patient right on the image's left), height = y
//            (anterior at the top).
//   Coronal  (constant y index): width = x, height = z with the highest z (head) on top.
//   Sagittal (constant x index): width = y (anterior on the left), height = z, head on top.
// Pure functions on const data; thread-safe.
#pragma once

#include <array>
#include <vector>

#include "imaging/volume.h"
#include "imaging/window_level.h"
#include "kernels/status.h"

namespace consilium::imaging {

enum class Plane { Axial, Coronal, Sagittal };

const char* planeName(Plane plane);  // "axial", "coronal", "sagittal"

// Number of slices of `volume` along the plane's normal (dims[2], dims[1] or dims[0]).
int sliceCount(const Volume& volume, Plane plane);

struct SliceImage {
    int width = 0;
    int height = 0;
    double pixelWidthMm = 1.0;
    double pixelHeightMm = 1.0;
    std::vector<float> values;  // [height][width], modality values (HU)
};

// Errors: InvalidArgument (empty volume, index outside 0..sliceCount-1).
Result<SliceImage> extractSlice(const Volume& volume, Plane plane, int index);

// extractSlice + applyWindow (inverted for MONOCHROME1 volumes).
Result<Image8> renderSlice(const Volume& volume, Plane plane, int index, const WindowLevel& wl);

// Resamples the whole volume to outDims (x, y, z) voxels covering the same extent. In-plane:
// cv::resize (image edges map onto each other) with INTER_AREA when shrinking, INTER_LINEAR
// when enlarging; between slices: linear, first and last slice centres kept.
// Output layout as Volume: [z][y][x] float. Errors: InvalidArgument (empty volume, any
// outDims < 1 or total > 2^31).
Result<std::vector<float>> resampleToGrid(const Volume& volume, std::array<int, 3> outDims);

}  // namespace consilium::imaging
