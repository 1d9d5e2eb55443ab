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
    return m_sp->decode(keep);
}

int ConsiliumTokenizer::vocabSize() const {
    return int(m_sp->size());
}

}  // namespace consilium::inference
