// Element types of weights and activations, with GGUF's (ggml's) numeric type ids and block
// layouts, so files written and read here interoperate with the GGUF ecosystem's tools.
//
// Block layouts follow ggml (ggml/src/ggml-common.h):
//   Q8_0: { fp16 d; int8 qs[32]; }   value[i] = qs[i] * d                       (34 bytes)
//   Q4_0: { fp16 d; uint8 qs[16]; }  value[i]    = ((qs[i] & 0xF) - 8) * d  for i < 16
//                                    value[i+16] = ((qs[i] >> 4)  - 8) * d          (18 bytes)
// A row of a quantised matrix is a whole number of blocks (row length % 32 == 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace consilium::kernels {

enum class DType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q8_0 = 8,
    BF16 = 30,
};

constexpr int kQ8Block = 32;  // elements per Q8_0 block
constexpr int kQ4Block = 32;  // elements per Q4_0 block

struct BlockQ8_0 {
    uint16_t d;  // fp16 scale
    int8_t qs[kQ8Block];
};
struct BlockQ4_0 {
    uint16_t d;                // fp16 scale
    uint8_t qs[kQ4Block / 2];  // element i in the low nibble of qs[i], i+16 in the high one
};
static_assert(sizeof(BlockQ8_0) == 34, "ggml block_q8_0 is 34 bytes");
static_assert(sizeof(BlockQ4_0) == 18, "ggml block_q4_0 is 18 bytes");

// True for the ids above; anything else a file names is rejected.
bool isKnownDType(uint32_t id);
const char* dtypeName(DType t);   // "F32", "Q4_0", ...
int dtypeBlockElements(DType t);  // 1 for F32/F16/BF16, 32 for Q8_0/Q4_0
int dtypeBlockBytes(DType t);     // 4, 2, 2, 34, 18
// Bytes of a row of n elements; n must be a multiple of dtypeBlockElements(t).
inline size_t dtypeRowBytes(DType t, int64_t n) {
    return size_t(n / dtypeBlockElements(t)) * size_t(dtypeBlockBytes(t));
}

// IEEE half and bfloat16 conversions (round-to-nearest-even on the way down).
float fp16ToFloat(uint16_t h);
uint16_t floatToFp16(float f);
inline float bf16ToFloat(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint16_t floatToBf16(float f);

// Row conversions, reference implementations matching ggml's quantize_row_*_ref
// (ggml/src/ggml-quants.c). n must be a multiple of 32 for the quantised types.
void quantizeRowQ8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantizeRowQ4_0(const float* x, BlockQ4_0* y, int64_t n);
// Converts n elements of a row of any DType to float.
void dequantizeRow(DType t, const void* row, float* y, int64_t n);
// Converts a float row to type t (quantising where t is Q8_0/Q4_0).
void convertRow(DType t, const float* x, void* row, int64_t n);

}  // namespace consilium::kernels
