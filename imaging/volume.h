// A 3D image in patient space: the plain value type every user of imaging/ sees.
//
// Voxel layout: x (column index, fastest) → y (row index) → z (slice index, slowest);
// voxel (x, y, z) is at element x + dims[0] * (y + dims[1] * z).
// Geometry follows DICOM PS3.3 C.7.6.2.1.1 (Image Position / Orientation Patient), in the
// patient coordinate system LPS (x toward the patient's left, y toward posterior, z toward
// head), millimetres:
//   position(x, y, z) = origin + x * spacing[0] * axisX + y * spacing[1] * axisY
//                              + z * spacing[2] * axisZ
// where axisX = direction[0..2] (the row direction, first triple of ImageOrientationPatient),
// axisY = direction[3..5] (the column direction, second triple) and axisZ = direction[6..8]
// (the direction in which the slices were sorted; normally axisX × axisY). origin is the
// centre of the first voxel of the first slice.
//
// Values are modality values (Hounsfield units for CT): stored value × RescaleSlope +
// RescaleIntercept. Exactly one of voxelsI16 / voxelsF32 holds them, chosen by `type`.
// Volume is a value type: copies are deep, moves are cheap; not synchronised.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace consilium::imaging {

using Vec3 = std::array<double, 3>;

namespace detail {
void* allocateVoxelBytes(size_t bytes);  // zero-filled; throws std::bad_alloc
void freeVoxelBytes(void* p, size_t bytes) noexcept;
}  // namespace detail

// Allocator of voxel buffers (arithmetic element types only). Large buffers come straight
// from the kernel as zero pages (mmap, transparent huge pages requested) and
// value-initialisation writes nothing: a fresh 300-slice volume costs no page faults until
// a loader thread writes it, so the faults are spread over the decoding threads.
// Invariant that keeps std::allocator semantics (resize() gives zeros): storage past size()
// is always zero (fresh memory is zero; destroy() writes zero).
template <typename T>
struct VoxelAllocator {
    static_assert(std::is_arithmetic_v<T>, "VoxelAllocator holds numbers");
    using value_type = T;
    VoxelAllocator() = default;
    template <typename U>
    VoxelAllocator(const VoxelAllocator<U>&) noexcept {}
    T* allocate(size_t n) { return static_cast<T*>(detail::allocateVoxelBytes(n * sizeof(T))); }
    void deallocate(T* p, size_t n) noexcept { detail::freeVoxelBytes(p, n * sizeof(T)); }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
    template <typename U>
    void construct(U*) noexcept {}  // already zero (see the invariant)
    template <typename U>
    void destroy(U* p) noexcept {
        *p = U();
    }
    template <typename U>
    bool operator==(const VoxelAllocator<U>&) const noexcept {
        return true;
    }
    template <typename U>
    bool operator!=(const VoxelAllocator<U>&) const noexcept {
        return false;
    }
};

template <typename T>
using VoxelVector = std::vector<T, VoxelAllocator<T>>;

enum class VoxelType { Int16, Float32 };

// Where one slice of the volume came from.
struct SliceInfo {
    std::string sopInstanceUid;
    std::string file;    // path of the DICOM file
    int frame = 0;       // frame index within that file (0 for single-frame images)
    Vec3 position{};     // ImagePositionPatient of this slice, LPS mm
    double slope = 1.0;  // RescaleSlope applied to this slice
    double intercept = 0.0;
};

struct Volume {
    std::array<int, 3> dims{0, 0, 0};  // columns, rows, slices
    Vec3 spacing{1.0, 1.0, 1.0};       // mm between voxel centres along x, y, z
    Vec3 origin{0.0, 0.0, 0.0};        // LPS mm of voxel (0, 0, 0)
    std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  // axisX, axisY, axisZ
    VoxelType type = VoxelType::Int16;
    VoxelVector<int16_t> voxelsI16;  // [dims[2]][dims[1]][dims[0]] when type == Int16
    VoxelVector<float> voxelsF32;    // [dims[2]][dims[1]][dims[0]] when type == Float32
    std::vector<SliceInfo> slices;   // one per z, in volume order
    std::string modality;            // "CT", "MR", ...
    std::string units;               // "HU" for CT with rescale, else "" (stored units)
    bool invertedDisplay = false;    // MONOCHROME1: low values are shown bright

    size_t voxelCount() const { return size_t(dims[0]) * size_t(dims[1]) * size_t(dims[2]); }
    bool empty() const { return voxelCount() == 0; }
    size_t index(int x, int y, int z) const {
        return size_t(x) + size_t(dims[0]) * (size_t(y) + size_t(dims[1]) * size_t(z));
    }
    // Value at an in-range voxel (no bounds check).
    float at(int x, int y, int z) const {
        const size_t i = index(x, y, z);
        return type == VoxelType::Int16 ? float(voxelsI16[i]) : voxelsF32[i];
    }
    float at(size_t i) const {
        return type == VoxelType::Int16 ? float(voxelsI16[i]) : voxelsF32[i];
    }

    // Continuous voxel coordinates (x, y, z) to LPS mm, and back (direction assumed
    // orthonormal, which assembly checks).
    Vec3 toPatient(const Vec3& voxel) const;
    Vec3 toVoxel(const Vec3& patient) const;

    // Smallest and largest value; {0, 0} for an empty volume.
    std::array<float, 2> valueRange() const;
};

}  // namespace consilium::imaging
