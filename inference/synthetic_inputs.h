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

}  // namespace consilium::inference
