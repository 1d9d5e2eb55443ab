// The one wrapper of libsentencepiece: a SentencePiece model stored inside a GGUF file as a
// U8 array holding the serialised ModelProto (default key "tokenizer.sentencepiece.model";
// the `consilium` architecture keeps it in consilium.tokenizer.spm_model and wraps this class
// in ConsiliumTokenizer, see docs/MODEL.md 3.3). Unlike Tokenizer (tokenizer.ggml.*), this
// runs SentencePiece itself, normaliser included; encoding never samples.
//
// Errors: CorruptModel when the key is missing or the proto does not load.
// Thread safety: encode/decode are const and may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "inference/gguf.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace consilium::inference {

// One token of an encoded text and the byte range [begin, end) of the input it came from.
struct TokenSpan {
    int32_t id = 0;
    size_t begin = 0, end = 0;
};

class SentencePieceTokenizer {
  public:
    static constexpr const char* kDefaultKey = "tokenizer.sentencepiece.model";

    static Result<std::unique_ptr<SentencePieceTokenizer>> fromGguf(
        const GgufFile& file, const std::string& key = kDefaultKey);
    // `source` names the origin in error messages.
    static Result<std::unique_ptr<SentencePieceTokenizer>> fromSerializedProto(
        const std::string& proto, const std::string& source);
    ~SentencePieceTokenizer();

    int64_t size() const;
    int32_t bos() const;
    int32_t eos() const;
    std::vector<int32_t> encode(const std::string& text, bool addBos) const;
    // The pieces of `text` with their byte spans in it (no bos); empty when encoding fails.
    std::vector<TokenSpan> encodeWithSpans(const std::string& text) const;
    std::string decode(const std::vector<int32_t>& ids) const;
    std::string piece(int32_t id) const;

  private:
    SentencePieceTokenizer();
    std::unique_ptr<sentencepiece::SentencePieceProcessor> m_sp;
};

}  // namespace consilium::inference
