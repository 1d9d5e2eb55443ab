// JPEG-LS decoding (ISO/IEC 14495-1, DICOM PS3.5 A.4.3) of one encapsulated DICOM frame with
// CharLS 2 (Debian's libcharls2, loaded at run time with dlopen: see jpeg_ls.cpp). DCMTK
// 3.6.7's dcmjpls (bundled CharLS 1.0) decodes each frame into a newly allocated copy of the
// data set's pixel data and spends about 10% more CPU per frame; this decoder writes into a
// buffer the caller reuses.
// Thread-safe: every call uses its own CharLS decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/status.h"

namespace consilium::imaging {

struct JpegLsFrame {
    int width = 0;
    int height = 0;
    int components = 0;     // samples per pixel in the codestream
    int bitsPerSample = 0;  // 2..16
    bool planar = false;    // components one after another (interleave mode "none")
};

// Whether libcharls.so.2 could be loaded (decodeJpegLs fails without it).
bool jpegLsDecoderAvailable();

// Decodes one JPEG-LS codestream (starts FF D8 FF F7 or with other markers before SOF-55)
// into `samples`, resized to width*height*components samples of 1 byte (bitsPerSample <= 8)
// or 2 bytes (host order) each; pixel-interleaved unless `planar` is set. The vector's
// capacity is kept, so a caller decoding many frames reuses one allocation.
// Errors: CorruptFile "JPEG-LS decode failed (<CharLS message>) in <context>",
// UnsupportedTransferSyntax when libcharls.so.2 is not installed.
Result<JpegLsFrame> decodeJpegLs(const uint8_t* data, size_t size, std::vector<uint8_t>* samples,
                                 const std::string& context);

}  // namespace consilium::imaging
