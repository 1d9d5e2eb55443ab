// A SentencePiece model (libsentencepiece) stored inside a GGUF file as a U8 array holding
// the serialised ModelProto (default key "tokenizer.sentencepiece.model"; the `consilium`
// architecture's tokenizer, see docs/MODEL.md). Unlike Tokenizer (tokenizer.ggml.*), this
// runs SentencePiece itself, normaliser included.
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
    std::string decode(const std::vector<int32_t>& ids) const;
    std::string piece(int32_t id) const;

  private:
    SentencePieceTokenizer();
    std::unique_ptr<sentencepiece::SentencePieceProcessor> m_sp;
};

}  // namespace consilium::inference
