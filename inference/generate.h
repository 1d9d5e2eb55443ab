// Text generation with a llama session: prompt processing in batches, then one token at a
// time with a sampler, a streaming callback per token, stop tokens and cancellation
// between tokens (and between layers).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "inference/llama_graph.h"
#include "inference/sampler.h"
#include "inference/tokenizer.h"

namespace consilium::inference {

struct GenerateOptions {
    int maxNewTokens = 128;
    SamplerOptions sampling;
    std::vector<int32_t> stopTokens;  // besides the vocabulary's end-of-generation tokens
    bool stopAtEndOfGeneration = true;
    bool addBos = true;  // combined with the tokenizer's own add_bos_token setting
    // Called with each new token and its text piece; return false to stop.
    std::function<bool(int32_t token, const std::string& piece)> onToken;
    const std::atomic<bool>* cancel = nullptr;
};

struct GenerateResult {
    std::vector<int32_t> promptTokens;
    std::vector<int32_t> tokens;  // generated
    std::string text;             // generated text
    std::string stopReason;  // "length", "end-of-generation", "stop-token", "callback", "context"
    double promptSeconds = 0, generateSeconds = 0;
};

// Starts from an empty KV cache (the session is reset). Errors: InvalidArgument (prompt
// longer than the context), Cancelled.
Result<GenerateResult> generate(LlamaSession& session, const Tokenizer& tokenizer,
                                const std::string& prompt, const GenerateOptions& options);

}  // namespace consilium::inference

namespace consilium::inference {

// A llama file opened for generation: the weights, the graph's views and the tokenizer.
struct LlamaBundle {
    std::shared_ptr<WeightStore> store;
    std::shared_ptr<LlamaModel> model;
    std::unique_ptr<Tokenizer> tokenizer;
};

// IoError/CorruptModel/UnsupportedModel as WeightStore::open, LlamaModel::load and
// Tokenizer::fromGguf report them.
Result<LlamaBundle> openLlamaFile(const std::string& path);

}  // namespace consilium::inference
