#include "inference/consilium_tokenizer.h"

namespace consilium::inference {

ConsiliumTokenizer::~ConsiliumTokenizer() = default;

Result<std::unique_ptr<ConsiliumTokenizer>> ConsiliumTokenizer::create(
    const std::string& serializedModel, const ConsiliumConfig& config) {
    auto sp = SentencePieceTokenizer::fromSerializedProto(serializedModel,
                                                          "consilium.tokenizer.spm_model");
    if (!sp) return sp.error();
    if (sp.value()->size() != config.vocab) {
        return makeError(ErrorCode::CorruptModel,
                         "the SentencePiece model has " + std::to_string(sp.value()->size()) +
                             " pieces, consilium.vocab_size says " + std::to_string(config.vocab));
    }
    std::unique_ptr<ConsiliumTokenizer> t(new ConsiliumTokenizer());
    t->m_sp = std::move(sp.value());
    t->m_config = config;
    return t;
}

std::vector<int32_t> ConsiliumTokenizer::encodeWithBos(const std::string& text) const {
    std::vector<int32_t> out{m_config.bosId};
    const std::vector<int32_t> ids = m_sp->encode(text, false);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
}

std::vector<TokenSpan> ConsiliumTokenizer::encodeWithSpans(const std::string& text) const {
    std::vector<TokenSpan> out{{m_config.bosId, 0, 0}};
    const std::vector<TokenSpan> pieces = m_sp->encodeWithSpans(text);
    out.insert(out.end(), pieces.begin(), pieces.end());
    return out;
}

std::string ConsiliumTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::vector<int32_t> keep;
    for (int32_t id : ids)
        if (id > m_config.padId && id != m_config.unkId && id != m_config.bosId &&
            id != m_config.eosId && id < m_config.vocab)
            keep.push_back(id);
    return restoreCjkPunctuation(m_sp->decode(keep));
}

namespace {

// Decodes the code point starting at s[i] (valid UTF-8 from SentencePiece); sets `len`.
char32_t codePointAt(const std::string& s, size_t i, size_t* len) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (i + n > s.size()) {
        *len = 1;
        return b;
    }
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < n; ++k)
        c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    *len = n;
    return c;
}

// CJK ideographs, CJK symbols and punctuation (。、), and full-width forms.
bool isCjk(char32_t c) {
    return (c >= 0x3000 && c <= 0x303F) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF00 && c <= 0xFFEF);
}

// UTF-8 of the full-width form (U+FF0C，U+FF1B；U+FF1A：U+FF1F？U+FF01！U+FF08（U+FF09）).
const char* fullWidth(char c) {
    switch (c) {
        case ',':
            return "\xEF\xBC\x8C";
        case ';':
            return "\xEF\xBC\x9B";
        case ':':
            return "\xEF\xBC\x9A";
        case '?':
            return "\xEF\xBC\x9F";
        case '!':
            return "\xEF\xBC\x81";
        case '(':
            return "\xEF\xBC\x88";
        case ')':
            return "\xEF\xBC\x89";
        default:
            return nullptr;
    }
}

}  // namespace

std::string restoreCjkPunctuation(const std::string& utf8) {
    std::string out;
    out.reserve(utf8.size() + 8);
    char32_t previous = 0;
    for (size_t i = 0; i < utf8.size();) {
        size_t len = 1;
        const char32_t c = codePointAt(utf8, i, &len);
        const char* wide = len == 1 ? fullWidth(char(c)) : nullptr;
        if (wide) {
            size_t nextLen = 0;
            const char32_t next = i + 1 < utf8.size() ? codePointAt(utf8, i + 1, &nextLen) : 0;
            if (c == '(' ? isCjk(next) : isCjk(previous)) {
                out += wide;
                previous = 0xFF00;  // a full-width mark: a following ")" etc. stays wide
                i += 1;
                continue;
            }
        }
        out.append(utf8, i, len);
        previous = c;
        i += len;
    }
    return out;
}

int ConsiliumTokenizer::vocabSize() const {
    return int(m_sp->size());
}

}  // namespace consilium::inference
