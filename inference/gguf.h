// GGUF v3 model files: a validating reader that maps the file read-only.
//
// Format (ggml/docs/gguf.md): little-endian
//   "GGUF" u32 version(3) u64 n_tensors u64 n_kv
//   n_kv    x { string key; u32 value_type; value }
//   n_tensors x { string name; u32 n_dims; u64 ne[n_dims]; u32 ggml_type; u64 offset }
//   padding to general.alignment (default 32), then the tensor data; offsets are relative
//   to the start of the data section and aligned. string = { u64 len; bytes }.
// ne[0] is the innermost (contiguous) dimension: a matrix [rows, cols] is stored as
// ne = {cols, rows}.
//
// GgufFile::open() parses and checks the whole header, metadata and tensor table against
// the file size BEFORE mapping anything, then maps the file read-only (mmap). Errors:
// IoError (cannot open/read/map), CorruptModel (truncated or malformed; the message names
// the file, the region and the problem), UnsupportedModel (GGUF version 1 or 2). Architecture is
// not judged here (see isKnownArchitecture()).
//
// Thread safety: a GgufFile is immutable after open(); any number of threads may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/dtype.h"
#include "kernels/status.h"

namespace consilium::inference {

using kernels::DType;

enum class GgufType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};

// One metadata value. Scalars keep their exact integer or float value; arrays keep their
// element type and either numbers or strings.
struct GgufValue {
    GgufType type = GgufType::U32;
    uint64_t u = 0;  // unsigned scalars and bool
    int64_t i = 0;   // signed scalars (also set for unsigned ones that fit)
    double f = 0;    // every numeric scalar as double
    std::string str;
    GgufType arrayType = GgufType::U8;
    std::vector<double> numbers;       // numeric arrays (except U8)
    std::string bytes;                 // U8 arrays, raw (e.g. an embedded tokenizer model)
    std::vector<std::string> strings;  // string arrays
    uint64_t arrayCount = 0;

    bool isNumber() const;
};

struct GgufKv {
    std::string key;
    GgufValue value;
};

struct GgufTensorInfo {
    std::string name;
    DType type = DType::F32;
    std::vector<int64_t> ne;  // ne[0] innermost
    uint64_t offset = 0;      // from the start of the data section
    uint64_t bytes = 0;

    int64_t elements() const;
};

struct GgufLimits {
    uint64_t maxTensors = 1u << 20;
    uint64_t maxKv = 1u << 20;
    uint64_t maxStringBytes = 1u << 26;
    uint64_t maxArrayCount = 1u << 26;
    uint32_t maxDims = 4;
    int64_t maxElements = int64_t(1) << 40;
};

// The parsed, validated header (no tensor data). Produced by parseGguf().
struct GgufHeader {
    std::string path;
    uint32_t version = 0;
    uint64_t fileBytes = 0;
    uint32_t alignment = 32;
    uint64_t dataOffset = 0;  // absolute file offset of the data section
    std::vector<GgufKv> kv;
    std::vector<GgufTensorInfo> tensors;
};

// Parses and validates header, metadata and tensor table of `path` without mapping it.
Result<GgufHeader> parseGguf(const std::string& path, const GgufLimits& limits = {});
// The same over bytes already in memory (tests; `name` appears in messages).
Result<GgufHeader> parseGgufBytes(const uint8_t* data, uint64_t size, const std::string& name,
                                  const GgufLimits& limits = {});

class GgufFile {
  public:
    static Result<std::unique_ptr<GgufFile>> open(const std::string& path,
                                                  const GgufLimits& limits = {});
    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const GgufHeader& header() const { return m_header; }
    const std::string& path() const { return m_header.path; }

    const GgufValue* find(const std::string& key) const;
    // Typed getters: NotFound-free helpers returning `fallback` when the key is absent;
    // CorruptModel when present with a type that cannot hold the value.
    Result<std::string> getString(const std::string& key, const std::string& fallback) const;
    Result<int64_t> getInt(const std::string& key, int64_t fallback) const;
    Result<double> getFloat(const std::string& key, double fallback) const;
    // Required variants: CorruptModel naming the key when absent.
    Result<int64_t> requireInt(const std::string& key) const;
    Result<double> requireFloat(const std::string& key) const;

    const GgufTensorInfo* findTensor(const std::string& name) const;
    const uint8_t* tensorData(const GgufTensorInfo& t) const {
        return m_map + m_header.dataOffset + t.offset;
    }

  private:
    GgufFile() = default;
    GgufHeader m_header;
    const uint8_t* m_map = nullptr;
    uint64_t m_mapBytes = 0;
};

// "llama" and "consilium": the architectures this engine knows.
bool isKnownArchitecture(const std::string& arch);

}  // namespace consilium::inference
