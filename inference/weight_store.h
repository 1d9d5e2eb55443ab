// WeightStore: the one owner of a model's weights (a read-only mapping of a validated GGUF
// file). Graphs ask it for TensorViews by name and expected shape; the views stay valid as
// long as the store lives.
//
// Errors: CorruptModel naming the tensor when it is missing or its shape/type differ from
// what the architecture needs. Thread safety: immutable after open(); shared freely.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "inference/gguf.h"
#include "inference/tensor.h"

namespace consilium::inference {

class WeightStore {
  public:
    static Result<std::unique_ptr<WeightStore>> open(const std::string& path);

    const GgufFile& file() const { return *m_file; }
    const std::string& path() const { return m_file->path(); }

    // shape: the expected ne (innermost first); empty = accept any.
    Result<TensorView> get(const std::string& name, const std::vector<int64_t>& shape) const;
    // Like get(), but an absent tensor returns an invalid (null) view instead of an error.
    Result<TensorView> getOptional(const std::string& name,
                                   const std::vector<int64_t>& shape) const;
    // Requires F32 (norm weights, biases).
    Result<TensorView> getF32(const std::string& name, const std::vector<int64_t>& shape) const;

    uint64_t bytes() const { return m_file->header().fileBytes; }

  private:
    std::unique_ptr<GgufFile> m_file;
};

}  // namespace consilium::inference
