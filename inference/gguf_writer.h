// Writes GGUF v3 files (layout in inference/gguf.h): metadata in insertion order, tensors
// in insertion order at aligned offsets. Used by tests and tools to build models with
// chosen (e.g. random) weights. Not thread-safe; one writer per file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inference/gguf.h"

namespace consilium::inference {

// Where each region of a serialised file starts (tests corrupt these on purpose).
struct GgufLayout {
    uint64_t kvStart = 0;                      // first metadata entry
    std::vector<uint64_t> kvOffsets;           // each metadata entry
    uint64_t tensorInfoStart = 0;              // first tensor-info record
    std::vector<uint64_t> tensorInfoOffsets;   // each tensor-info record
    std::vector<uint64_t> tensorOffsetFields;  // absolute position of each u64 offset field
    uint64_t dataStart = 0;                    // start of the data section
};

class GgufWriter {
  public:
    void setU32(const std::string& key, uint32_t v);
    void setI32(const std::string& key, int32_t v);
    void setU64(const std::string& key, uint64_t v);
    void setF32(const std::string& key, float v);
    void setBool(const std::string& key, bool v);
    void setString(const std::string& key, const std::string& v);
    void setStringArray(const std::string& key, const std::vector<std::string>& v);
    void setF32Array(const std::string& key, const std::vector<float>& v);
    void setI32Array(const std::string& key, const std::vector<int32_t>& v);
    void setU8Array(const std::string& key, const std::string& bytes);

    // Adds a tensor of shape ne (ne[0] innermost) whose data is already in `type`'s layout.
    void addTensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                   const void* data, size_t bytes);
    // Converts float data (row-major over ne, ne[0] innermost) to `type` and adds it.
    void addTensorF32(const std::string& name, DType type, const std::vector<int64_t>& ne,
                      const std::vector<float>& values);

    std::vector<uint8_t> serialize(GgufLayout* layout = nullptr) const;
    // IoError naming the path when the file cannot be written.
    Status write(const std::string& path) const;

  private:
    struct Kv {
        std::string key;
        std::vector<uint8_t> encoded;  // type tag + value
    };
    struct Tensor {
        std::string name;
        DType type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> data;
    };
    void put(const std::string& key, std::vector<uint8_t> encoded);
    std::vector<Kv> m_kv;
    std::vector<Tensor> m_tensors;
    uint32_t m_alignment = 32;
};

}  // namespace consilium::inference
