// Engine-level inputs for tests and benchmarks that need no DICOM: chest-like HU grids on
// the `consilium` model grid (air outside an elliptic body at 40 HU, two lungs at -850 HU,
// one solid 30 HU nodule whose place and size depend on `variant`). Real studies go
// through imaging/ (phantom.h writes DICOM); these only feed the engine directly.
#pragma once

#include <vector>

#include "inference/consilium_graph.h"

namespace consilium::inference {

// [D, H, W] HU values for config.grid; deterministic in `variant` (8 nodule placements).
std::vector<float> syntheticChestGrid(const ConsiliumConfig& config, int variant);

// The in-plane grid voxel size in mm these grids stand for: a 340 mm field of view across
// the grid's width (ConsiliumInputs::ctSpacingYxMm).
double syntheticGridSpacingYxMm(const ConsiliumConfig& config);

}  // namespace consilium::inference
