#include "imaging/dicom_common.h"

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/oflog/oflog.h>

#include <mutex>

namespace consilium::imaging::detail {

void ensureDcmtkInitialized() {
    static std::once_flag once;
    std::call_once(once, [] {
        // DCMTK messages name files and sometimes echo attribute values (patient names):
        // they must never reach stderr or log files.
        OFLog::configure(OFLogger::OFF_LOG_LEVEL);
        DcmRLEDecoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
    });
}

std::string sanitizeUtf8(const std::string& text) {
    // Validate per RFC 3629 (no overlongs checked beyond the lead-byte ranges).
    size_t i = 0;
    bool valid = true;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        int extra = c < 0x80           ? 0
                    : (c >> 5) == 0x6  ? 1
                    : (c >> 4) == 0xE  ? 2
                    : (c >> 3) == 0x1E ? 3
                                       : -1;
        if (extra < 0) {
            valid = false;
            break;
        }
        for (int k = 1; k <= extra; ++k) {
            if (i + size_t(k) >= text.size() ||
                (static_cast<unsigned char>(text[i + size_t(k)]) >> 6) != 0x2) {
                valid = false;
                break;
            }
        }
        if (!valid) break;
        i += size_t(extra) + 1;
    }
    if (valid) return text;
    std::string out;
    out.reserve(text.size() * 2);
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            out.push_back(ch);
        } else {
            out.push_back(char(0xC0 | (c >> 6)));
            out.push_back(char(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

}  // namespace consilium::imaging::detail
