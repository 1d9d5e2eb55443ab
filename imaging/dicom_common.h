// Internal to imaging/: process-wide DCMTK set-up shared by the reader, the phantom writer
// and de-identification. Declares no DCMTK types (those stay in imaging/*.cpp).
#pragma once

#include <string>

namespace consilium::imaging::detail {

// Registers the RLE, JPEG and JPEG-LS decoders and the JPEG-LS / RLE encoders, and turns
// DCMTK's own logging off (its messages can carry patient identifiers). Runs once per
// process; safe to call from any thread, any number of times.
void ensureDcmtkInitialized();

// `text` as valid UTF-8: returned unchanged when it already is, else read as ISO 8859-1.
std::string sanitizeUtf8(const std::string& text);

}  // namespace consilium::imaging::detail
