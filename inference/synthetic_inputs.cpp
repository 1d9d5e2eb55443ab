#include "inference/synthetic_inputs.h"

#include <cmath>

namespace consilium::inference {

std::vector<float> syntheticChestGrid(const ConsiliumConfig& c, int variant) {
    const int64_t D = c.grid[0], H = c.grid[1], W = c.grid[2];
    std::vector<float> v(size_t(D * H * W));
    const double nz = D * (0.2 + 0.08 * (variant % 8)), ny = H * (0.35 + 0.05 * (variant % 4));
    const double nx = W * (0.3 + 0.4 * (variant % 2)), r = 1.5 + variant % 4;
    for (int64_t z = 0; z < D; ++z)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                const double by = (y - H / 2.0) / (H * 0.42), bx = (x - W / 2.0) / (W * 0.46);
                float hu = -1000.f;
                if (by * by + bx * bx < 1.0) {
                    hu = 40.f;
                    const double ly = (y - H * 0.47) / (H * 0.3);
                    const double lx = (std::fabs(x - W / 2.0) - W * 0.2) / (W * 0.15);
                    if (ly * ly + lx * lx < 1.0) hu = -850.f;
                }
                const double dz = (z - nz) * 2.0, dy = y - ny, dx = x - nx;
                if (dz * dz + dy * dy + dx * dx < r * r) hu = 30.f;
                v[size_t((z * H + y) * W + x)] = hu;
            }
    return v;
}

double syntheticGridSpacingYxMm(const ConsiliumConfig& c) {
    return 340.0 / double(c.grid[2]);
}

}  // namespace consilium::inference
