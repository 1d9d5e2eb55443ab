#include "inference/generate.h"

#include <algorithm>
#include <chrono>

namespace consilium::inference {

Result<GenerateResult> generate(LlamaSession& session, const Tokenizer& tokenizer,
                                const std::string& prompt, const GenerateOptions& options) {
    using Clock = std::chrono::steady_clock;
    GenerateResult r;
    r.promptTokens = tokenizer.encode(prompt, options.addBos && tokenizer.addBosByDefault());
    if (r.promptTokens.empty()) r.promptTokens.push_back(std::max(0, tokenizer.bos()));
    if (int64_t(r.promptTokens.size()) >= session.maxContext()) {
        return makeError(ErrorCode::InvalidArgument, "prompt of " +
                                                         std::to_string(r.promptTokens.size()) +
                                                         " tokens does not fit the context of " +
                                                         std::to_string(session.maxContext()));
    }
    session.reset();
    const auto t0 = Clock::now();
    for (size_t i = 0; i < r.promptTokens.size(); i += size_t(session.maxBatch())) {
        const int64_t n = std::min<int64_t>(session.maxBatch(), int64_t(r.promptTokens.size() - i));
        Status s = session.forward(r.promptTokens.data() + i, n, options.cancel);
        if (!s) return s.error();
    }
    const auto t1 = Clock::now();
    r.promptSeconds = std::chrono::duration<double>(t1 - t0).count();
    Sampler sampler(session.vocab(), options.sampling);
    r.stopReason = "length";
    for (int i = 0; i < options.maxNewTokens; ++i) {
        if (options.cancel && options.cancel->load())
            return makeError(ErrorCode::Cancelled, "generation cancelled");
        const int32_t tok = sampler.sample(session.logits());
        if (options.stopAtEndOfGeneration && tokenizer.isEndOfGeneration(tok)) {
            r.stopReason = "end-of-generation";
            break;
        }
        if (std::find(options.stopTokens.begin(), options.stopTokens.end(), tok) !=
            options.stopTokens.end()) {
            r.stopReason = "stop-token";
            break;
        }
        r.tokens.push_back(tok);
        const std::string piece = tokenizer.piece(tok);
        r.text += piece;
        if (options.onToken && !options.onToken(tok, piece)) {
            r.stopReason = "callback";
            break;
        }
        if (session.position() >= session.maxContext()) {
            r.stopReason = "context";
            break;
        }
        if (i + 1 == options.maxNewTokens) break;
        Status s = session.forward(&tok, 1, options.cancel);
        if (!s) return s.error();
    }
    r.generateSeconds = std::chrono::duration<double>(Clock::now() - t1).count();
    return r;
}

}  // namespace consilium::inference

namespace consilium::inference {

Result<LlamaBundle> openLlamaFile(const std::string& path) {
    LlamaBundle b;
    auto store = WeightStore::open(path);
    if (!store) return store.error();
    b.store = std::move(store.value());
    auto model = LlamaModel::load(b.store);
    if (!model) return model.error();
    b.model = std::move(model.value());
    auto tok = Tokenizer::fromGguf(b.store->file());
    if (!tok) return tok.error();
    b.tokenizer = std::move(tok.value());
    return b;
}

}  // namespace consilium::inference
