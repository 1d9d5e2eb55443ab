// Pre-tokenisation of byte-level BPE vocabularies: the regular expression a GGUF file's
// tokenizer.ggml.pre names splits text into pieces, and BPE merges run within each piece.
// The expressions, as llama.cpp's src/llama-vocab.cpp lists them:
//
//   Gpt2   ("gpt2", "default", absent): 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
//          ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+                          (openai/gpt-2 encoder.py)
//   Llama3 ("llama-bpe", "llama3"): (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|
//          \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen2  ("qwen2"): Llama3's with \p{N} (one digit per piece) for \p{N}{1,3}
//   DeepSeekV3 ("deepseek-v3"; DeepSeek-V3 and R1): three expressions applied in turn, each
//          splitting every piece of the one before into its matches and the text between:
//          \p{N}{1,3}  then  [一-龥぀-ゟ゠-ヿ]+  then
//          [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//           ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   DeepSeekLlm ("deepseek-llm"; DeepSeek LLM 7B/67B), in turn: [\r\n]  then
//          \s?[the cased letters]+  then  \s?[!-/:-~！-／：-～‘-‟　-。]+  then  \s+$  then
//          [一-龥ࠀ-一가-퟿]+  then  \p{N}+   ($: the end of the piece)
//   DeepSeekCoder ("deepseek-coder"), in turn: [\r\n]  then  \s?\p{L}+  then  \s?\p{P}+
//          then  [一-龥ࠀ-一가-퟿]+  then  \p{N}
//
// The first three are hand-written matchers over Unicode code points, with the categories of
// ICU (\p{L}: general category L*, \p{N}: N*, \s: White_Space); the DeepSeek ones run ICU's
// regular expressions (\s as White_Space there too). tests/inference/
// test_pretokenizer checks them against Python's `regex` module on the same expressions.
// A byte that is not valid UTF-8 counts as a character of no category ([^\s\p{L}\p{N}]).
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace consilium::inference {

enum class PreTokenizer { Gpt2, Llama3, Qwen2, DeepSeekV3, DeepSeekLlm, DeepSeekCoder };

// The pre-tokenizer of a tokenizer.ggml.pre value, or nothing when it is not one of these.
std::optional<PreTokenizer> preTokenizerNamed(const std::string& name);

// Splits UTF-8 text into the pieces the expression matches, in order; their concatenation
// is the text.
std::vector<std::string> preTokenize(PreTokenizer kind, const std::string& text);

}  // namespace consilium::inference
