// Random-weight `llama` GGUF files for tests and benchmarks, written with GgufWriter in
// the GGUF ecosystem's layout (tensor names and metadata keys as llama.cpp reads them), so
// the same file runs in Consilium and in llama.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "inference/gguf_writer.h"

namespace consilium::inference {

struct RandomLlamaSpec {
    int64_t vocab = 320;
    int64_t dim = 64;
    int64_t layers = 2;
    int64_t heads = 4;
    int64_t kvHeads = 2;
    int64_t ffnDim = 128;
    int64_t context = 512;
    int64_t experts = 0;  // > 0: Mixtral-style MoE FFN
    int64_t expertsUsed = 0;
    DType type = DType::F32;  // every 2-D/3-D weight; norms stay F32
    bool tiedOutput = false;  // omit output.weight
    float ropeBase = 10000.0f;
    float rmsEps = 1e-5f;
    std::string tokenizer = "llama";  // "llama" (SentencePiece-style) or "gpt2" (byte-level BPE)
    uint64_t seed = 1;
    std::string name = "consilium-random-llama";
};

// Shapes of a model with about `params` parameters (0.5e9: the Qwen2.5-0.5B shape with a
// tied output: dim 896, 24 layers, 14 heads, 2 KV heads, FFN 4864, vocab 151936).
RandomLlamaSpec llamaSpecForParams(double params);
uint64_t llamaParameterCount(const RandomLlamaSpec& spec);

// Fills `w` with the model's metadata, tokenizer and random tensors (deterministic in seed).
void buildRandomLlama(const RandomLlamaSpec& spec, GgufWriter* w);
Status writeRandomLlama(const RandomLlamaSpec& spec, const std::string& path);

}  // namespace consilium::inference
