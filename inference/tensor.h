// Non-owning tensor views. Weights are owned by one WeightStore (the mapped GGUF file);
// everything else holds TensorViews into it. Activations are plain float buffers owned by
// a session.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "kernels/cpu/dtype.h"
#include "kernels/cpu/matmul.h"

namespace consilium::inference {

using kernels::DType;

// shape[0] is the innermost (contiguous) dimension, as GGUF's ne; strides in bytes
// (nb[0] = block bytes, nb[1] = row bytes, ...). Unused dimensions have shape 1.
struct TensorView {
    DType type = DType::F32;
    int dims = 0;
    std::array<int64_t, 4> shape{1, 1, 1, 1};
    std::array<size_t, 4> strides{0, 0, 0, 0};
    const uint8_t* data = nullptr;
    std::string name;

    bool valid() const { return data != nullptr; }
    int64_t rows() const { return shape[1] * shape[2] * shape[3]; }
    const float* f32() const { return reinterpret_cast<const float*>(data); }

    // The 2-D matrix [shape[1], shape[0]] (for 3-D expert tensors: slice `index` of dim 2).
    kernels::MatrixView matrix(int64_t index = 0) const {
        return {type, data + size_t(index) * strides[2], shape[1], shape[0], strides[1]};
    }
};

}  // namespace consilium::inference
