// Tokenizer of a `consilium` model (docs/MODEL.md section 3.3): the SentencePiece unigram
// model stored as a serialized ModelProto in `consilium.tokenizer.spm_model`, run by
// SentencePieceTokenizer, with the model's special ids (unk, bos, eos, pad) from its keys.
//
// Errors: CorruptModel when the stored model does not load. Thread safety: encode/decode are
// const and may be called from several threads (SentencePiece's processor is read-only after
// loading).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "inference/consilium_graph.h"
#include "inference/sentencepiece_tokenizer.h"

namespace consilium::inference {

class ConsiliumTokenizer {
  public:
    static Result<std::unique_ptr<ConsiliumTokenizer>> create(const std::string& serializedModel,
                                                              const ConsiliumConfig& config);
    ~ConsiliumTokenizer();

    // [bos] + encode(text).
    std::vector<int32_t> encodeWithBos(const std::string& text) const;
    // The same with byte spans into `text` (the bos entry has an empty span at 0).
    std::vector<TokenSpan> encodeWithSpans(const std::string& text) const;
    // UTF-8 text of ids; the special ids 0..3 (unk, bos, eos, pad) are never printed.
    // Full-width punctuation that NFKC folded to ASCII is put back in Chinese text
    // (restoreCjkPunctuation).
    std::string decode(const std::vector<int32_t>& ids) const;
    int vocabSize() const;

  private:
    ConsiliumTokenizer() = default;
    std::unique_ptr<SentencePieceTokenizer> m_sp;
    ConsiliumConfig m_config;
};

// The shipped tokenizer normalises with NFKC, which folds the full-width punctuation of
// Chinese text (，；：？！（）) to ASCII, so "有，乳腺癌。" decodes as "有,乳腺癌。". This puts
// the full-width form back where the ASCII mark follows a CJK character (for "(": precedes
// one); English text is unchanged. docs/MODEL.md 3.3.
std::string restoreCjkPunctuation(const std::string& utf8);

}  // namespace consilium::inference
