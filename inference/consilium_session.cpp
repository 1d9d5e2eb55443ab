#include "inference/consilium_session.h"

#include <optional>

namespace consilium::inference {

Result<std::unique_ptr<ConsiliumSession>> ConsiliumSession::create(
    std::shared_ptr<const ConsiliumEngine> engine, const ConsiliumSessionOptions& options) {
    std::unique_ptr<ConsiliumSession> s(new ConsiliumSession());
    s->m_engine = engine;
    ConsiliumBatcherOptions bo;
    bo.cpu = options.cpu;
    bo.limits = options.limits;
    if (options.maxAnswerTokens > 0) bo.limits.maxAnswerTokens = options.maxAnswerTokens;
    bo.maxBatch = 1;
    bo.reuseEncodings = options.reuseEncodings;
    auto b = ConsiliumBatcher::create(std::move(engine), bo);
    if (!b) return b.error();
    s->m_batcher = std::move(b.value());
    return s;
}

Result<ConsiliumAnswer> ConsiliumSession::ask(const ConsiliumInputs& in,
                                              const TokenCallback& onToken,
                                              const std::atomic<bool>* cancel) {
    std::optional<Result<ConsiliumAnswer>> out;
    ConsiliumRequest r;
    r.inputs = in;
    r.priority = 0;
    r.onToken = onToken;
    r.onDone = [&out](Result<ConsiliumAnswer> a) { out.emplace(std::move(a)); };
    // The caller owns the flag and outlives this call: share it without ownership.
    if (cancel)
        r.cancel = std::shared_ptr<const std::atomic<bool>>(std::shared_ptr<void>(), cancel);
    m_batcher->add(std::move(r));
    m_batcher->drain();
    if (!out) return makeError(ErrorCode::Internal, "the batcher finished without an answer");
    return std::move(*out);
}

}  // namespace consilium::inference
