// Session API of the `consilium` model: one question at a time over preprocessed inputs,
// answered with text, structured findings and the explanations of docs/MODEL.md section 13.
//
// ConsiliumSession = one run's state (activations, KV cache) on top of a shared
// ConsiliumEngine, allocated once at create(); used by one thread at a time, reusable for
// several questions. It is a ConsiliumBatcher with one answer at a time, driven
// synchronously, so a session and a batch give the same answers. Errors: InvalidArgument for
// inputs of the wrong size, Cancelled when the cancel flag is set or the token callback
// returns false.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "inference/consilium_batcher.h"
#include "inference/consilium_engine.h"

namespace consilium::inference {

struct ConsiliumSessionOptions {
    CpuBackendOptions cpu;
    ConsiliumLimits limits;
    int64_t maxAnswerTokens = 0;  // 0 = decoder.max_tokens (counting bos)
    bool reuseEncodings = true;   // look encodings up in (and add them to) engine.cache()
};

class ConsiliumSession {
  public:
    static Result<std::unique_ptr<ConsiliumSession>> create(
        std::shared_ptr<const ConsiliumEngine> engine, const ConsiliumSessionOptions& options);

    // Called with each generated id and its text piece; return false to cancel.
    using TokenCallback = std::function<bool(int32_t id, const std::string& piece)>;

    Result<ConsiliumAnswer> ask(const ConsiliumInputs& inputs, const TokenCallback& onToken = {},
                                const std::atomic<bool>* cancel = nullptr);

    const ConsiliumEngine& engine() const { return *m_engine; }
    std::string deviceName() { return m_batcher->deviceName(); }

  private:
    ConsiliumSession() = default;

    std::shared_ptr<const ConsiliumEngine> m_engine;
    std::unique_ptr<ConsiliumBatcher> m_batcher;
};

}  // namespace consilium::inference
