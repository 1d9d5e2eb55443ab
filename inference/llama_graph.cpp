#include "inference/llama_graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace consilium::inference {
namespace {

constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxLayers = 1024;

Error corrupt(const std::string& path, const std::string& what) {
    return makeError(ErrorCode::CorruptModel, path + ": " + what);
}

}  // namespace

Result<std::shared_ptr<LlamaModel>> LlamaModel::load(std::shared_ptr<WeightStore> store) {
    const GgufFile& f = store->file();
    const std::string& path = store->path();
    auto arch = f.getString("general.architecture", "");
    if (!arch) return arch.error();
    if (arch.value() != "llama") {
        return makeError(ErrorCode::UnsupportedModel, path + ": architecture '" + arch.value() +
                                                          "' is not handled by the llama graph");
    }
    auto model = std::shared_ptr<LlamaModel>(new LlamaModel());
    model->m_store = store;
    LlamaConfig& c = model->m_config;

#define CONSILIUM_REQUIRE_INT(field, key) \
    {                                     \
        auto v_ = f.requireInt(key);      \
        if (!v_) return v_.error();       \
        c.field = v_.value();             \
    }
#define CONSILIUM_OPTIONAL_INT(field, key, def) \
    {                                           \
        auto v_ = f.getInt(key, def);           \
        if (!v_) return v_.error();             \
        c.field = v_.value();                   \
    }
    CONSILIUM_REQUIRE_INT(dim, "llama.embedding_length");
    CONSILIUM_REQUIRE_INT(layers, "llama.block_count");
    CONSILIUM_REQUIRE_INT(ffnDim, "llama.feed_forward_length");
    CONSILIUM_REQUIRE_INT(heads, "llama.attention.head_count");
    CONSILIUM_OPTIONAL_INT(contextLength, "llama.context_length", 2048);
    CONSILIUM_OPTIONAL_INT(kvHeads, "llama.attention.head_count_kv", c.heads);
    CONSILIUM_OPTIONAL_INT(experts, "llama.expert_count", 0);
    CONSILIUM_OPTIONAL_INT(expertsUsed, "llama.expert_used_count", 0);
    if (c.dim <= 0 || c.dim > kMaxDim || c.heads <= 0 || c.heads > c.dim || c.layers <= 0 ||
        c.layers > kMaxLayers || c.ffnDim <= 0 || c.ffnDim > 16 * kMaxDim) {
        return corrupt(path, "implausible llama hyper-parameters (embedding_length " +
                                 std::to_string(c.dim) + ", head_count " + std::to_string(c.heads) +
                                 ", block_count " + std::to_string(c.layers) + ")");
    }
    CONSILIUM_OPTIONAL_INT(headDim, "llama.attention.key_length", c.dim / c.heads);
    CONSILIUM_OPTIONAL_INT(ropeDims, "llama.rope.dimension_count", c.headDim);
#undef CONSILIUM_REQUIRE_INT
#undef CONSILIUM_OPTIONAL_INT
    auto base = f.getFloat("llama.rope.freq_base", 10000.0);
    auto eps = f.getFloat("llama.attention.layer_norm_rms_epsilon", 1e-5);
    if (!base) return base.error();
    if (!eps) return eps.error();
    c.ropeBase = float(base.value());
    c.rmsEps = float(eps.value());
    if (c.kvHeads <= 0 || c.heads % c.kvHeads != 0) {
        return corrupt(path, "head_count " + std::to_string(c.heads) +
                                 " is not a multiple of head_count_kv " +
                                 std::to_string(c.kvHeads));
    }
    if (c.headDim <= 0 || c.headDim > 1024 || c.ropeDims <= 0 || c.ropeDims > c.headDim ||
        c.ropeDims % 2 != 0) {
        return corrupt(path, "bad head size " + std::to_string(c.headDim) + " / rope dimensions " +
                                 std::to_string(c.ropeDims));
    }
    if (c.experts < 0 || c.experts > 256 ||
        (c.experts > 0 && (c.expertsUsed <= 0 || c.expertsUsed > c.experts))) {
        return corrupt(path, "bad expert_count " + std::to_string(c.experts) +
                                 " / expert_used_count " + std::to_string(c.expertsUsed));
    }
    if (c.contextLength <= 0) c.contextLength = 2048;

    const GgufTensorInfo* embd = f.findTensor("token_embd.weight");
    if (!embd || embd->ne.size() != 2)
        return corrupt(path, "missing or malformed tensor 'token_embd.weight'");
    c.vocab = embd->ne[1];

    auto take = [&](TensorView* out, Result<TensorView> r) -> Status {
        if (!r) return r.error();
        *out = std::move(r.value());
        if (out->valid()) {
            int64_t e = 1;
            for (int i = 0; i < out->dims; ++i)
                e *= out->shape[size_t(i)];
            model->m_params += uint64_t(e);
        }
        return Status::success();
    };
#define CONSILIUM_TAKE(dst, expr)    \
    {                                \
        Status s_ = take(dst, expr); \
        if (!s_) return s_.error();  \
    }
    CONSILIUM_TAKE(&model->m_tokenEmbd, store->get("token_embd.weight", {c.dim, c.vocab}));
    CONSILIUM_TAKE(&model->m_outputNorm, store->getF32("output_norm.weight", {c.dim}));
    CONSILIUM_TAKE(&model->m_output, store->getOptional("output.weight", {c.dim, c.vocab}));
    if (!model->m_output.valid()) {
        model->m_output = model->m_tokenEmbd;
        c.tiedOutput = true;
    }
    model->m_layers.resize(size_t(c.layers));
    for (int64_t i = 0; i < c.layers; ++i) {
        LlamaLayer& L = model->m_layers[size_t(i)];
        const std::string p = "blk." + std::to_string(i) + ".";
        CONSILIUM_TAKE(&L.attnNorm, store->getF32(p + "attn_norm.weight", {c.dim}));
        CONSILIUM_TAKE(&L.wq, store->get(p + "attn_q.weight", {c.dim, c.qDim()}));
        CONSILIUM_TAKE(&L.wk, store->get(p + "attn_k.weight", {c.dim, c.kvDim()}));
        CONSILIUM_TAKE(&L.wv, store->get(p + "attn_v.weight", {c.dim, c.kvDim()}));
        CONSILIUM_TAKE(&L.wo, store->get(p + "attn_output.weight", {c.qDim(), c.dim}));
        CONSILIUM_TAKE(&L.ffnNorm, store->getF32(p + "ffn_norm.weight", {c.dim}));
        if (c.experts == 0) {
            CONSILIUM_TAKE(&L.ffnGate, store->get(p + "ffn_gate.weight", {c.dim, c.ffnDim}));
            CONSILIUM_TAKE(&L.ffnUp, store->get(p + "ffn_up.weight", {c.dim, c.ffnDim}));
            CONSILIUM_TAKE(&L.ffnDown, store->get(p + "ffn_down.weight", {c.ffnDim, c.dim}));
        } else {
            CONSILIUM_TAKE(&L.gateInp, store->get(p + "ffn_gate_inp.weight", {c.dim, c.experts}));
            CONSILIUM_TAKE(&L.gateExps,
                           store->get(p + "ffn_gate_exps.weight", {c.dim, c.ffnDim, c.experts}));
            CONSILIUM_TAKE(&L.upExps,
                           store->get(p + "ffn_up_exps.weight", {c.dim, c.ffnDim, c.experts}));
            CONSILIUM_TAKE(&L.downExps,
                           store->get(p + "ffn_down_exps.weight", {c.ffnDim, c.dim, c.experts}));
        }
    }
#undef CONSILIUM_TAKE
    return model;
}

Result<std::unique_ptr<LlamaSession>> LlamaSession::create(std::shared_ptr<const LlamaModel> model,
                                                           const SessionOptions& options) {
    if (options.maxBatch <= 0 || options.maxContext <= 0) {
        return makeError(ErrorCode::InvalidArgument, "session needs maxBatch and maxContext > 0");
    }
    const LlamaConfig& c = model->config();
    std::unique_ptr<LlamaSession> s(new LlamaSession());
    s->m_model = model;
    s->m_options = options;
    s->m_maxContext = std::min(options.maxContext, c.contextLength);
    s->m_options.maxBatch = std::min(options.maxBatch, s->m_maxContext);
    const int64_t B = s->m_options.maxBatch;
    CpuBackendOptions cpu = options.cpu;
    cpu.maxAttentionKeys = s->m_maxContext;
    s->m_backend = makeCpuBackend(cpu);
    try {
        const size_t kv = size_t(c.layers * s->m_maxContext * c.kvDim());
        s->m_kCache.assign(kv, 0.0f);
        s->m_vCache.assign(kv, 0.0f);
        s->m_x.resize(size_t(B * c.dim));
        s->m_xn.resize(size_t(B * c.dim));
        s->m_q.resize(size_t(B * c.qDim()));
        s->m_attn.resize(size_t(B * c.qDim()));
        s->m_tmp.resize(size_t(B * c.dim));
        s->m_gate.resize(size_t(B * c.ffnDim));
        s->m_up.resize(size_t(B * c.ffnDim));
        s->m_logits.resize(size_t((options.allLogits ? B : 1) * c.vocab));
        if (c.experts > 0) {
            s->m_routerLogits.resize(size_t(B * c.experts));
            s->m_routeWeights.resize(size_t(B * c.expertsUsed));
            s->m_routes.resize(size_t(B * c.expertsUsed));
            s->m_offsets.resize(size_t(c.experts + 1));
            s->m_order.resize(size_t(B * c.expertsUsed));
            s->m_gathered.resize(size_t(B * c.dim));
            s->m_expertOut.resize(size_t(B * c.dim));
            s->m_expertIds.resize(size_t(B * c.layers * c.expertsUsed));
        }
    } catch (const std::bad_alloc&) {
        return makeError(
            ErrorCode::OutOfMemory,
            "not enough memory for a session of " + std::to_string(s->m_maxContext) + " positions");
    }
    const int64_t maxCols = std::max({c.dim, c.ffnDim, c.qDim()});
    s->m_backend->reserve(
        s->m_backend->scratchBytes(DType::Q8_0, maxCols, B),
        kernels::attentionScratchFloats({c.heads, c.kvHeads, c.headDim}, s->m_maxContext));
    return s;
}

const float* LlamaSession::logits(int64_t i) const {
    if (!m_options.allLogits || i < 0) {
        return m_options.allLogits ? m_logits.data() + size_t((m_lastN - 1) * vocab())
                                   : m_logits.data();
    }
    return m_logits.data() + size_t(i * vocab());
}

void LlamaSession::attentionBlock(const LlamaLayer& L, int64_t layer, int64_t n) {
    const LlamaConfig& c = m_model->config();
    Backend& be = *m_backend;
    float* kLayer = m_kCache.data() + size_t(layer * m_maxContext * c.kvDim());
    float* vLayer = m_vCache.data() + size_t(layer * m_maxContext * c.kvDim());
    float* kNew = kLayer + size_t(m_pos * c.kvDim());
    float* vNew = vLayer + size_t(m_pos * c.kvDim());

    be.rmsNorm(m_x.data(), L.attnNorm.f32(), m_xn.data(), n, c.dim, c.rmsEps);
    be.matmul(L.wq.matrix(), m_xn.data(), n, c.dim, m_q.data(), c.qDim());
    be.matmul(L.wk.matrix(), m_xn.data(), n, c.dim, kNew, c.kvDim());
    be.matmul(L.wv.matrix(), m_xn.data(), n, c.dim, vNew, c.kvDim());
    be.rope(m_q.data(), n, c.qDim(), c.heads, c.headDim, c.ropeDims, m_pos, c.ropeBase,
            kernels::RopeStyle::Normal);
    be.rope(kNew, n, c.kvDim(), c.kvHeads, c.headDim, c.ropeDims, m_pos, c.ropeBase,
            kernels::RopeStyle::Normal);
    kernels::AttentionParams p;
    p.nHeads = c.heads;
    p.nKvHeads = c.kvHeads;
    p.headDim = c.headDim;
    p.scale = 1.0f / std::sqrt(float(c.headDim));
    p.causal = true;
    be.attention(m_q.data(), n, m_pos, kLayer, vLayer, m_pos + n, p, m_attn.data(), nullptr);
    be.matmul(L.wo.matrix(), m_attn.data(), n, c.qDim(), m_tmp.data(), c.dim);
    be.add(m_x.data(), m_tmp.data(), n * c.dim);
}

void LlamaSession::denseFfn(const LlamaLayer& L, int64_t n) {
    const LlamaConfig& c = m_model->config();
    Backend& be = *m_backend;
    be.rmsNorm(m_x.data(), L.ffnNorm.f32(), m_xn.data(), n, c.dim, c.rmsEps);
    be.matmul(L.ffnGate.matrix(), m_xn.data(), n, c.dim, m_gate.data(), c.ffnDim);
    be.matmul(L.ffnUp.matrix(), m_xn.data(), n, c.dim, m_up.data(), c.ffnDim);
    be.swiglu(m_gate.data(), m_up.data(), m_gate.data(), n, c.ffnDim);
    be.matmul(L.ffnDown.matrix(), m_gate.data(), n, c.ffnDim, m_tmp.data(), c.dim);
    be.add(m_x.data(), m_tmp.data(), n * c.dim);
}

// Mixtral sparse MoE block (llama.cpp build_moe_ffn with softmax gating, weights
// renormalised over the chosen experts): tokens are grouped per expert so each expert's
// three matrices are read once per batch.
void LlamaSession::moeFfn(const LlamaLayer& L, int64_t layer, int64_t n) {
    const LlamaConfig& c = m_model->config();
    Backend& be = *m_backend;
    const int k = int(c.expertsUsed);
    be.rmsNorm(m_x.data(), L.ffnNorm.f32(), m_xn.data(), n, c.dim, c.rmsEps);
    be.matmul(L.gateInp.matrix(), m_xn.data(), n, c.dim, m_routerLogits.data(), c.experts);
    for (int64_t t = 0; t < n; ++t) {
        kernels::moeRoute(m_routerLogits.data() + t * c.experts, int(c.experts), k,
                          m_routes.data() + t * k, m_routeWeights.data() + t * k);
        for (int j = 0; j < k; ++j) {
            m_expertIds[size_t((t * c.layers + layer) * k + j)] = m_routes[size_t(t * k + j)];
        }
    }
    kernels::moeDispatch(m_routes.data(), int(n), k, int(c.experts), m_offsets.data(),
                         m_order.data());
    std::fill(m_tmp.begin(), m_tmp.begin() + n * c.dim, 0.0f);
    for (int64_t e = 0; e < c.experts; ++e) {
        const int begin = m_offsets[size_t(e)], end = m_offsets[size_t(e + 1)];
        const int64_t m = end - begin;
        if (m == 0) continue;
        for (int i = 0; i < m; ++i) {
            const int64_t token = m_order[size_t(begin + i)] / k;
            std::memcpy(m_gathered.data() + i * c.dim, m_xn.data() + token * c.dim,
                        size_t(c.dim) * sizeof(float));
        }
        be.matmul(L.gateExps.matrix(e), m_gathered.data(), m, c.dim, m_gate.data(), c.ffnDim);
        be.matmul(L.upExps.matrix(e), m_gathered.data(), m, c.dim, m_up.data(), c.ffnDim);
        be.swiglu(m_gate.data(), m_up.data(), m_gate.data(), m, c.ffnDim);
        be.matmul(L.downExps.matrix(e), m_gate.data(), m, c.ffnDim, m_expertOut.data(), c.dim);
        for (int i = 0; i < m; ++i) {
            const int slot = m_order[size_t(begin + i)];
            const float w = m_routeWeights[size_t(slot)];
            float* dst = m_tmp.data() + (slot / k) * c.dim;
            const float* src = m_expertOut.data() + i * c.dim;
            for (int64_t d = 0; d < c.dim; ++d)
                dst[d] += w * src[d];
        }
    }
    be.add(m_x.data(), m_tmp.data(), n * c.dim);
}

Status LlamaSession::forward(const int32_t* tokens, int64_t n, const std::atomic<bool>* cancel) {
    const LlamaConfig& c = m_model->config();
    if (n <= 0 || n > m_options.maxBatch) {
        return makeError(ErrorCode::InvalidArgument, "forward: batch of " + std::to_string(n) +
                                                         " tokens, this session takes 1.." +
                                                         std::to_string(m_options.maxBatch));
    }
    if (m_pos + n > m_maxContext) {
        return makeError(ErrorCode::InvalidArgument, "context full: " + std::to_string(m_pos + n) +
                                                         " > " + std::to_string(m_maxContext) +
                                                         " positions");
    }
    for (int64_t i = 0; i < n; ++i) {
        if (tokens[i] < 0 || tokens[i] >= c.vocab) {
            return makeError(ErrorCode::InvalidArgument, "token id " + std::to_string(tokens[i]) +
                                                             " outside the vocabulary of " +
                                                             std::to_string(c.vocab));
        }
    }
    Backend& be = *m_backend;
    be.embed(m_model->tokenEmbedding().matrix(), tokens, n, m_x.data());
    for (int64_t l = 0; l < c.layers; ++l) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            return makeError(ErrorCode::Cancelled, "forward pass cancelled");
        }
        const LlamaLayer& L = m_model->layers()[size_t(l)];
        attentionBlock(L, l, n);
        if (c.experts > 0) {
            moeFfn(L, l, n);
        } else {
            denseFfn(L, n);
        }
    }
    const int64_t first = m_options.allLogits ? 0 : n - 1;
    const int64_t rows = n - first;
    be.rmsNorm(m_x.data() + first * c.dim, m_model->outputNorm().f32(), m_xn.data(), rows, c.dim,
               c.rmsEps);
    be.matmul(m_model->output().matrix(), m_xn.data(), rows, c.dim, m_logits.data(), c.vocab);
    m_pos += n;
    m_lastN = n;
    return Status::success();
}

}  // namespace consilium::inference
