#include "inference/consilium_tokenizer.h"

#include <sentencepiece_processor.h>

namespace consilium::inference {

ConsiliumTokenizer::~ConsiliumTokenizer() = default;

Result<std::unique_ptr<ConsiliumTokenizer>> ConsiliumTokenizer::create(
    const std::string& serializedModel, const ConsiliumConfig& config) {
    std::unique_ptr<ConsiliumTokenizer> t(new ConsiliumTokenizer());
    t->m_sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    t->m_config = config;
    const auto status = t->m_sp->LoadFromSerializedProto(serializedModel);
    if (!status.ok()) {
        return makeError(
            ErrorCode::CorruptModel,
            "the SentencePiece model in consilium.tokenizer.spm_model does not load: " +
                status.ToString());
    }
    if (t->m_sp->GetPieceSize() != int(config.vocab)) {
        return makeError(ErrorCode::CorruptModel,
                         "the SentencePiece model has " + std::to_string(t->m_sp->GetPieceSize()) +
                             " pieces, consilium.vocab_size says " + std::to_string(config.vocab));
    }
    return t;
}

std::vector<int32_t> ConsiliumTokenizer::encodeWithBos(const std::string& text) const {
    std::vector<int> ids;
    m_sp->Encode(text, &ids).IgnoreError();
    std::vector<int32_t> out;
    out.reserve(ids.size() + 1);
    out.push_back(m_config.bosId);
    for (int id : ids)
        out.push_back(int32_t(id));
    return out;
}

std::vector<TokenSpan> ConsiliumTokenizer::encodeWithSpans(const std::string& text) const {
    std::vector<TokenSpan> out;
    out.push_back({m_config.bosId, 0, 0});
    const sentencepiece::ImmutableSentencePieceText spt = m_sp->EncodeAsImmutableProto(text);
    for (size_t i = 0; i < spt.pieces_size(); ++i) {
        const auto p = spt.pieces(int(i));
        out.push_back({int32_t(p.id()), size_t(p.begin()), size_t(p.end())});
    }
    return out;
}

std::string ConsiliumTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::vector<int> keep;
    for (int32_t id : ids)
        if (id > m_config.padId && id != m_config.unkId && id != m_config.bosId &&
            id != m_config.eosId && id < m_config.vocab)
            keep.push_back(int(id));
    std::string text;
    m_sp->Decode(keep, &text).IgnoreError();
    return text;
}

int ConsiliumTokenizer::vocabSize() const {
    return m_sp->GetPieceSize();
}

}  // namespace consilium::inference
