// Tokenizers for GGUF files' tokenizer.ggml.* vocabularies (llama.cpp src/llama-vocab.cpp):
//   "llama": SentencePiece-style (spaces as U+2581, a space prefix, greedy merging of the
//            highest-scoring adjacent pair, unknown text falls back to <0xXX> byte tokens);
//   "gpt2":  byte-level BPE (bytes mapped to printable code points as GPT-2's
//            bytes_to_unicode, the pre-tokenisation tokenizer.ggml.pre names (GPT-2's,
//            Llama 3's or Qwen2's: pretokenizer.h), merges applied by rank).
//
// Errors: CorruptModel when the vocabulary keys are missing or inconsistent,
// UnsupportedModel for another tokenizer.ggml.model or tokenizer.ggml.pre. Thread safety: immutable
// after construction; encode/decode may run on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "inference/gguf.h"
#include "inference/pretokenizer.h"

namespace consilium::inference {

class Tokenizer {
  public:
    enum class Kind { SentencePiece, BytePairGpt2 };

    static Result<std::unique_ptr<Tokenizer>> fromGguf(const GgufFile& file);

    Kind kind() const { return m_kind; }
    int64_t size() const { return int64_t(m_tokens.size()); }
    int32_t bos() const { return m_bos; }
    int32_t eos() const { return m_eos; }
    bool addBosByDefault() const { return m_addBos; }
    // End of generation: eos, eot and other control tokens flagged as such.
    bool isEndOfGeneration(int32_t id) const;

    std::vector<int32_t> encode(const std::string& text, bool addBos) const;
    // The bytes a token stands for (control tokens: empty). Multi-byte UTF-8 characters may
    // span tokens; concatenate pieces before displaying.
    std::string piece(int32_t id) const;
    std::string decode(const std::vector<int32_t>& ids) const;
    const std::string& tokenText(int32_t id) const { return m_tokens[size_t(id)]; }
    int32_t find(const std::string& text) const;  // -1 when absent

  private:
    void encodeSpm(const std::string& text, std::vector<int32_t>* out) const;
    void encodeBpeWord(const std::string& word, std::vector<int32_t>* out) const;

    Kind m_kind = Kind::SentencePiece;
    PreTokenizer m_pre = PreTokenizer::Gpt2;  // byte-level BPE only (tokenizer.ggml.pre)
    std::vector<std::string> m_tokens;
    std::vector<float> m_scores;
    std::vector<int32_t> m_types;
    std::unordered_map<std::string, int32_t> m_index;
    std::unordered_map<std::string, int32_t> m_mergeRank;  // "left right" -> rank (gpt2)
    std::vector<std::string> m_byteToUnicode;              // gpt2
    std::unordered_map<std::string, uint8_t> m_unicodeToByte;
    int32_t m_byteTokens[256] = {};  // spm: id of <0xXX>, -1 when absent
    int32_t m_bos = -1, m_eos = -1, m_unk = -1, m_eot = -1;
    bool m_addBos = true;
    bool m_addSpacePrefix = true;
};

// GPT-2's byte-to-unicode table (openai/gpt-2 encoder.py bytes_to_unicode): the UTF-8 text
// of the printable character that stands for each byte in byte-level BPE vocabularies.
std::vector<std::string> gpt2ByteToUnicode();

}  // namespace consilium::inference
