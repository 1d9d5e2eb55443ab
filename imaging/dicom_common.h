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

// Decodes text that uses ISO 2022 code extensions (PS3.5 6.1.2.5) to UTF-8: the Japanese
// (IR 13, 87, 159), Korean (IR 149), Chinese (IR 58) and ISO 8859 G1 sets, switched by
// escape sequences and reset at the PN/multi-value delimiters ^ = \. `specificCharacterSet`
// is the attribute's value ("\\ISO 2022 IR 87", ...). Fallback for what DCMTK's iconv back
// end refuses; bytes that cannot be converted are read as ISO 8859-1.
std::string decodeIso2022(const std::string& raw, const std::string& specificCharacterSet);

}  // namespace consilium::imaging::detail
