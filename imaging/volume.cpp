#include "imaging/volume.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>

namespace consilium::imaging {

namespace detail {

namespace {
constexpr size_t kHugeThreshold = size_t(2) << 20;  // 2 MiB
}

void* allocateVoxelBytes(size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes < kHugeThreshold) {
        void* p = std::calloc(1, bytes);
        if (!p) throw std::bad_alloc();
        return p;
    }
    // Anonymous mappings are zero pages until written; ask for 2 MiB pages (fewer faults).
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

void freeVoxelBytes(void* p, size_t bytes) noexcept {
    if (!p) return;
    if (bytes == 0) bytes = 1;
    if (bytes < kHugeThreshold)
        std::free(p);
    else
        munmap(p, bytes);
}

}  // namespace detail

Vec3 Volume::toPatient(const Vec3& v) const {
    Vec3 p = origin;
    for (int axis = 0; axis < 3; ++axis) {
        const double mm = v[size_t(axis)] * spacing[size_t(axis)];
        for (int k = 0; k < 3; ++k)
            p[size_t(k)] += mm * direction[size_t(axis * 3 + k)];
    }
    return p;
}

Vec3 Volume::toVoxel(const Vec3& p) const {
    const Vec3 d{p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]};
    Vec3 v{};
    for (int axis = 0; axis < 3; ++axis) {
        double dot = 0;
        for (int k = 0; k < 3; ++k)
            dot += d[size_t(k)] * direction[size_t(axis * 3 + k)];
        v[size_t(axis)] = spacing[size_t(axis)] > 0 ? dot / spacing[size_t(axis)] : 0.0;
    }
    return v;
}

std::array<float, 2> Volume::valueRange() const {
    if (empty()) return {0.f, 0.f};
    if (type == VoxelType::Int16) {
        const auto [lo, hi] = std::minmax_element(voxelsI16.begin(), voxelsI16.end());
        return {float(*lo), float(*hi)};
    }
    const auto [lo, hi] = std::minmax_element(voxelsF32.begin(), voxelsF32.end());
    return {*lo, *hi};
}

}  // namespace consilium::imaging
