#include "inference/model_file.h"

#include "inference/gguf.h"

namespace consilium::inference {

// The full GGUF validation (inference/gguf.h), then the architecture check.
Result<ModelFileSummary> inspectModelFile(const std::string& path) {
    auto header = parseGguf(path);
    if (!header) return header.error();
    const GgufHeader& h = header.value();
    ModelFileSummary s;
    s.path = path;
    s.ggufVersion = h.version;
    s.tensorCount = h.tensors.size();
    s.metadataCount = h.kv.size();
    s.fileBytes = h.fileBytes;
    for (const auto& kv : h.kv) {
        if (kv.key == "general.architecture" && kv.value.type == GgufType::String) {
            s.architecture = kv.value.str;
        }
        if (kv.key == "general.name" && kv.value.type == GgufType::String) s.name = kv.value.str;
    }
    if (s.architecture.empty()) {
        return makeError(ErrorCode::CorruptModel, path + ": no general.architecture string");
    }
    if (!isKnownArchitecture(s.architecture)) {
        return makeError(ErrorCode::UnsupportedModel,
                         path + ": architecture '" + s.architecture + "' is not supported");
    }
    return s;
}

}  // namespace consilium::inference
