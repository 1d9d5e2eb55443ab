// The `llama` architecture as GGUF files write it (llama.cpp src/llama-model.cpp, LLM_ARCH_LLAMA):
// token_embd -> n x [RMSNorm, attention (RoPE "normal" style, grouped-query), residual,
// RMSNorm, SwiGLU FFN or Mixtral-style MoE FFN, residual] -> RMSNorm -> output (tied to
// token_embd when output.weight is absent).
//
// Q/K rows in llama GGUF files are permuted by convert_hf_to_gguf.py (LlamaModel.permute)
// so that the adjacent-pair rotation (GGML_ROPE_TYPE_NORM) reproduces HF's rotate_half
// rotation; this graph therefore uses RopeStyle::Normal on the file's weights as is.
//
// LlamaModel holds views into a WeightStore (immutable, shareable across sessions).
// LlamaSession owns the KV cache and all activations, allocated once at creation for
// `maxContext` positions and `maxBatch` tokens per forward call; forward() allocates
// nothing. A session is used by one thread at a time.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "inference/backend.h"
#include "inference/weight_store.h"

namespace consilium::inference {

struct LlamaConfig {
    int64_t vocab = 0;
    int64_t contextLength = 0;  // llama.context_length (training context)
    int64_t dim = 0;            // llama.embedding_length
    int64_t layers = 0;         // llama.block_count
    int64_t ffnDim = 0;         // llama.feed_forward_length
    int64_t heads = 0;          // llama.attention.head_count
    int64_t kvHeads = 0;        // llama.attention.head_count_kv (default: heads)
    int64_t headDim = 0;        // llama.attention.key_length (default: dim / heads)
    int64_t ropeDims = 0;       // llama.rope.dimension_count (default: headDim)
    float ropeBase = 10000.0f;  // llama.rope.freq_base
    float rmsEps = 1e-5f;       // llama.attention.layer_norm_rms_epsilon
    int64_t experts = 0;        // llama.expert_count (0 = dense FFN)
    int64_t expertsUsed = 0;    // llama.expert_used_count
    bool tiedOutput = false;    // output.weight absent: logits use token_embd

    int64_t qDim() const { return heads * headDim; }
    int64_t kvDim() const { return kvHeads * headDim; }
};

struct LlamaLayer {
    TensorView attnNorm;  // [dim] F32
    TensorView wq;        // [qDim, dim]    ne {dim, qDim}
    TensorView wk;        // [kvDim, dim]
    TensorView wv;        // [kvDim, dim]
    TensorView wo;        // [dim, qDim]
    TensorView ffnNorm;   // [dim] F32
    TensorView ffnGate;   // dense: [ffnDim, dim]
    TensorView ffnUp;     // dense: [ffnDim, dim]
    TensorView ffnDown;   // dense: [dim, ffnDim]
    TensorView gateInp;   // MoE router: [experts, dim]
    TensorView gateExps;  // MoE: [experts, ffnDim, dim]  ne {dim, ffnDim, experts}
    TensorView upExps;    // MoE: [experts, ffnDim, dim]
    TensorView downExps;  // MoE: [experts, dim, ffnDim]  ne {ffnDim, dim, experts}
};

class LlamaModel {
  public:
    // CorruptModel/UnsupportedModel naming the key or tensor that is missing or wrong.
    static Result<std::shared_ptr<LlamaModel>> load(std::shared_ptr<WeightStore> store);

    const LlamaConfig& config() const { return m_config; }
    const WeightStore& store() const { return *m_store; }
    const TensorView& tokenEmbedding() const { return m_tokenEmbd; }
    const TensorView& outputNorm() const { return m_outputNorm; }
    const TensorView& output() const { return m_output; }
    const std::vector<LlamaLayer>& layers() const { return m_layers; }
    uint64_t parameterCount() const { return m_params; }

  private:
    std::shared_ptr<WeightStore> m_store;
    LlamaConfig m_config;
    TensorView m_tokenEmbd;   // [vocab, dim]
    TensorView m_outputNorm;  // [dim]
    TensorView m_output;      // [vocab, dim] (token_embd when tied)
    std::vector<LlamaLayer> m_layers;
    uint64_t m_params = 0;
};

struct SessionOptions {
    int64_t maxContext = 2048;  // KV cache positions (clamped to the model's context length)
    int64_t maxBatch = 512;     // tokens per forward() call
    bool allLogits = false;     // keep logits of every token of a batch (tests), not only the last
    CpuBackendOptions cpu;      // threads, kernel path
};

class LlamaSession {
  public:
    static Result<std::unique_ptr<LlamaSession>> create(std::shared_ptr<const LlamaModel> model,
                                                        const SessionOptions& options);

    // Runs n tokens at positions position()..position()+n-1 (n <= maxBatch, in chunks by
    // the caller), appends them to the KV cache and leaves logits for the last token (or
    // all n when allLogits). InvalidArgument for a bad token id, n, or a full context;
    // Cancelled when `cancel` becomes true between layers.
    Status forward(const int32_t* tokens, int64_t n, const std::atomic<bool>* cancel = nullptr);

    // Logits of the last forward()'s token i (i < n when allLogits, else only the last).
    const float* logits(int64_t i = -1) const;
    int64_t vocab() const { return m_model->config().vocab; }
    int64_t position() const { return m_pos; }
    int64_t maxContext() const { return m_maxContext; }
    int64_t maxBatch() const { return m_options.maxBatch; }
    void reset() { m_pos = 0; }  // forget the KV cache contents
    const LlamaModel& model() const { return *m_model; }
    Backend& backend() { return *m_backend; }
    // Experts chosen for each token of the last forward(), [n][layers][expertsUsed] (MoE only).
    const std::vector<int32_t>& expertChoices() const { return m_expertIds; }

  private:
    LlamaSession() = default;
    void attentionBlock(const LlamaLayer& L, int64_t layer, int64_t n);
    void denseFfn(const LlamaLayer& L, int64_t n);
    void moeFfn(const LlamaLayer& L, int64_t layer, int64_t n);

    std::shared_ptr<const LlamaModel> m_model;
    std::unique_ptr<Backend> m_backend;
    SessionOptions m_options;
    int64_t m_maxContext = 0;
    int64_t m_pos = 0;
    int64_t m_lastN = 0;
    // KV cache: [layers][maxContext][kvDim] each.
    std::vector<float> m_kCache, m_vCache;
    // Activations, [maxBatch][...] each.
    std::vector<float> m_x, m_xn, m_q, m_attn, m_tmp, m_gate, m_up, m_logits;
    // MoE: router logits, routes, gathered rows, expert outputs.
    std::vector<float> m_routerLogits, m_routeWeights, m_gathered, m_expertOut;
    std::vector<int32_t> m_routes, m_offsets, m_order, m_expertIds;
};

}  // namespace consilium::inference
