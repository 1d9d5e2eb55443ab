#include "inference/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

namespace consilium::inference {

SentencePieceTokenizer::SentencePieceTokenizer()
    : m_sp(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

Result<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::fromSerializedProto(
    const std::string& proto, const std::string& source) {
    std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
    const auto status = t->m_sp->LoadFromSerializedProto(proto);
    if (!status.ok()) {
        return makeError(ErrorCode::CorruptModel,
                         source + ": SentencePiece model does not load: " + status.ToString());
    }
    return t;
}

Result<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::fromGguf(
    const GgufFile& file, const std::string& key) {
    const GgufValue* v = file.find(key);
    if (!v || v->type != GgufType::Array || v->arrayType != GgufType::U8 || v->bytes.empty()) {
        return makeError(ErrorCode::CorruptModel,
                         file.path() + ": no SentencePiece model in '" + key + "' (u8 array)");
    }
    return fromSerializedProto(v->bytes, file.path() + " '" + key + "'");
}

int64_t SentencePieceTokenizer::size() const {
    return m_sp->GetPieceSize();
}
int32_t SentencePieceTokenizer::bos() const {
    return m_sp->bos_id();
}
int32_t SentencePieceTokenizer::eos() const {
    return m_sp->eos_id();
}

std::vector<int32_t> SentencePieceTokenizer::encode(const std::string& text, bool addBos) const {
    std::vector<int> ids;
    if (!m_sp->Encode(text, &ids).ok()) ids.clear();
    std::vector<int32_t> out;
    if (addBos && bos() >= 0) out.push_back(bos());
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
}

std::vector<TokenSpan> SentencePieceTokenizer::encodeWithSpans(const std::string& text) const {
    std::vector<TokenSpan> out;
    const sentencepiece::ImmutableSentencePieceText spt = m_sp->EncodeAsImmutableProto(text);
    out.reserve(spt.pieces_size());
    for (size_t i = 0; i < spt.pieces_size(); ++i) {
        const auto p = spt.pieces(int(i));
        out.push_back({int32_t(p.id()), size_t(p.begin()), size_t(p.end())});
    }
    return out;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::vector<int> v;
    for (int32_t id : ids)
        if (id >= 0 && id < size()) v.push_back(id);
    std::string out;
    if (!m_sp->Decode(v, &out).ok()) out.clear();
    return out;
}

std::string SentencePieceTokenizer::piece(int32_t id) const {
    return id >= 0 && id < size() ? m_sp->IdToPiece(id) : std::string();
}

}  // namespace consilium::inference
