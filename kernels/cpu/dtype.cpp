#include "kernels/cpu/dtype.h"

#include <algorithm>
#include <cmath>

namespace consilium::kernels {

bool isKnownDType(uint32_t id) {
    return id == uint32_t(DType::F32) || id == uint32_t(DType::F16) ||
           id == uint32_t(DType::Q4_0) || id == uint32_t(DType::Q8_0) ||
           id == uint32_t(DType::BF16);
}

const char* dtypeName(DType t) {
    switch (t) {
        case DType::F32:
            return "F32";
        case DType::F16:
            return "F16";
        case DType::Q4_0:
            return "Q4_0";
        case DType::Q8_0:
            return "Q8_0";
        case DType::BF16:
            return "BF16";
    }
    return "?";
}

int dtypeBlockElements(DType t) {
    return t == DType::Q4_0 || t == DType::Q8_0 ? 32 : 1;
}

int dtypeBlockBytes(DType t) {
    switch (t) {
        case DType::F32:
            return 4;
        case DType::F16:
            return 2;
        case DType::BF16:
            return 2;
        case DType::Q8_0:
            return int(sizeof(BlockQ8_0));
        case DType::Q4_0:
            return int(sizeof(BlockQ4_0));
    }
    return 1;
}

// IEEE 754 binary16, after the branch-free conversion of FP16 (Maratyszcza/FP16, fp16.h).
float fp16ToFloat(uint16_t h) {
    const uint32_t w = uint32_t(h) << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const uint32_t expOffset = 0xE0u << 23;
    uint32_t u = (two_w >> 4) + expOffset;
    float normalized;
    std::memcpy(&normalized, &u, 4);
    normalized *= 0x1.0p-112f;
    const uint32_t magicMask = 126u << 23;
    uint32_t m = (two_w >> 17) | magicMask;
    float denormalized;
    std::memcpy(&denormalized, &m, 4);
    denormalized -= 0.5f;
    const uint32_t denormCutoff = 1u << 27;
    uint32_t bits;
    if (two_w < denormCutoff) {
        std::memcpy(&bits, &denormalized, 4);
    } else {
        std::memcpy(&bits, &normalized, 4);
    }
    bits |= sign;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

uint16_t floatToFp16(float f) {
    const float scaleToInf = 0x1.0p+112f;
    const float scaleToZero = 0x1.0p-110f;
    float base = (std::fabs(f) * scaleToInf) * scaleToZero;
    uint32_t w;
    std::memcpy(&w, &f, 4);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    uint32_t bb = (bias >> 1) + 0x07800000u;
    float biasF;
    std::memcpy(&biasF, &bb, 4);
    base = biasF + base;
    uint32_t bits;
    std::memcpy(&bits, &base, 4);
    const uint32_t expBits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantBits = bits & 0x00000FFFu;
    const uint32_t nonsign = expBits + mantBits;
    return uint16_t((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

uint16_t floatToBf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 64);  // quiet NaN
    return uint16_t((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

// ggml quantize_row_q8_0_ref.
void quantizeRowQ8_0(const float* x, BlockQ8_0* y, int64_t n) {
    for (int64_t b = 0; b < n / kQ8Block; ++b) {
        const float* xb = x + b * kQ8Block;
        float amax = 0.0f;
        for (int j = 0; j < kQ8Block; ++j)
            amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = floatToFp16(d);
        for (int j = 0; j < kQ8Block; ++j)
            y[b].qs[j] = int8_t(std::lround(xb[j] * id));
    }
}

// ggml quantize_row_q4_0_ref: the scale carries the sign of the largest-magnitude value,
// which maps to -8.
void quantizeRowQ4_0(const float* x, BlockQ4_0* y, int64_t n) {
    for (int64_t b = 0; b < n / kQ4Block; ++b) {
        const float* xb = x + b * kQ4Block;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < kQ4Block; ++j) {
            if (amax < std::fabs(xb[j])) {
                amax = std::fabs(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = floatToFp16(d);
        for (int j = 0; j < kQ4Block / 2; ++j) {
            const uint8_t q0 = uint8_t(std::min(15, int(int8_t(xb[j] * id + 8.5f))));
            const uint8_t q1 = uint8_t(std::min(15, int(int8_t(xb[j + 16] * id + 8.5f))));
            y[b].qs[j] = uint8_t(q0 | (q1 << 4));
        }
    }
}

void dequantizeRow(DType t, const void* row, float* y, int64_t n) {
    switch (t) {
        case DType::F32:
            std::memcpy(y, row, size_t(n) * 4);
            return;
        case DType::F16: {
            const auto* h = static_cast<const uint16_t*>(row);
            for (int64_t i = 0; i < n; ++i)
                y[i] = fp16ToFloat(h[i]);
            return;
        }
        case DType::BF16: {
            const auto* h = static_cast<const uint16_t*>(row);
            for (int64_t i = 0; i < n; ++i)
                y[i] = bf16ToFloat(h[i]);
            return;
        }
        case DType::Q8_0: {
            const auto* b = static_cast<const BlockQ8_0*>(row);
            for (int64_t k = 0; k < n / kQ8Block; ++k) {
                const float d = fp16ToFloat(b[k].d);
                for (int j = 0; j < kQ8Block; ++j)
                    y[k * kQ8Block + j] = float(b[k].qs[j]) * d;
            }
            return;
        }
        case DType::Q4_0: {
            const auto* b = static_cast<const BlockQ4_0*>(row);
            for (int64_t k = 0; k < n / kQ4Block; ++k) {
                const float d = fp16ToFloat(b[k].d);
                for (int j = 0; j < kQ4Block / 2; ++j) {
                    y[k * kQ4Block + j] = float(int(b[k].qs[j] & 0xF) - 8) * d;
                    y[k * kQ4Block + j + 16] = float(int(b[k].qs[j] >> 4) - 8) * d;
                }
            }
            return;
        }
    }
}

void convertRow(DType t, const float* x, void* row, int64_t n) {
    switch (t) {
        case DType::F32:
            std::memcpy(row, x, size_t(n) * 4);
            return;
        case DType::F16: {
            auto* h = static_cast<uint16_t*>(row);
            for (int64_t i = 0; i < n; ++i)
                h[i] = floatToFp16(x[i]);
            return;
        }
        case DType::BF16: {
            auto* h = static_cast<uint16_t*>(row);
            for (int64_t i = 0; i < n; ++i)
                h[i] = floatToBf16(x[i]);
            return;
        }
        case DType::Q8_0:
            quantizeRowQ8_0(x, static_cast<BlockQ8_0*>(row), n);
            return;
        case DType::Q4_0:
            quantizeRowQ4_0(x, static_cast<BlockQ4_0*>(row), n);
            return;
    }
}

}  // namespace consilium::kernels
