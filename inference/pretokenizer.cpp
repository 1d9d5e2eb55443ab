#include "inference/pretokenizer.h"

#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace consilium::inference {
namespace {

constexpr uint32_t kInvalid = 0xFFFFFFFFu;

// Code points of `s` with their byte offsets (one extra entry: the end). A byte that does not
// start a valid UTF-8 sequence becomes its own "code point" kInvalid.
struct Text {
    std::vector<uint32_t> cp;
    std::vector<size_t> off;
};

Text decode(const std::string& s) {
    Text t;
    const auto* b = reinterpret_cast<const unsigned char*>(s.data());
    size_t i = 0;
    while (i < s.size()) {
        uint32_t c = b[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + size_t(len) <= s.size();
        if (ok && len > 1) {
            c &= 0x7Fu >> len;
            for (int k = 1; k < len; ++k) {
                if ((b[i + size_t(k)] & 0xC0) != 0x80) ok = false;
                c = (c << 6) | (b[i + size_t(k)] & 0x3Fu);
            }
        }
        t.off.push_back(i);
        if (!ok) {
            t.cp.push_back(kInvalid);
            i += 1;
        } else {
            t.cp.push_back(c);
            i += size_t(len);
        }
    }
    t.off.push_back(s.size());
    return t;
}

bool isLetter(uint32_t c) {
    return c != kInvalid && (U_GET_GC_MASK(UChar32(c)) & U_GC_L_MASK) != 0;
}
bool isNumber(uint32_t c) {
    return c != kInvalid && (U_GET_GC_MASK(UChar32(c)) & U_GC_N_MASK) != 0;
}
bool isSpace(uint32_t c) {
    return c != kInvalid && u_isUWhiteSpace(UChar32(c));
}
bool isCrLf(uint32_t c) {
    return c == '\r' || c == '\n';
}
// [^\s\p{L}\p{N}]
bool isOther(uint32_t c) {
    return !isSpace(c) && !isLetter(c) && !isNumber(c);
}

class Matcher {
  public:
    Matcher(PreTokenizer kind, const Text& t) : m_kind(kind), m_t(t), m_n(t.cp.size()) {}

    // Length in code points of the match at i (>= 1).
    size_t match(size_t i) const {
        size_t len = contraction(i);
        if (len) return len;
        if (m_kind == PreTokenizer::Gpt2) {
            if ((len = spaceThen(i, isLetter))) return len;
            if ((len = spaceThen(i, isNumber))) return len;
            if ((len = spaceThen(i, isOther))) return len;
        } else {
            if ((len = letters(i))) return len;
            if (isNumber(at(i))) {
                const size_t most = m_kind == PreTokenizer::Llama3 ? 3 : 1;
                len = 0;
                while (len < most && isNumber(at(i + len)))
                    ++len;
                return len;
            }
            if ((len = spaceThen(i, isOther))) {
                while (isCrLf(at(i + len)))
                    ++len;
                return len;
            }
            if ((len = spacesToNewline(i))) return len;
        }
        if ((len = spacesNotBeforeText(i))) return len;
        if (isSpace(at(i))) return spaceRun(i);
        return 1;  // not reached: every character starts one of the alternatives
    }

  private:
    uint32_t at(size_t i) const { return i < m_n ? m_t.cp[i] : 0; }
    bool has(size_t i) const { return i < m_n; }
    size_t spaceRun(size_t i) const {
        size_t j = i;
        while (has(j) && isSpace(at(j)))
            ++j;
        return j - i;
    }
    // 's|'t|'re|'ve|'m|'ll|'d, case-insensitive for Llama3/Qwen2.
    size_t contraction(size_t i) const {
        if (at(i) != '\'') return 0;
        const bool fold = m_kind != PreTokenizer::Gpt2;
        auto is = [&](size_t k, char ch) {
            const uint32_t c = at(k);
            return c == uint32_t(ch) || (fold && c == uint32_t(ch - 'a' + 'A'));
        };
        static const char* kForms[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (const char* f : kForms) {
            size_t k = 0;
            while (f[k] && is(i + 1 + k, f[k]))
                ++k;
            if (!f[k]) return 1 + k;
        }
        return 0;
    }
    // " ?" + one or more of `cls`.
    template <typename Cls>
    size_t spaceThen(size_t i, Cls cls) const {
        size_t j = i;
        if (at(j) == ' ' && has(j + 1) && cls(at(j + 1))) ++j;
        size_t k = j;
        while (has(k) && cls(at(k)))
            ++k;
        return k > j ? k - i : 0;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    size_t letters(size_t i) const {
        size_t j = i;
        const uint32_t c = at(i);
        if (has(i) && !isCrLf(c) && !isLetter(c) && !isNumber(c) && isLetter(at(i + 1))) ++j;
        size_t k = j;
        while (has(k) && isLetter(at(k)))
            ++k;
        return k > j ? k - i : 0;
    }
    // \s*[\r\n]+: up to and including the last CR/LF of the whitespace run at i.
    size_t spacesToNewline(size_t i) const {
        const size_t run = spaceRun(i);
        for (size_t k = run; k > 0; --k)
            if (isCrLf(at(i + k - 1))) return k;
        return 0;
    }
    // \s+(?!\S): the whitespace run, less its last character when text follows.
    size_t spacesNotBeforeText(size_t i) const {
        const size_t run = spaceRun(i);
        if (run == 0) return 0;
        if (!has(i + run)) return run;
        return run > 1 ? run - 1 : 0;
    }

    PreTokenizer m_kind;
    const Text& m_t;
    size_t m_n;
};

// Expressions applied in turn (llama.cpp's unicode_regex_split): each splits every piece of
// the previous step into its matches and the text between them. ICU syntax: \s is written
// [\p{White_Space}] as in the matchers above, and set metacharacters are escaped.
class RegexChain {
  public:
    explicit RegexChain(std::initializer_list<const char*> expressions) {
        for (const char* e : expressions) {
            UErrorCode status = U_ZERO_ERROR;
            UParseError where;
            std::unique_ptr<icu::RegexPattern> p(
                icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(e), 0, where, status));
            if (U_FAILURE(status) || !p) std::abort();  // a constant of this file: a bug
            m_patterns.push_back(std::move(p));
        }
    }

    std::vector<std::string> split(const std::string& text) const {
        // UTF-16 with the byte offset of every unit; an invalid byte becomes U+FFFD (a
        // symbol) for matching and stays itself in the output.
        const Text t = decode(text);
        icu::UnicodeString u;
        std::vector<size_t> byteAt;
        for (size_t i = 0; i < t.cp.size(); ++i) {
            const int before = u.length();
            u.append(UChar32(t.cp[i] == kInvalid ? 0xFFFDu : t.cp[i]));
            for (int k = before; k < u.length(); ++k)
                byteAt.push_back(t.off[i]);
        }
        byteAt.push_back(text.size());
        std::vector<std::pair<int, int>> pieces{{0, u.length()}};  // UTF-16 [begin, end)
        if (u.isEmpty()) pieces.clear();
        for (const auto& pattern : m_patterns) {
            std::vector<std::pair<int, int>> next;
            for (const auto& [b, e] : pieces) {
                UErrorCode status = U_ZERO_ERROR;
                const icu::UnicodeString piece = u.tempSubStringBetween(b, e);
                std::unique_ptr<icu::RegexMatcher> m(pattern->matcher(piece, status));
                int pos = 0;
                while (U_SUCCESS(status) && m->find(status)) {
                    const int s = m->start(status), f = m->end(status);
                    if (s > pos) next.emplace_back(b + pos, b + s);
                    if (f > s) next.emplace_back(b + s, b + f);
                    pos = f;
                }
                if (pos < e - b) next.emplace_back(b + pos, e);
            }
            pieces = std::move(next);
        }
        std::vector<std::string> out;
        out.reserve(pieces.size());
        for (const auto& [b, e] : pieces)
            out.push_back(text.substr(byteAt[size_t(b)], byteAt[size_t(e)] - byteAt[size_t(b)]));
        return out;
    }

  private:
    std::vector<std::unique_ptr<icu::RegexPattern>> m_patterns;
};

const RegexChain& deepSeekV3() {
    static const RegexChain chain{
        "\\p{N}{1,3}",
        "[\\u4E00-\\u9FA5\\u3040-\\u309F\\u30A0-\\u30FF]+",
        "[!\"#\\$%\\&'()*+,\\-./:;<=>?@\\[\\\\\\]\\^_`\\{|\\}~][A-Za-z]+"
        "|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
        "| ?[\\p{P}\\p{S}]+[\\r\\n]*"
        "|[\\p{White_Space}]*[\\r\\n]+"
        "|[\\p{White_Space}]+(?![^\\p{White_Space}])"
        "|[\\p{White_Space}]+",
    };
    return chain;
}

// DeepSeek LLM 7B/67B ("deepseek-llm"). The second expression lists the cased letters of
// Unicode (as DeepSeek's tokenizer.json does) with every character escaped; the fifth covers
// CJK, most scripts from U+0800 up to it, and Hangul.
const RegexChain& deepSeekLlm() {
    static const RegexChain chain{
        "[\\x{D}\\x{A}]",
        "[\\p{White_Space}]?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-"
        "\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{"
        "37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-"
        "\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-"
        "\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{"
        "1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{"
        "1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}"
        "\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{"
        "1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
        "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{"
        "212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}"
        "\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{"
        "A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{"
        "A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}"
        "-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{"
        "10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
        "[\\p{White_Space}]?[\\x{21}-\\x{2F}\\x{3A}-\\x{7E}\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}"
        "\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
        "[\\p{White_Space}]+\\z",
        "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
        "\\p{N}+",
    };
    return chain;
}

// DeepSeek Coder ("deepseek-coder").
const RegexChain& deepSeekCoder() {
    static const RegexChain chain{
        "[\\x{D}\\x{A}]",
        "[\\p{White_Space}]?\\p{L}+",
        "[\\p{White_Space}]?\\p{P}+",
        "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
        "\\p{N}",
    };
    return chain;
}

}  // namespace

std::optional<PreTokenizer> preTokenizerNamed(const std::string& name) {
    if (name.empty() || name == "default" || name == "gpt2") return PreTokenizer::Gpt2;
    if (name == "llama-bpe" || name == "llama3") return PreTokenizer::Llama3;
    if (name == "qwen2") return PreTokenizer::Qwen2;
    if (name == "deepseek-v3") return PreTokenizer::DeepSeekV3;
    if (name == "deepseek-llm") return PreTokenizer::DeepSeekLlm;
    if (name == "deepseek-coder") return PreTokenizer::DeepSeekCoder;
    return std::nullopt;
}

std::vector<std::string> preTokenize(PreTokenizer kind, const std::string& text) {
    if (kind == PreTokenizer::DeepSeekV3) return deepSeekV3().split(text);
    if (kind == PreTokenizer::DeepSeekLlm) return deepSeekLlm().split(text);
    if (kind == PreTokenizer::DeepSeekCoder) return deepSeekCoder().split(text);
    const Text t = decode(text);
    const Matcher m(kind, t);
    std::vector<std::string> pieces;
    for (size_t i = 0; i < t.cp.size();) {
        const size_t len = m.match(i);
        pieces.push_back(text.substr(t.off[i], t.off[i + len] - t.off[i]));
        i += len;
    }
    return pieces;
}

}  // namespace consilium::inference
