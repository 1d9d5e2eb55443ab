#include "imaging/reslice.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace consilium::imaging {

const char* planeName(Plane plane) {
    switch (plane) {
        case Plane::Axial:
            return "axial";
        case Plane::Coronal:
            return "coronal";
        case Plane::Sagittal:
            return "sagittal";
    }
    return "?";
}

int sliceCount(const Volume& v, Plane plane) {
    switch (plane) {
        case Plane::Axial:
            return v.dims[2];
        case Plane::Coronal:
            return v.dims[1];
        case Plane::Sagittal:
            return v.dims[0];
    }
    return 0;
}

Result<SliceImage> extractSlice(const Volume& v, Plane plane, int index) {
    if (v.empty()) return makeError(ErrorCode::InvalidArgument, "cannot slice an empty volume");
    const int count = sliceCount(v, plane);
    if (index < 0 || index >= count)
        return makeError(ErrorCode::InvalidArgument, std::string(planeName(plane)) + " slice " +
                                                         std::to_string(index) + " is outside 0.." +
                                                         std::to_string(count - 1));
    SliceImage s;
    const int nx = v.dims[0], ny = v.dims[1], nz = v.dims[2];
    switch (plane) {
        case Plane::Axial:
            s.width = nx;
            s.height = ny;
            s.pixelWidthMm = v.spacing[0];
            s.pixelHeightMm = v.spacing[1];
            s.values.resize(size_t(nx) * size_t(ny));
            for (size_t i = 0; i < s.values.size(); ++i)
                s.values[i] = v.at(size_t(index) * s.values.size() + i);
            break;
        case Plane::Coronal:
            s.width = nx;
            s.height = nz;
            s.pixelWidthMm = v.spacing[0];
            s.pixelHeightMm = v.spacing[2];
            s.values.resize(size_t(nx) * size_t(nz));
            for (int row = 0; row < nz; ++row)
                for (int x = 0; x < nx; ++x)
                    s.values[size_t(row) * nx + x] = v.at(x, index, nz - 1 - row);
            break;
        case Plane::Sagittal:
            s.width = ny;
            s.height = nz;
            s.pixelWidthMm = v.spacing[1];
            s.pixelHeightMm = v.spacing[2];
            s.values.resize(size_t(ny) * size_t(nz));
            for (int row = 0; row < nz; ++row)
                for (int y = 0; y < ny; ++y)
                    s.values[size_t(row) * ny + y] = v.at(index, y, nz - 1 - row);
            break;
    }
    return s;
}

Result<Image8> renderSlice(const Volume& v, Plane plane, int index, const WindowLevel& wl) {
    auto slice = extractSlice(v, plane, index);
    if (!slice) return slice.error();
    Image8 img;
    img.width = slice->width;
    img.height = slice->height;
    img.pixelWidthMm = slice->pixelWidthMm;
    img.pixelHeightMm = slice->pixelHeightMm;
    img.pixels.resize(slice->values.size());
    applyWindow(slice->values.data(), slice->values.size(), wl, v.invertedDisplay,
                img.pixels.data());
    return img;
}

Result<std::vector<float>> resampleToGrid(const Volume& v, std::array<int, 3> out) {
    if (v.empty()) return makeError(ErrorCode::InvalidArgument, "cannot resample an empty volume");
    if (out[0] < 1 || out[1] < 1 || out[2] < 1 || double(out[0]) * out[1] * out[2] > 2147483647.0)
        return makeError(ErrorCode::InvalidArgument,
                         "invalid model grid " + std::to_string(out[0]) + "x" +
                             std::to_string(out[1]) + "x" + std::to_string(out[2]));
    const int nx = v.dims[0], ny = v.dims[1], nz = v.dims[2];
    const size_t inPlane = size_t(nx) * size_t(ny);
    const size_t outPlane = size_t(out[0]) * size_t(out[1]);
    const int interpolation = (out[0] < nx || out[1] < ny) ? cv::INTER_AREA : cv::INTER_LINEAR;
    // Resize the (at most two) source slices each output slice needs, caching the last two.
    std::vector<float> result(outPlane * size_t(out[2]));
    std::vector<float> src(inPlane);
    int cachedIndex[2] = {-1, -1};
    cv::Mat cached[2];
    auto resized = [&](int z) -> const cv::Mat& {
        for (int k = 0; k < 2; ++k)
            if (cachedIndex[k] == z) return cached[k];
        const int slot =
            cachedIndex[0] == -1 || (cachedIndex[1] != -1 && cachedIndex[0] < cachedIndex[1]) ? 0
                                                                                              : 1;
        for (size_t i = 0; i < inPlane; ++i)
            src[i] = v.at(size_t(z) * inPlane + i);
        const cv::Mat in(ny, nx, CV_32F, src.data());
        if (out[0] == nx && out[1] == ny)
            cached[slot] = in.clone();
        else
            cv::resize(in, cached[slot], cv::Size(out[0], out[1]), 0, 0, interpolation);
        cachedIndex[slot] = z;
        return cached[slot];
    };
    for (int k = 0; k < out[2]; ++k) {
        const double zf = out[2] == 1 ? (nz - 1) / 2.0 : double(k) * (nz - 1) / double(out[2] - 1);
        const int z0 = std::clamp(int(std::floor(zf)), 0, nz - 1);
        const int z1 = std::min(z0 + 1, nz - 1);
        const float t = float(zf - z0);
        const cv::Mat a = resized(z0).clone();
        float* dst = result.data() + size_t(k) * outPlane;
        if (t == 0.f || z1 == z0) {
            std::copy(a.ptr<float>(), a.ptr<float>() + outPlane, dst);
        } else {
            const cv::Mat& b = resized(z1);
            const float* pa = a.ptr<float>();
            const float* pb = b.ptr<float>();
            for (size_t i = 0; i < outPlane; ++i)
                dst[i] = pa[i] + (pb[i] - pa[i]) * t;
        }
    }
    return result;
}

}  // namespace consilium::imaging
