// JPEG 2000 decoding (ISO/IEC 15444-1) of one encapsulated DICOM frame with OpenJPEG.
// DCMTK 3.6.7 has no JPEG 2000 codec, so imaging/ decodes these frames itself.
// Thread-safe: every call uses its own OpenJPEG codec and stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/status.h"

namespace consilium::imaging {

struct Jpeg2000Image {
    int width = 0;
    int height = 0;
    int components = 0;            // samples per pixel in the codestream
    int precision = 0;             // bits per sample of component 0
    bool isSigned = false;         // component 0 is signed
    std::vector<int32_t> samples;  // component 0, [height][width]
};

// Decodes a J2K codestream (starts FF 4F FF 51) or a JP2 file (starts with the JP2
// signature box). Errors: CorruptFile "JPEG 2000 decode failed (...) in <context>".
Result<Jpeg2000Image> decodeJpeg2000(const uint8_t* data, size_t size, const std::string& context);

}  // namespace consilium::imaging
