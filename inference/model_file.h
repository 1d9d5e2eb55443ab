// Model files (GGUF v3): validation and a summary, before anything is mapped or allocated.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/status.h"

namespace consilium::inference {

struct ModelFileSummary {
    std::string path;
    uint32_t ggufVersion = 0;
    std::string architecture;  // general.architecture: "consilium", "llama", ...
    std::string name;          // general.name, when present
    uint64_t tensorCount = 0;
    uint64_t metadataCount = 0;
    uint64_t fileBytes = 0;
};

// Validates the header and the whole tensor table. CorruptModel (with the reason) for a
// truncated or malformed file, UnsupportedModel for an unknown architecture, IoError when
// the file cannot be read.
Result<ModelFileSummary> inspectModelFile(const std::string& path);

}  // namespace consilium::inference
