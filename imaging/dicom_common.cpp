#include "imaging/dicom_common.h"

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/oflog/oflog.h>

#include <iconv.h>

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

namespace {

// `bytes` in `charset` (an iconv name) to UTF-8; empty string on failure.
bool iconvToUtf8(const char* charset, const std::string& bytes, std::string* out) {
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == iconv_t(-1)) return false;
    std::string result(bytes.size() * 4 + 16, '\0');
    char* in = const_cast<char*>(bytes.data());
    size_t inLeft = bytes.size();
    char* dst = result.data();
    size_t outLeft = result.size();
    const size_t rc = iconv(cd, &in, &inLeft, &dst, &outLeft);
    iconv_close(cd);
    if (rc == size_t(-1) || inLeft != 0) return false;
    result.resize(result.size() - outLeft);
    *out += result;
    return true;
}

enum class Set {
    Ascii,     // ISO 646 / JIS X 0201 Roman in G0
    Jisx0208,  // G0, two bytes
    Jisx0212,  // G0, two bytes
    Katakana,  // JIS X 0201 katakana in G1
    Ksx1001,   // G1, two bytes
    Gb2312,    // G1, two bytes
    Latin,     // an ISO 8859 part in G1 (iconv name in `latin`)
    None,
};

}  // namespace

std::string decodeIso2022(const std::string& raw, const std::string& specificCharacterSet) {
    // Initial G0/G1 from the first value of SpecificCharacterSet.
    const std::string first = specificCharacterSet.substr(0, specificCharacterSet.find('\\'));
    Set initialG1 = Set::None;
    const char* initialLatin = "ISO-8859-1";
    if (first.find("IR 13") != std::string::npos)
        initialG1 = Set::Katakana;
    else if (first.find("IR 149") != std::string::npos)
        initialG1 = Set::Ksx1001;
    else if (first.find("IR 58") != std::string::npos)
        initialG1 = Set::Gb2312;
    else if (first.find("IR 100") != std::string::npos)
        initialG1 = Set::Latin;
    Set g0 = Set::Ascii, g1 = initialG1;
    const char* latin = initialLatin;

    std::string out, run;
    Set runSet = Set::Ascii;
    auto flush = [&] {
        if (run.empty()) return;
        std::string converted;
        bool ok = true;
        switch (runSet) {
            case Set::Ascii:
                converted = run;
                break;
            case Set::Jisx0208:
            case Set::Jisx0212:
            case Set::Katakana:
                ok = iconvToUtf8("EUC-JP", run, &converted);
                break;
            case Set::Ksx1001:
                ok = iconvToUtf8("EUC-KR", run, &converted);
                break;
            case Set::Gb2312:
                ok = iconvToUtf8("GB2312", run, &converted);
                break;
            case Set::Latin:
                ok = iconvToUtf8(latin, run, &converted);
                break;
            case Set::None:
                ok = false;
                break;
        }
        out += ok ? converted : sanitizeUtf8(run);
        run.clear();
    };
    auto append = [&](Set set, const std::string& bytes) {
        if (set != runSet) {
            flush();
            runSet = set;
        }
        run += bytes;
    };
    struct Escape {
        const char* seq;
        bool isG1;
        Set set;
        const char* latin;
    };
    static const Escape kEscapes[] = {
        {"\x1b(B", false, Set::Ascii, nullptr},     {"\x1b(J", false, Set::Ascii, nullptr},
        {"\x1b$B", false, Set::Jisx0208, nullptr},  {"\x1b$(D", false, Set::Jisx0212, nullptr},
        {"\x1b)I", true, Set::Katakana, nullptr},   {"\x1b$)C", true, Set::Ksx1001, nullptr},
        {"\x1b$)A", true, Set::Gb2312, nullptr},    {"\x1b-A", true, Set::Latin, "ISO-8859-1"},
        {"\x1b-B", true, Set::Latin, "ISO-8859-2"}, {"\x1b-C", true, Set::Latin, "ISO-8859-3"},
        {"\x1b-D", true, Set::Latin, "ISO-8859-4"}, {"\x1b-F", true, Set::Latin, "ISO-8859-7"},
        {"\x1b-G", true, Set::Latin, "ISO-8859-6"}, {"\x1b-H", true, Set::Latin, "ISO-8859-8"},
        {"\x1b-L", true, Set::Latin, "ISO-8859-5"}, {"\x1b-M", true, Set::Latin, "ISO-8859-9"},
        {"\x1b-T", true, Set::Latin, "TIS-620"},
    };
    for (size_t i = 0; i < raw.size();) {
        const auto c = static_cast<unsigned char>(raw[i]);
        if (c == 0x1B) {
            bool matched = false;
            for (const Escape& e : kEscapes) {
                const size_t n = std::char_traits<char>::length(e.seq);
                if (raw.compare(i, n, e.seq) == 0) {
                    (e.isG1 ? g1 : g0) = e.set;
                    if (e.latin) latin = e.latin;
                    i += n;
                    matched = true;
                    break;
                }
            }
            if (!matched) ++i;  // unknown escape: drop the ESC byte
            continue;
        }
        if (c < 0x80) {
            if (g0 == Set::Jisx0208 || g0 == Set::Jisx0212) {
                if (i + 1 < raw.size()) {
                    std::string pair;
                    if (g0 == Set::Jisx0212) pair += char(0x8F);
                    pair += char(c | 0x80);
                    pair += char(static_cast<unsigned char>(raw[i + 1]) | 0x80);
                    append(Set::Jisx0208, pair);
                }
                i += 2;
                continue;
            }
            append(Set::Ascii, std::string(1, char(c)));
            if (c == '^' || c == '=' || c == '\\') {  // delimiters reset to the initial sets
                g0 = Set::Ascii;
                g1 = initialG1;
                latin = initialLatin;
            }
            ++i;
            continue;
        }
        switch (g1) {
            case Set::Katakana:
                append(Set::Katakana, std::string{char(0x8E), char(c)});
                ++i;
                break;
            case Set::Ksx1001:
            case Set::Gb2312:
                if (i + 1 < raw.size()) append(g1, raw.substr(i, 2));
                i += 2;
                break;
            case Set::Latin:
                append(Set::Latin, std::string(1, char(c)));
                ++i;
                break;
            default:
                append(Set::None, std::string(1, char(c)));
                ++i;
                break;
        }
    }
    flush();
    return out;
}

}  // namespace consilium::imaging::detail
