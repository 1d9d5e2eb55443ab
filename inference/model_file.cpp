#include "inference/model_file.h"

#include <cstdio>
#include <filesystem>
#include <memory>

namespace consilium::inference {

// Header check only (magic, version, counts); the full tensor-table validation arrives
// with the GGUF reader of the engine issue.
Result<ModelFileSummary> inspectModelFile(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return makeError(ErrorCode::IoError, "cannot read " + path + ": " + ec.message());
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) return makeError(ErrorCode::IoError, "cannot open " + path);
    unsigned char header[24];
    if (size < sizeof header || std::fread(header, 1, sizeof header, f.get()) != sizeof header) {
        return makeError(ErrorCode::CorruptModel, path + ": truncated GGUF header");
    }
    if (header[0] != 'G' || header[1] != 'G' || header[2] != 'U' || header[3] != 'F') {
        return makeError(ErrorCode::CorruptModel, path + ": not a GGUF file (bad magic)");
    }
    ModelFileSummary s;
    s.path = path;
    s.fileBytes = size;
    s.ggufVersion = header[4] | header[5] << 8 | header[6] << 16 | uint32_t(header[7]) << 24;
    if (s.ggufVersion != 3) {
        return makeError(ErrorCode::UnsupportedModel,
                         path + ": GGUF version " + std::to_string(s.ggufVersion) + ", expected 3");
    }
    for (int i = 0; i < 8; ++i)
        s.tensorCount |= uint64_t(header[8 + i]) << (8 * i);
    for (int i = 0; i < 8; ++i)
        s.metadataCount |= uint64_t(header[16 + i]) << (8 * i);
    return s;
}

}  // namespace consilium::inference
