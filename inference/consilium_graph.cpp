#include "inference/consilium_graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "kernels/cpu/ops.h"

namespace consilium::inference {
namespace {

constexpr int64_t kDetCols = 13;
constexpr int64_t kLungRadsClasses = 5;
constexpr int64_t kConvKernel = 3;
constexpr int64_t kConv3Taps = 27;  // a 3x3x3 CT convolution (section 5)
// Positions per block of the pool a graph keeps for its own decode().
constexpr int64_t kOwnPoolBlockTokens = 16;
constexpr const char* kModalityNames[4] = {"image", "record", "voice", "question"};

Error corrupt(const std::string& path, const std::string& what) {
    return makeError(ErrorCode::CorruptModel, path + ": " + what);
}
Error unsupported(const std::string& path, const std::string& what) {
    return makeError(ErrorCode::UnsupportedModel, path + ": " + what);
}

kernels::MatrixView f32Matrix(const TensorView& t, int64_t rows, int64_t cols) {
    return {DType::F32, t.data, rows, cols, size_t(cols) * sizeof(float)};
}

void addRows(float* y, const float* b, int64_t n, int64_t dim, int64_t stride) {
    for (int64_t i = 0; i < n; ++i) {
        float* r = y + i * stride;
        for (int64_t j = 0; j < dim; ++j)
            r[j] += b[j];
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Loading (docs/MODEL.md sections 2 and 11)

std::string ConsiliumModel::precision() const {
    if (ct.empty()) return "F32";
    return kernels::dtypeName(ct[0].attn.q.w.type);
}

Result<std::shared_ptr<ConsiliumModel>> ConsiliumModel::load(std::shared_ptr<WeightStore> store) {
    const GgufFile& f = store->file();
    const std::string& path = store->path();
    auto arch = f.getString("general.architecture", "");
    if (!arch) return arch.error();
    if (arch.value() != "consilium") {
        return unsupported(
            path, "architecture '" + arch.value() + "' is not handled by the consilium graph");
    }
    auto version = f.requireInt("consilium.contract_version");
    if (!version) return version.error();
    if (version.value() != 1) {
        return unsupported(path, "consilium.contract_version " + std::to_string(version.value()) +
                                     ", this engine implements version 1");
    }
    auto model = std::shared_ptr<ConsiliumModel>(new ConsiliumModel());
    model->m_store = store;
    ConsiliumConfig& c = model->m_c;

    Status st = Status::success();
    auto intKey = [&](const char* key, int64_t* out) {
        if (!st) return;
        auto v = f.requireInt(key);
        if (!v) {
            st = v.error();
            return;
        }
        *out = v.value();
    };
    auto floatKey = [&](const char* key, float* out) {
        if (!st) return;
        auto v = f.requireFloat(key);
        if (!v) {
            st = v.error();
            return;
        }
        *out = float(v.value());
    };
    auto intArray = [&](const char* key, std::vector<int64_t>* out, size_t wantCount) {
        if (!st) return;
        const GgufValue* v = f.find(key);
        if (!v || v->type != GgufType::Array || v->arrayType == GgufType::String ||
            (wantCount && v->numbers.size() != wantCount)) {
            st = corrupt(
                path, std::string("missing or malformed array key '") + key + "'" +
                          (wantCount ? " (want " + std::to_string(wantCount) + " entries)" : ""));
            return;
        }
        out->clear();
        for (double d : v->numbers) {
            if (d < 1 || d > (1 << 20) || d != std::floor(d)) {
                st = corrupt(path, std::string("array key '") + key + "' holds " +
                                       std::to_string(d) + ", expected a positive integer");
                return;
            }
            out->push_back(int64_t(d));
        }
    };
    auto stringArray = [&](const char* key, std::vector<std::string>* out, size_t wantCount) {
        if (!st) return;
        const GgufValue* v = f.find(key);
        if (!v || v->type != GgufType::Array || v->arrayType != GgufType::String ||
            v->strings.size() != wantCount) {
            st = corrupt(path, std::string("missing or malformed string array '") + key + "'");
            return;
        }
        *out = v->strings;
    };
    intKey("consilium.embedding_length", &c.dim);
    intKey("consilium.head_dim", &c.headDim);
    floatKey("consilium.layer_norm_epsilon", &c.eps);
    floatKey("consilium.rope.freq_base", &c.ropeBase);
    intKey("consilium.vocab_size", &c.vocab);
    std::vector<int64_t> grid, patch, fusionHeads;
    intArray("consilium.ct.grid", &grid, 3);
    intArray("consilium.ct.patch", &patch, 3);
    floatKey("consilium.ct.window_center", &c.windowCenter);
    floatKey("consilium.ct.window_width", &c.windowWidth);
    int64_t ctLayers = 0, auLayers = 0, txLayers = 0, decLayers = 0;
    intKey("consilium.ct.block_count", &ctLayers);
    intKey("consilium.ct.feed_forward_length", &c.ctFfn);
    if (f.find("consilium.ct.stem_patch") || f.find("consilium.ct.stem_channels")) {
        std::vector<int64_t> stem;
        intArray("consilium.ct.stem_patch", &stem, 3);
        intKey("consilium.ct.stem_channels", &c.stemChannels);
        if (st) {
            for (size_t i = 0; i < 3; ++i)
                c.stem[i] = stem[i];
            if (c.stemChannels < 1 || c.stemChannels > 4096) {
                st = corrupt(path, "consilium.ct.stem_channels " + std::to_string(c.stemChannels) +
                                       " outside 1..4096");
            }
        }
    }
    if (f.find("consilium.ct.conv_channels") || f.find("consilium.ct.conv_strides")) {
        std::vector<int64_t> strides;
        intArray("consilium.ct.conv_channels", &c.convChannels, 0);
        if (st && (c.convChannels.size() > 16 || c.hasStem())) {
            st = unsupported(path, c.hasStem() ? "a file with both the CT stem and CT convolution "
                                                 "layers (section 5 allows one of them)"
                                               : "more than 16 CT convolution layers");
        }
        intArray("consilium.ct.conv_strides", &strides, 3 * c.convChannels.size());
        for (size_t i = 0; st && i < c.convChannels.size(); ++i) {
            c.convStrides.push_back({strides[3 * i], strides[3 * i + 1], strides[3 * i + 2]});
            for (int64_t v : c.convStrides.back())
                if (v != 1 && v != 2) {
                    st = corrupt(path, "consilium.ct.conv_strides holds " + std::to_string(v) +
                                           ", each stride must be 1 or 2");
                }
            if (st && c.convChannels[i] > 4096) {
                st = corrupt(path, "consilium.ct.conv_channels " +
                                       std::to_string(c.convChannels[i]) + " outside 1..4096");
            }
        }
    }
    intKey("consilium.audio.sample_rate", &c.sampleRate);
    intKey("consilium.audio.n_fft", &c.nFft);
    intKey("consilium.audio.hop_length", &c.hopLength);
    intKey("consilium.audio.n_mels", &c.nMels);
    intKey("consilium.audio.max_frames", &c.maxFrames);
    intKey("consilium.audio.block_count", &auLayers);
    intKey("consilium.audio.feed_forward_length", &c.audioFfn);
    intKey("consilium.text.block_count", &txLayers);
    intKey("consilium.text.feed_forward_length", &c.textFfn);
    intKey("consilium.text.sliding_window", &c.slidingWindow);
    intKey("consilium.text.max_tokens", &c.textMaxTokens);
    intKey("consilium.fusion.feed_forward_length", &c.fusionFfn);
    intKey("consilium.decoder.block_count", &decLayers);
    intKey("consilium.decoder.expert_count", &c.experts);
    intKey("consilium.decoder.expert_used_count", &c.expertsUsed);
    intKey("consilium.decoder.expert_feed_forward_length", &c.expertFfn);
    intKey("consilium.decoder.max_tokens", &c.decMaxTokens);
    floatKey("consilium.det.threshold", &c.detThreshold);
    intKey("consilium.det.max_candidates", &c.detMaxCandidates);
    if (f.find("consilium.det.dense_feed_forward_length")) {
        intKey("consilium.det.dense_feed_forward_length", &c.detDenseFfn);
    }
    auto optionalBool = [&](const char* key, bool* out) {  // absent = false
        const GgufValue* v = f.find(key);
        if (!st || !v) return;
        if (v->type != GgufType::Bool) {
            st = corrupt(path, std::string("key '") + key + "' is not a bool");
            return;
        }
        *out = v->u != 0;
    };
    optionalBool("consilium.det.dense_map_only", &c.detDenseMapOnly);
    optionalBool("consilium.lung_rads.from_findings", &c.lungRadsFromFindings);
    optionalBool("consilium.det.lobe_plane", &c.detLobePlane);
    if (!st) return st.error();
    const int64_t kMaxLayers = 256;
    if (ctLayers < 1 || auLayers < 1 || txLayers < 1 || decLayers < 1 || ctLayers > kMaxLayers ||
        auLayers > kMaxLayers || txLayers > kMaxLayers || decLayers > kMaxLayers) {
        return corrupt(path, "implausible block counts");
    }
    intArray("consilium.ct.head_count", &c.ctHeads, size_t(ctLayers));
    intArray("consilium.audio.head_count", &c.audioHeads, size_t(auLayers));
    intArray("consilium.text.head_count", &c.textHeads, size_t(txLayers));
    intArray("consilium.fusion.head_count", &fusionHeads, 4);
    intArray("consilium.decoder.head_count", &c.decHeads, size_t(decLayers));
    intArray("consilium.decoder.cross_head_count", &c.decCrossHeads, size_t(decLayers));
    stringArray("consilium.det.types", &c.detTypes, 3);
    stringArray("consilium.det.lobes", &c.detLobes, 5);
    stringArray("consilium.lung_rads.categories", &c.lungRadsCategories, 5);
    if (!st) return st.error();
    for (size_t i = 0; i < 3; ++i) {
        c.grid[i] = grid[i];
        c.patch[i] = patch[i];
    }
    for (size_t i = 0; i < 4; ++i)
        c.fusionHeads[i] = fusionHeads[i];
    {
        int64_t ids[4] = {};
        const char* keys[4] = {"consilium.tokenizer.unk_id", "consilium.tokenizer.bos_id",
                               "consilium.tokenizer.eos_id", "consilium.tokenizer.pad_id"};
        for (int i = 0; i < 4; ++i)
            intKey(keys[i], &ids[i]);
        if (!st) return st.error();
        c.unkId = int32_t(ids[0]);
        c.bosId = int32_t(ids[1]);
        c.eosId = int32_t(ids[2]);
        c.padId = int32_t(ids[3]);
    }
    const GgufValue* spm = f.find("consilium.tokenizer.spm_model");
    if (!spm || spm->type != GgufType::Array || spm->arrayType != GgufType::U8) {
        return corrupt(path, "missing key 'consilium.tokenizer.spm_model' (u8 array)");
    }
    model->m_spm = spm->bytes;  // the reader keeps u8 arrays as raw bytes

    // Limits of section 2.
    auto m32 = [](int64_t v) { return v > 0 && v % 32 == 0; };
    const int64_t kMaxDim = 1 << 15;
    if (!m32(c.dim) || c.dim > kMaxDim || c.headDim <= 0 || c.headDim % 2 != 0 ||
        c.headDim > 1024 || c.vocab <= 4 || c.vocab > (1 << 22)) {
        return unsupported(path, "embedding_length " + std::to_string(c.dim) + " / head_dim " +
                                     std::to_string(c.headDim) + " / vocab_size " +
                                     std::to_string(c.vocab) + " outside the limits");
    }
    for (size_t i = 0; i < 3; ++i) {
        if (c.grid[i] > 4096 || c.grid[i] % c.patch[i] != 0) {
            return unsupported(path, "ct.grid is not divisible by ct.patch");
        }
        if (c.hasStem() && c.patch[i] % c.stem[i] != 0) {
            return unsupported(path, "ct.patch is not divisible by ct.stem_patch");
        }
        if (c.hasConv() && c.patch[i] % c.convStride(int(i)) != 0) {
            return unsupported(path,
                               "ct.patch is not divisible by the total stride of the CT "
                               "convolution layers");
        }
    }
    if (!m32(c.patchIn()) || c.patchIn() > 16 * kMaxDim || !m32(c.ctFfn) || !m32(c.audioFfn) ||
        !m32(c.textFfn) || !m32(c.fusionFfn) || !m32(c.expertFfn) || c.ctFfn > 16 * kMaxDim ||
        c.audioFfn > 16 * kMaxDim || c.textFfn > 16 * kMaxDim || c.fusionFfn > 16 * kMaxDim ||
        c.expertFfn > 16 * kMaxDim || c.nImg() > (1 << 16)) {
        return unsupported(path,
                           "feed-forward widths and the patch embedding's input must be multiples "
                           "of 32");
    }
    if (f.find("consilium.det.dense_feed_forward_length") &&
        (!c.hasConv() || c.detDenseFfn < 1 || c.detDenseFfn > 16 * kMaxDim)) {
        return unsupported(path, c.hasConv() ? "det.dense_feed_forward_length " +
                                                   std::to_string(c.detDenseFfn) + " outside 1.." +
                                                   std::to_string(16 * kMaxDim)
                                             : "a dense detection head without the CT "
                                               "convolution layers");
    }
    if (c.detLobePlane && !c.detDenseMapOnly) {
        return unsupported(path, "det.lobe_plane without det.dense_map_only");
    }
    if ((c.detDenseMapOnly || c.lungRadsFromFindings) && !c.hasDenseDet()) {
        return unsupported(path,
                           "det.dense_map_only or lung_rads.from_findings without a dense "
                           "detection head");
    }
    if (c.lungRadsFromFindings &&
        (c.lungRadsCategories != std::vector<std::string>{"1", "2", "3", "4A", "4B"} ||
         c.detTypes != std::vector<std::string>{"solid", "part-solid", "ground-glass"})) {
        return unsupported(path,
                           "Lung-RADS from findings needs the categories 1, 2, 3, 4A, 4B and the "
                           "types solid, part-solid, ground-glass, in this order");
    }
    if (c.expertsUsed != 2 || c.experts < 2 || c.experts > 256) {
        return unsupported(path, "expert_used_count must be 2 (got " +
                                     std::to_string(c.expertsUsed) + " of " +
                                     std::to_string(c.experts) + " experts)");
    }
    if (c.nMels != 80 || c.nFft != 400 || c.maxFrames < 1 || c.maxFrames > (1 << 20) ||
        c.slidingWindow < 1 || c.textMaxTokens < 1 || c.textMaxTokens > (1 << 20) ||
        c.decMaxTokens < 2 || c.decMaxTokens > 65536 || c.detMaxCandidates < 0) {
        return unsupported(path, "audio, text or decoder limits outside what the engine handles");
    }
    auto headsOk = [&](const std::vector<int64_t>& hs) {
        for (int64_t h : hs)
            if (!m32(h * c.headDim)) return false;
        return true;
    };
    if (!headsOk(c.ctHeads) || !headsOk(c.audioHeads) || !headsOk(c.textHeads) ||
        !headsOk(fusionHeads) || !headsOk(c.decHeads) || !headsOk(c.decCrossHeads)) {
        return unsupported(path, "every head_count * head_dim must be a multiple of 32");
    }

    // Tensors.
    std::set<std::string> taken;
    const int64_t d = c.dim;
    auto qTensor = [&](const std::string& name, std::vector<int64_t> ne, TensorView* out) {
        if (!st) return;
        auto v = store->get(name, ne);
        if (!v) {
            st = v.error();
            return;
        }
        const DType t = v->type;
        if (t != DType::F32 && t != DType::F16 && t != DType::BF16 && t != DType::Q8_0 &&
            t != DType::Q4_0) {
            st = unsupported(path, "tensor '" + name + "' has an unsupported type");
            return;
        }
        *out = v.value();
        taken.insert(name);
    };
    auto fTensor = [&](const std::string& name, std::vector<int64_t> ne, TensorView* out) {
        if (!st) return;
        auto v = store->getF32(name, ne);
        if (!v) {
            st = v.error();
            return;
        }
        *out = v.value();
        taken.insert(name);
    };
    auto normT = [&](const std::string& p, NormWeights* n) {
        fTensor(p + ".weight", {d}, &n->w);
        fTensor(p + ".bias", {d}, &n->b);
    };
    auto qLinear = [&](const std::string& p, int64_t out, int64_t in, LinearWeights* l) {
        qTensor(p + ".weight", {in, out}, &l->w);
        fTensor(p + ".bias", {out}, &l->b);
    };
    auto fLinear = [&](const std::string& p, int64_t out, int64_t in, LinearWeights* l) {
        fTensor(p + ".weight", {in, out}, &l->w);
        fTensor(p + ".bias", {out}, &l->b);
    };
    auto attention = [&](const std::string& p, int64_t heads, ConsiliumAttention* a,
                         const char* prefix) {
        const int64_t hh = heads * c.headDim;
        a->heads = heads;
        const std::string x = p + "." + prefix;
        qLinear(x + "_q", hh, d, &a->q);
        qLinear(x + "_k", hh, d, &a->k);
        qLinear(x + "_v", hh, d, &a->v);
        qLinear(x + "_out", d, hh, &a->o);
    };
    auto encoder = [&](const std::string& enc, const std::vector<int64_t>& heads, int64_t ff,
                       std::vector<ConsiliumEncoderBlock>* blocks, NormWeights* outNorm) {
        blocks->resize(heads.size());
        for (size_t l = 0; l < heads.size(); ++l) {
            ConsiliumEncoderBlock& b = (*blocks)[l];
            const std::string p = enc + ".blk." + std::to_string(l);
            normT(p + ".attn_norm", &b.attnNorm);
            attention(p, heads[l], &b.attn, "attn");
            normT(p + ".ffn_norm", &b.ffnNorm);
            qLinear(p + ".ffn_up", ff, d, &b.up);
            qLinear(p + ".ffn_down", d, ff, &b.down);
        }
        normT(enc + ".out_norm", outNorm);
    };
    ConsiliumModel& m = *model;
    qTensor("token_embd.weight", {d, c.vocab}, &m.tokenEmbd);
    if (c.hasStem()) fLinear("ct.stem", c.stemChannels, c.stemElems(), &m.ctStem);
    m.ctConv.resize(c.convChannels.size());
    for (size_t i = 0; i < c.convChannels.size(); ++i) {
        const int64_t cin = i ? c.convChannels[i - 1] : 1;
        fLinear("ct.conv." + std::to_string(i), c.convChannels[i], cin * kConv3Taps, &m.ctConv[i]);
    }
    qLinear("ct.patch_embd", d, c.patchIn(), &m.ctPatch);
    fTensor("ct.pos_embd", {d, c.nImg()}, &m.ctPos);
    encoder("ct", c.ctHeads, c.ctFfn, &m.ct, &m.ctOut);
    fTensor("audio.mel_filters", {c.nFft / 2 + 1, c.nMels}, &m.melFilters);
    fTensor("audio.conv1.weight", {kConvKernel, c.nMels, d}, &m.conv1.w);
    fTensor("audio.conv1.bias", {d}, &m.conv1.b);
    fTensor("audio.conv2.weight", {kConvKernel, d, d}, &m.conv2.w);
    fTensor("audio.conv2.bias", {d}, &m.conv2.b);
    encoder("audio", c.audioHeads, c.audioFfn, &m.audio, &m.audioOut);
    encoder("text", c.textHeads, c.textFfn, &m.text, &m.textOut);
    fTensor("fusion.type_embd", {d, 4}, &m.typeEmbd);
    normT("fusion.gate_norm", &m.gateNorm);
    fLinear("fusion.gate_up", d, d, &m.gateUp);
    fLinear("fusion.gate_out", 4, d, &m.gateOut);
    normT("fusion.q_norm", &m.qNorm);
    for (int i = 0; i < 4; ++i) {
        attention(std::string("fusion.") + kModalityNames[i], c.fusionHeads[size_t(i)],
                  &m.fusion[size_t(i)], "attn");
    }
    normT("fusion.ffn_norm", &m.fusionFfnNorm);
    qLinear("fusion.ffn_up", c.fusionFfn, d, &m.fusionUp);
    qLinear("fusion.ffn_down", d, c.fusionFfn, &m.fusionDown);
    normT("fusion.out_norm", &m.fusionOut);
    m.dec.resize(c.decHeads.size());
    for (size_t l = 0; l < m.dec.size(); ++l) {
        ConsiliumDecoderBlock& b = m.dec[l];
        const std::string p = "dec.blk." + std::to_string(l);
        normT(p + ".attn_norm", &b.attnNorm);
        normT(p + ".cross_norm", &b.crossNorm);
        normT(p + ".ffn_norm", &b.ffnNorm);
        attention(p, c.decHeads[l], &b.self, "attn");
        attention(p, c.decCrossHeads[l], &b.cross, "cross");
        fTensor(p + ".ffn_gate_inp.weight", {d, c.experts}, &b.router);
        qTensor(p + ".ffn_up_exps.weight", {d, c.expertFfn, c.experts}, &b.upExps);
        fTensor(p + ".ffn_up_exps.bias", {c.expertFfn, c.experts}, &b.upBias);
        qTensor(p + ".ffn_down_exps.weight", {c.expertFfn, d, c.experts}, &b.downExps);
        fTensor(p + ".ffn_down_exps.bias", {d, c.experts}, &b.downBias);
    }
    normT("dec.out_norm", &m.decOut);
    fLinear("det.up", d, d, &m.detUp);
    fLinear("det.out", kDetCols, d, &m.detOut);
    if (c.hasDenseDet()) {
        fLinear("det.dense.up", c.detDenseFfn, c.convChannels.back() + (c.detDenseMapOnly ? 0 : d),
                &m.detDenseUp);
        fLinear("det.dense.out", c.denseCols(), c.detDenseFfn, &m.detDenseOut);
    }
    fLinear("lung_rads.up", d, 2 * d, &m.lrUp);
    fLinear("lung_rads.out", kLungRadsClasses, d, &m.lrOut);
    if (!st) return st.error();
    for (const GgufTensorInfo& t : f.header().tensors) {
        if (!taken.count(t.name)) return corrupt(path, "unknown tensor '" + t.name + "'");
    }
    return model;
}

// ---------------------------------------------------------------------------------------
// Run state

Result<std::unique_ptr<ConsiliumGraph>> ConsiliumGraph::create(
    std::shared_ptr<const ConsiliumModel> model, const ConsiliumLimits& limitsIn,
    const CpuBackendOptions& cpuIn) {
    const ConsiliumConfig& c = model->config();
    ConsiliumLimits lim = limitsIn;
    lim.maxRecordTokens = std::clamp<int64_t>(lim.maxRecordTokens, 1, c.textMaxTokens);
    lim.maxQuestionTokens = std::clamp<int64_t>(lim.maxQuestionTokens, 1, c.textMaxTokens);
    lim.maxAudioFrames = std::clamp<int64_t>(lim.maxAudioFrames, 1, c.maxFrames);
    lim.maxAnswerTokens = lim.maxAnswerTokens <= 0
                              ? c.decMaxTokens
                              : std::min<int64_t>(lim.maxAnswerTokens, c.decMaxTokens);
    lim.textChunkTokens = std::clamp<int64_t>(lim.textChunkTokens, 1, c.textMaxTokens);
    const int64_t chunk = lim.textChunkTokens, keep = c.slidingWindow - 1;
    std::unique_ptr<ConsiliumGraph> g(new ConsiliumGraph());
    g->m_model = model;
    g->m_limits = lim;
    const int64_t d = c.dim, hd = c.headDim;
    const int64_t t1 = (lim.maxAudioFrames - 1) / 2 + 1;
    const int64_t nvMax = (t1 - 1) / 2 + 1;
    const int64_t nqMax = lim.maxQuestionTokens + nvMax;
    const int64_t rows =
        std::max({c.nImg(), std::min(lim.maxRecordTokens, chunk),
                  std::min(lim.maxQuestionTokens, chunk), t1, nqMax, lim.maxAnswerTokens});
    g->m_maxRows = rows;
    int64_t hMax = 1;
    for (const auto* hs : {&c.ctHeads, &c.audioHeads, &c.textHeads, &c.decHeads, &c.decCrossHeads})
        for (int64_t h : *hs)
            hMax = std::max(hMax, h);
    for (int64_t h : c.fusionHeads)
        hMax = std::max(hMax, h);
    const int64_t hh = hMax * hd;
    const int64_t ffMax = std::max({c.ctFfn, c.audioFfn, c.textFfn, c.fusionFfn, c.expertFfn, d});
    const int64_t colMax =
        std::max({c.nImg() * c.patchElems(), t1 * c.nMels * kConvKernel, nvMax * d * kConvKernel});
    const int64_t keysMax =
        std::max({c.nImg(), lim.maxRecordTokens, lim.maxQuestionTokens, nvMax, nqMax,
                  lim.maxAnswerTokens, std::min(lim.maxRecordTokens, chunk + keep)});
    int64_t hText = 1;
    for (int64_t h : c.textHeads)
        hText = std::max(hText, h);
    const int64_t L = int64_t(c.decHeads.size());
    const int64_t ropeRows =
        std::max({lim.maxRecordTokens, lim.maxQuestionTokens, lim.maxAnswerTokens});
    CpuBackendOptions cpu = cpuIn;
    cpu.maxAttentionKeys = keysMax;
    g->m_backend = makeCpuBackend(cpu);
    try {
        g->m_hImg.resize(size_t(c.nImg() * d));
        g->m_hRec.resize(size_t(lim.maxRecordTokens * d));
        g->m_hVoice.resize(size_t(nvMax * d));
        g->m_hQ.resize(size_t(lim.maxQuestionTokens * d));
        for (auto* v : {&g->m_x, &g->m_xn, &g->m_tmp})
            v->resize(size_t(rows * std::max(d, 2 * d)));
        for (auto* v : {&g->m_q, &g->m_o})
            v->resize(size_t(rows * hh));
        for (auto* v : {&g->m_k, &g->m_v})
            v->resize(size_t(std::max(rows, keysMax) * hh));
        for (auto* v : {&g->m_kTail, &g->m_vTail})
            v->resize(size_t(int64_t(c.textHeads.size()) * keep * hText * hd));
        g->m_ff.resize(size_t(rows * ffMax));
        g->m_col.resize(size_t(colMax));
        if (c.hasStem()) {
            g->m_stemRows.resize(size_t(c.nImg() * c.patchElems()));
            g->m_stemOut.resize(size_t(c.nImg() * c.patchIn()));
        }
        if (c.hasConv()) {
            int64_t dims[3] = {c.grid[0], c.grid[1], c.grid[2]}, mapMax = 0;
            for (size_t i = 0; i < c.convChannels.size(); ++i) {
                for (int a = 0; a < 3; ++a)
                    dims[a] = kernels::conv3x3x3OutSize(dims[a], c.convStrides[i][size_t(a)]);
                mapMax = std::max(mapMax, dims[0] * dims[1] * dims[2] * c.convChannels[i]);
            }
            // The patch rows (N_img·patchIn floats, the last map's size) go to the buffer
            // the last layer did not write.
            g->m_convA.resize(size_t(mapMax));
            g->m_convB.resize(size_t(mapMax));
        }
        // Attention probabilities: fusion query chunks [rows, h, N_m] within a budget of
        // lim.probsBudgetFloats (at least one row), and decoder cross [n, c, N_q].
        g->m_probs.resize(size_t(std::max({std::min(nqMax * hMax * keysMax, lim.probsBudgetFloats),
                                           hMax * keysMax, lim.maxAnswerTokens * hMax * nqMax})));
        g->m_mem.resize(size_t(nqMax * d));
        g->m_avgImg.resize(size_t(nqMax * c.nImg()));
        g->m_headImg.resize(size_t(c.fusionHeads[kModImage] * nqMax * c.nImg()));
        g->m_crossK.resize(size_t(L * nqMax * hh));
        g->m_crossV.resize(size_t(L * nqMax * hh));
        g->m_newK.resize(size_t(rows * hh));
        g->m_newV.resize(size_t(rows * hh));
        g->m_batchLogits.resize(size_t(rows * c.vocab));
        g->m_batchIds.resize(size_t(rows));
        g->m_rowStart.reserve(size_t(rows));
        g->m_router.resize(size_t(rows * c.experts));
        g->m_routes.resize(size_t(rows * 2));
        g->m_routeW.resize(size_t(rows * 2));
        g->m_offsets.resize(size_t(c.experts + 1));
        g->m_order.resize(size_t(rows * 2));
        g->m_gathered.resize(size_t(rows * 2 * d));
        g->m_expertHidden.resize(size_t(rows * 2 * c.expertFfn));
        g->m_expertOut.resize(size_t(rows * 2 * d));
        g->m_det.resize(size_t(c.nImg() * kDetCols));
        if (c.hasDenseDet()) {
            if (!c.detDenseMapOnly) g->m_denseHp.resize(size_t(c.nImg() * c.detDenseFfn));
            g->m_denseHid.resize(size_t(c.convCellCount() * c.detDenseFfn));
            g->m_dense.resize(size_t(c.convCellCount() * c.denseCols()));
        }
        g->m_lr.resize(size_t(kLungRadsClasses));
        // RoPE table (section 4): angles in double, cos/sin rounded to float32.
        const int64_t half = hd / 2;
        g->m_ropeCos.resize(size_t(ropeRows * half));
        g->m_ropeSin.resize(size_t(ropeRows * half));
        for (int64_t i = 0; i < half; ++i) {
            const double theta = std::pow(double(c.ropeBase), -2.0 * double(i) / double(hd));
            for (int64_t p = 0; p < ropeRows; ++p) {
                const double a = double(p) * theta;
                g->m_ropeCos[size_t(p * half + i)] = float(std::cos(a));
                g->m_ropeSin[size_t(p * half + i)] = float(std::sin(a));
            }
        }
    } catch (const std::bad_alloc&) {
        return makeError(
            ErrorCode::OutOfMemory,
            "not enough memory for the consilium activations (" + std::to_string(rows) + " rows)");
    }
    size_t scratch = 0;
    const int64_t cols =
        std::max({c.patchElems(), ffMax, hh, 2 * d, c.nMels * kConvKernel, d * kConvKernel});
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0})
        scratch = std::max(scratch, g->m_backend->scratchBytes(t, cols, rows));
    g->m_backend->reserve(scratch, hMax * keysMax);
    g->m_hhMax = hh;
    auto pool = g->createKvPool(
        (lim.maxAnswerTokens + kOwnPoolBlockTokens - 1) / kOwnPoolBlockTokens, kOwnPoolBlockTokens);
    if (!pool) return pool.error();
    g->m_ownPool = std::move(pool.value());
    return g;
}

void ConsiliumGraph::reset() {
    m_present = {};
    m_recIds = nullptr;
    m_nRec = m_nTq = m_nV = m_nq = 0;
    m_ownPool->release(&m_seq.blocks);
    m_seq.nq = m_seq.pos = 0;
    m_weights = {};
    m_gateLogits = {};
}

Status ConsiliumGraph::checkCancel() const {
    if (m_cancel && m_cancel->load(std::memory_order_relaxed)) {
        return makeError(ErrorCode::Cancelled, "consilium forward pass cancelled");
    }
    return Status::success();
}

void ConsiliumGraph::linear(const LinearWeights& l, const float* x, int64_t n, int64_t xStride,
                            float* y, int64_t yStride) {
    const kernels::MatrixView w = l.w.matrix();
    m_backend->matmul(w, x, n, xStride, y, yStride);
    if (l.b.valid()) addRows(y, l.b.f32(), n, w.rows, yStride);
}

void ConsiliumGraph::norm(const NormWeights& w, const float* x, float* y, int64_t n) {
    const ConsiliumConfig& c = m_model->config();
    m_backend->layerNorm(x, w.w.f32(), w.b.f32(), y, n, c.dim, c.eps);
}

// docs/MODEL.md section 4, multi-head attention. Leaves the projected output (before the
// residual scale) in m_tmp. With probabilities wanted, the query rows run in chunks that fit
// m_probs (rows are independent without a mask), so a long record needs no [N_q, h, N_rec]
// buffer; the tap sees the whole tensor only when one chunk holds every row.
void ConsiliumGraph::mha(const ConsiliumAttention& a, const float* xq, int64_t n, const float* y,
                         int64_t m, bool rope, bool causal, int64_t window, float* out, float scale,
                         float* headAvg, const std::string& probsTap, float* perHead) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t hh = a.heads * c.headDim;
    linear(a.q, xq, n, c.dim, m_q.data(), hh);
    linear(a.k, y, m, c.dim, m_k.data(), hh);
    linear(a.v, y, m, c.dim, m_v.data(), hh);
    if (rope) {
        m_backend->ropeTable(m_q.data(), n, hh, a.heads, c.headDim, m_ropeCos.data(),
                             m_ropeSin.data());
        m_backend->ropeTable(m_k.data(), m, hh, a.heads, c.headDim, m_ropeCos.data(),
                             m_ropeSin.data());
    }
    kernels::AttentionParams p;
    p.nHeads = p.nKvHeads = a.heads;
    p.headDim = c.headDim;
    p.scale = 1.0f / std::sqrt(float(c.headDim));
    p.causal = causal;
    p.window = window;
    const bool wantProbs = headAvg || (!probsTap.empty() && m_tap);
    if (!wantProbs) {
        m_backend->attention(m_q.data(), n, 0, m_k.data(), m_v.data(), m, p, m_o.data(), nullptr);
    } else {
        const int64_t perRow = a.heads * m;
        const int64_t room = std::min(int64_t(m_probs.size()), m_limits.probsBudgetFloats);
        const int64_t chunk = std::clamp<int64_t>(room / perRow, 1, n);
        for (int64_t r0 = 0; r0 < n; r0 += chunk) {
            const int64_t nc = std::min(chunk, n - r0);
            m_backend->attention(m_q.data() + r0 * hh, nc, r0, m_k.data(), m_v.data(), m, p,
                                 m_o.data() + r0 * hh, m_probs.data());
            if (chunk == n && !probsTap.empty()) tap(probsTap, m_probs.data(), {n, a.heads, m});
            if (perHead) {
                for (int64_t h = 0; h < a.heads; ++h)
                    for (int64_t i = 0; i < nc; ++i)
                        std::memcpy(perHead + (h * n + r0 + i) * m,
                                    m_probs.data() + (i * a.heads + h) * m,
                                    size_t(m) * sizeof(float));
            }
            if (!headAvg) continue;
            const float inv = 1.0f / float(a.heads);
            for (int64_t i = 0; i < nc; ++i)
                for (int64_t j = 0; j < m; ++j) {
                    float acc = 0.f;
                    for (int64_t h = 0; h < a.heads; ++h)
                        acc += m_probs[size_t((i * a.heads + h) * m + j)];
                    headAvg[(r0 + i) * m + j] = acc * inv;
                }
        }
    }
    linear(a.o, m_o.data(), n, hh, m_tmp.data(), c.dim);
    const int64_t count = n * c.dim;
    if (scale == 1.0f) {
        m_backend->add(out, m_tmp.data(), count);
    } else {
        for (int64_t i = 0; i < count; ++i)
            out[i] += scale * m_tmp[size_t(i)];
    }
}

// Pre-LN encoder blocks (section 4): h = x + MHA(LN(x)); y = h + FFN(LN(h)).
Status ConsiliumGraph::encoderBlocks(const std::vector<ConsiliumEncoderBlock>& blocks, float* x,
                                     int64_t n, bool text, const std::string& tapPrefix) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t d = c.dim;
    for (size_t l = 0; l < blocks.size(); ++l) {
        Status s = checkCancel();
        if (!s) return s;
        const ConsiliumEncoderBlock& b = blocks[l];
        norm(b.attnNorm, x, m_xn.data(), n);
        if (text) {
            textAttention(b.attn, int64_t(l), m_xn.data(), n, m_textPos0, m_textTail, x);
        } else {
            mha(b.attn, m_xn.data(), n, m_xn.data(), n, false, false, 0, x, 1.0f, nullptr, {});
        }
        norm(b.ffnNorm, x, m_xn.data(), n);
        const int64_t ff = b.up.w.shape[1];
        linear(b.up, m_xn.data(), n, d, m_ff.data(), ff);
        m_backend->gelu(m_ff.data(), m_ff.data(), n * ff);
        linear(b.down, m_ff.data(), n, ff, m_tmp.data(), d);
        m_backend->add(x, m_tmp.data(), n * d);
        if (!tapPrefix.empty()) tap(tapPrefix + ".blk." + std::to_string(l) + ".out", x, {n, d});
    }
    return Status::success();
}

// Section 7's attention, one chunk at a time: query i (position pos0 + i) sees keys at
// positions j <= pos0 + i with pos0 + i - j < Wn. Keys are kept after RoPE, which is
// relative, so the kept rows of the previous chunk line up with the new ones.
void ConsiliumGraph::textAttention(const ConsiliumAttention& a, int64_t layer, const float* xn,
                                   int64_t n, int64_t pos0, int64_t tailLen, float* out) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t d = c.dim, hd = c.headDim, hh = a.heads * hd, keep = c.slidingWindow - 1;
    const int64_t layerFloats = int64_t(m_kTail.size()) / int64_t(m_model->text.size());
    float* kt = m_kTail.data() + layer * layerFloats;
    float* vt = m_vTail.data() + layer * layerFloats;
    std::memcpy(m_k.data(), kt, size_t(tailLen * hh) * sizeof(float));
    std::memcpy(m_v.data(), vt, size_t(tailLen * hh) * sizeof(float));
    float* k = m_k.data() + tailLen * hh;
    float* v = m_v.data() + tailLen * hh;
    linear(a.q, xn, n, d, m_q.data(), hh);
    linear(a.k, xn, n, d, k, hh);
    linear(a.v, xn, n, d, v, hh);
    const float* cs = m_ropeCos.data() + pos0 * (hd / 2);
    const float* sn = m_ropeSin.data() + pos0 * (hd / 2);
    m_backend->ropeTable(m_q.data(), n, hh, a.heads, hd, cs, sn);
    m_backend->ropeTable(k, n, hh, a.heads, hd, cs, sn);
    kernels::AttentionParams p;
    p.nHeads = p.nKvHeads = a.heads;
    p.headDim = hd;
    p.scale = 1.0f / std::sqrt(float(hd));
    p.causal = true;
    p.window = c.slidingWindow;
    m_backend->attention(m_q.data(), n, tailLen, m_k.data(), m_v.data(), tailLen + n, p, m_o.data(),
                         nullptr);
    const int64_t kept = std::min(keep, tailLen + n);
    const int64_t from = tailLen + n - kept;
    std::memcpy(kt, m_k.data() + from * hh, size_t(kept * hh) * sizeof(float));
    std::memcpy(vt, m_v.data() + from * hh, size_t(kept * hh) * sizeof(float));
    linear(a.o, m_o.data(), n, hh, m_tmp.data(), d);
    m_backend->add(out, m_tmp.data(), n * d);
}

// Section 5, step 1b: the 3x3x3 convolution layers on the whole grid (Backend::conv3x3x3,
// channels last, [D', H', W', C]), each followed by gelu. Returns the last map; `dims`
// receives its D', H', W'.
const float* ConsiliumGraph::convLayers(const float* ct, int64_t dims[3]) {
    const ConsiliumConfig& c = m_model->config();
    dims[0] = c.grid[0];
    dims[1] = c.grid[1];
    dims[2] = c.grid[2];
    const float* in = ct;
    int64_t cin = 1;
    for (size_t i = 0; i < c.convChannels.size(); ++i) {
        const int64_t cout = c.convChannels[i];
        const int64_t* stride = c.convStrides[i].data();
        float* out = (i % 2 == 0) ? m_convA.data() : m_convB.data();
        const LinearWeights& l = m_model->ctConv[i];
        m_backend->conv3x3x3(in, dims[0], dims[1], dims[2], cin, l.w.f32(), l.b.f32(), cout, stride,
                             out);
        for (int a = 0; a < 3; ++a)
            dims[a] = kernels::conv3x3x3OutSize(dims[a], stride[a]);
        m_backend->gelu(out, out, dims[0] * dims[1] * dims[2] * cout);
        cin = cout;
        tap("ct.conv." + std::to_string(i), out, {dims[0], dims[1], dims[2], cout});
        in = out;
    }
    return in;
}

// Section 5.
Status ConsiliumGraph::encodeImage(const float* ct) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t P = c.patchElems(), nImg = c.nImg();
    const int64_t pd = c.patch[0], ph = c.patch[1], pw = c.patch[2];
    const int64_t ny = c.ny(), nx = c.nx(), H = c.grid[1], W = c.grid[2];
    m_present[kModImage] = false;
    if (c.hasConv()) {
        // Patch p of the last map [D', H', W', C]: element ((dz·ph' + dy)·pw' + dx)·C + ch,
        // so each (dz, dy) is one contiguous run of pw'·C floats.
        int64_t dims[3];
        const float* map = convLayers(ct, dims);
        const int64_t C = c.convChannels.back(), qd = c.convPatch(0), qh = c.convPatch(1),
                      qw = c.convPatch(2), Hm = dims[1], Wm = dims[2];
        float* rows = (c.convChannels.size() % 2 == 1) ? m_convB.data() : m_convA.data();
        for (int64_t p = 0; p < nImg; ++p) {
            const int64_t pz = p / (ny * nx), py = (p / nx) % ny, px = p % nx;
            float* row = rows + p * c.patchIn();
            for (int64_t dz = 0; dz < qd; ++dz)
                for (int64_t dy = 0; dy < qh; ++dy)
                    std::memcpy(row + (dz * qh + dy) * qw * C,
                                map + (((pz * qd + dz) * Hm + py * qh + dy) * Wm + px * qw) * C,
                                size_t(qw * C) * sizeof(float));
        }
        tap("ct.patches", rows, {nImg, c.patchIn()});
        Status s = embedImage(rows);
        if (s && c.hasDenseDet()) denseHead(map);
        return s;
    }
    for (int64_t p = 0; p < nImg; ++p) {
        const int64_t pz = p / (ny * nx), py = (p / nx) % ny, px = p % nx;
        float* row = m_col.data() + p * P;
        for (int64_t dz = 0; dz < pd; ++dz)
            for (int64_t dy = 0; dy < ph; ++dy)
                std::memcpy(row + (dz * ph + dy) * pw,
                            ct + ((pz * pd + dz) * H + py * ph + dy) * W + px * pw,
                            size_t(pw) * sizeof(float));
    }
    tap("ct.patches", m_col.data(), {nImg, P});
    const float* embedIn = m_col.data();
    if (c.hasStem()) {
        // Sub-patch s = (az·my + ay)·mx + ax of patch p is row p·n_sub + s, element
        // (sz·sh + sy)·sw + sx; gelu(stem) of all rows is [N_img, n_sub·C] as it lies.
        const int64_t sd = c.stem[0], sh = c.stem[1], sw = c.stem[2], S = c.stemElems();
        const int64_t my = ph / sh, mx = pw / sw, nSub = c.subPatches();
        for (int64_t p = 0; p < nImg; ++p) {
            const float* patch = m_col.data() + p * P;
            for (int64_t s = 0; s < nSub; ++s) {
                const int64_t az = s / (my * mx), ay = (s / mx) % my, ax = s % mx;
                float* row = m_stemRows.data() + (p * nSub + s) * S;
                for (int64_t sz = 0; sz < sd; ++sz)
                    for (int64_t sy = 0; sy < sh; ++sy)
                        std::memcpy(row + (sz * sh + sy) * sw,
                                    patch + ((az * sd + sz) * ph + ay * sh + sy) * pw + ax * sw,
                                    size_t(sw) * sizeof(float));
            }
        }
        linear(m_model->ctStem, m_stemRows.data(), nImg * nSub, S, m_stemOut.data(),
               c.stemChannels);
        m_backend->gelu(m_stemOut.data(), m_stemOut.data(), nImg * c.patchIn());
        tap("ct.stem", m_stemOut.data(), {nImg, c.patchIn()});
        embedIn = m_stemOut.data();
    }
    return embedImage(embedIn);
}

// Section 5, steps 2-4, from the rows [N_img, patchIn] the patch embedding reads.
Status ConsiliumGraph::embedImage(const float* embedIn) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t d = c.dim, nImg = c.nImg();
    float* x = m_x.data();
    linear(m_model->ctPatch, embedIn, nImg, c.patchIn(), x, d);
    m_backend->add(x, m_model->ctPos.f32(), nImg * d);
    tap("ct.embd", x, {nImg, d});
    Status s = encoderBlocks(m_model->ct, x, nImg, false, "ct");
    if (!s) return s;
    norm(m_model->ctOut, x, m_hImg.data(), nImg);
    tap("ct.out", m_hImg.data(), {nImg, d});
    m_present[kModImage] = true;
    return Status::success();
}

// Section 6. Each convolution runs as im2col + matmul: column c*3 + k of row t holds
// x[c, 2t + k - 1] (zero outside), so the weight [d, C, 3] is the matrix [d, C*3].
Status ConsiliumGraph::encodeVoice(const float* mel, int64_t frames) {
    const ConsiliumConfig& c = m_model->config();
    if (frames < 1 || frames > m_limits.maxAudioFrames) {
        return makeError(ErrorCode::InvalidArgument, "audio of " + std::to_string(frames) +
                                                         " log-mel frames, the model takes 1.." +
                                                         std::to_string(m_limits.maxAudioFrames));
    }
    m_present[kModVoice] = false;
    const int64_t d = c.dim, C = c.nMels, K = kConvKernel;
    const int64_t t1 = (frames - 1) / 2 + 1, nv = (t1 - 1) / 2 + 1;
    float* col = m_col.data();
    for (int64_t t = 0; t < t1; ++t)
        for (int64_t ch = 0; ch < C; ++ch)
            for (int64_t k = 0; k < K; ++k) {
                const int64_t src = 2 * t + k - 1;
                col[(t * C + ch) * K + k] = src >= 0 && src < frames ? mel[ch * frames + src] : 0.f;
            }
    float* x = m_x.data();
    m_backend->matmul(f32Matrix(m_model->conv1.w, d, C * K), col, t1, C * K, x, d);
    addRows(x, m_model->conv1.b.f32(), t1, d, d);
    m_backend->gelu(x, x, t1 * d);
    tap("audio.conv1", x, {t1, d});
    for (int64_t t = 0; t < nv; ++t)
        for (int64_t ch = 0; ch < d; ++ch)
            for (int64_t k = 0; k < K; ++k) {
                const int64_t src = 2 * t + k - 1;
                col[(t * d + ch) * K + k] = src >= 0 && src < t1 ? x[src * d + ch] : 0.f;
            }
    m_backend->matmul(f32Matrix(m_model->conv2.w, d, d * K), col, nv, d * K, x, d);
    addRows(x, m_model->conv2.b.f32(), nv, d, d);
    m_backend->gelu(x, x, nv * d);
    tap("audio.conv2", x, {nv, d});
    // Sinusoidal positions (section 4), double precision rounded to float32.
    const int64_t half = d / 2;
    for (int64_t i = 0; i < half; ++i) {
        const double w = std::exp(-std::log(10000.0) * double(i) / double(half));
        for (int64_t t = 0; t < nv; ++t) {
            x[t * d + i] += float(std::sin(double(t) * w));
            x[t * d + half + i] += float(std::cos(double(t) * w));
        }
    }
    tap("audio.embd", x, {nv, d});
    Status s = encoderBlocks(m_model->audio, x, nv, false, "audio");
    if (!s) return s;
    norm(m_model->audioOut, x, m_hVoice.data(), nv);
    tap("audio.out", m_hVoice.data(), {nv, d});
    m_nV = nv;
    m_present[kModVoice] = true;
    return Status::success();
}

// Section 7.
Status ConsiliumGraph::checkIds(const int32_t* ids, int64_t n, const std::string& name) const {
    const ConsiliumConfig& c = m_model->config();
    for (int64_t i = 0; i < n; ++i) {
        if (ids[i] < 0 || ids[i] >= c.vocab) {
            return makeError(ErrorCode::InvalidArgument,
                             name + " token id " + std::to_string(ids[i]) +
                                 " outside the vocabulary of " + std::to_string(c.vocab));
        }
    }
    return Status::success();
}

// Rows s0.. of a text (at most textChunkTokens), attending to the keys kept from the rows
// before; the named taps see whole tensors only (a text of one chunk).
Status ConsiliumGraph::textChunk(const int32_t* ids, int64_t n, int64_t s0, float* out,
                                 const std::string& name) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t keep = c.slidingWindow - 1;
    const int64_t nc = std::min(m_limits.textChunkTokens, n - s0);
    const std::string prefix = nc == n ? name : std::string();
    if (s0 == 0) m_textTail = 0;
    m_textPos0 = s0;
    float* x = m_x.data();
    m_backend->embed(m_model->tokenEmbd.matrix(), ids + s0, nc, x);
    if (!prefix.empty()) tap(name + ".embd", x, {n, c.dim});
    Status s = encoderBlocks(m_model->text, x, nc, true, prefix);
    if (!s) return s;
    norm(m_model->textOut, x, out + s0 * c.dim, nc);
    m_textTail = std::min(keep, m_textTail + nc);
    if (s0 + nc == n) tap(name + ".out", out, {n, c.dim});
    return Status::success();
}

Status ConsiliumGraph::beginRecord(const int32_t* ids, int64_t n) {
    m_recIds = nullptr;
    if (n < 1 || n > m_limits.maxRecordTokens) {
        return makeError(ErrorCode::InvalidArgument, "record of " + std::to_string(n) +
                                                         " tokens, this session takes 1.." +
                                                         std::to_string(m_limits.maxRecordTokens));
    }
    Status s = checkIds(ids, n, "record");
    if (!s) return s;
    m_present[kModRecord] = false;
    m_recIds = ids;
    m_recN = n;
    m_recDone = 0;
    return Status::success();
}

Status ConsiliumGraph::continueRecord(bool* done) {
    *done = false;
    if (!m_recIds) {
        return makeError(ErrorCode::InvalidArgument,
                         "continueRecord without a record begun (or another text was encoded "
                         "since)");
    }
    Status s = textChunk(m_recIds, m_recN, m_recDone, m_hRec.data(), "record");
    if (!s) {
        m_recIds = nullptr;
        return s;
    }
    m_recDone = std::min(m_recN, m_recDone + m_limits.textChunkTokens);
    if (m_recDone == m_recN) {
        m_recIds = nullptr;
        m_nRec = m_recN;
        m_present[kModRecord] = true;
        *done = true;
    }
    return Status::success();
}

Status ConsiliumGraph::encodeRecord(const int32_t* ids, int64_t n) {
    Status s = beginRecord(ids, n);
    for (bool done = false; s && !done;)
        s = continueRecord(&done);
    return s;
}

Status ConsiliumGraph::encodeQuestion(const int32_t* ids, int64_t n) {
    if (n < 1 || n > m_limits.maxQuestionTokens) {
        return makeError(ErrorCode::InvalidArgument,
                         "question of " + std::to_string(n) + " tokens, this session takes 1.." +
                             std::to_string(m_limits.maxQuestionTokens));
    }
    Status s = checkIds(ids, n, "question");
    if (!s) return s;
    m_present[kModQuestion] = false;
    m_recIds = nullptr;  // the text keys kept for a record in progress are overwritten
    for (int64_t s0 = 0; s0 < n; s0 += m_limits.textChunkTokens) {
        s = textChunk(ids, n, s0, m_hQ.data(), "question");
        if (!s) return s;
    }
    m_nTq = n;
    m_present[kModQuestion] = true;
    return Status::success();
}

const float* ConsiliumGraph::encoded(int m) const {
    if (m < 0 || m >= kConsiliumModalities || !m_present[size_t(m)]) return nullptr;
    const std::vector<float>* rows[4] = {&m_hImg, &m_hRec, &m_hVoice, &m_hQ};
    return rows[m]->data();
}

int64_t ConsiliumGraph::encodedRows(int m) const {
    if (!encoded(m)) return 0;
    const int64_t counts[4] = {m_model->config().nImg(), m_nRec, m_nV, m_nTq};
    return counts[m];
}

Status ConsiliumGraph::setEncoded(int m, const float* rows, int64_t n) {
    if (m < 0 || m >= kConsiliumModalities) {
        return makeError(ErrorCode::InvalidArgument, "no modality " + std::to_string(m));
    }
    const int64_t d = m_model->config().dim;
    std::vector<float>* dst[4] = {&m_hImg, &m_hRec, &m_hVoice, &m_hQ};
    const int64_t cap = int64_t(dst[m]->size()) / d;
    if (n < 1 || n > cap || (m == kModImage && n != cap)) {
        return makeError(ErrorCode::InvalidArgument,
                         std::string(kModalityNames[m]) + " encoding of " + std::to_string(n) +
                             " rows, this graph takes " + (m == kModImage ? "" : "1..") +
                             std::to_string(cap));
    }
    std::memcpy(dst[m]->data(), rows, size_t(n * d) * sizeof(float));
    int64_t* count[4] = {nullptr, &m_nRec, &m_nV, &m_nTq};
    if (count[m]) *count[m] = n;
    m_present[size_t(m)] = true;
    return Status::success();
}

// Section 8.
Status ConsiliumGraph::fuse() {
    const ConsiliumConfig& c = m_model->config();
    const int64_t d = c.dim;
    if (!m_present[kModQuestion] && !m_present[kModVoice]) {
        return makeError(ErrorCode::InvalidArgument,
                         "fusion needs a question: give a typed question or audio");
    }
    Status s = checkCancel();
    if (!s) return s;
    m_ownPool->release(&m_seq.blocks);
    m_seq.nq = m_seq.pos = 0;
    // 1. Query rows: question rows, then voice rows, each plus its type embedding.
    const int64_t nq = (m_present[kModQuestion] ? m_nTq : 0) + (m_present[kModVoice] ? m_nV : 0);
    m_nq = nq;
    float* q = m_x.data();
    int64_t row = 0;
    const float* te = m_model->typeEmbd.f32();
    auto addQuery = [&](const float* h, int64_t n, int type) {
        for (int64_t i = 0; i < n; ++i, ++row)
            for (int64_t j = 0; j < d; ++j)
                q[row * d + j] = h[i * d + j] + te[type * d + j];
    };
    if (m_present[kModQuestion]) addQuery(m_hQ.data(), m_nTq, kModQuestion);
    if (m_present[kModVoice]) addQuery(m_hVoice.data(), m_nV, kModVoice);
    tap("fusion.query", q, {nq, d});
    // 2. Gate.
    float* u = m_tmp.data();
    for (int64_t j = 0; j < d; ++j) {
        double sum = 0.0;
        for (int64_t i = 0; i < nq; ++i)
            sum += q[i * d + j];
        u[j] = float(sum / double(nq));
    }
    float* un = m_xn.data();
    norm(m_model->gateNorm, u, un, 1);
    float* r = m_ff.data();
    linear(m_model->gateUp, un, 1, d, r, d);
    m_backend->gelu(r, r, d);
    float logits[4];
    linear(m_model->gateOut, r, 1, d, logits, 4);
    tap("fusion.gate_logits", logits, {4});
    float mx = -std::numeric_limits<float>::infinity();
    for (int m = 0; m < 4; ++m) {
        m_gateLogits[size_t(m)] = logits[m];
        if (m_present[size_t(m)]) mx = std::max(mx, logits[m]);
    }
    float sum = 0.f;
    for (int m = 0; m < 4; ++m) {
        m_weights[size_t(m)] = m_present[size_t(m)] ? std::exp(logits[m] - mx) : 0.f;
        sum += m_weights[size_t(m)];
    }
    for (float& w : m_weights)
        w /= sum;
    tap("fusion.weights", m_weights.data(), {4});
    // 3. Cross-modal attention from LN(Q) to each present modality; 4. F = Q + sum g_m Z_m.
    float* xq = m_xn.data();
    norm(m_model->qNorm, q, xq, nq);
    const float* keys[4] = {m_hImg.data(), m_hRec.data(), m_hVoice.data(), m_hQ.data()};
    const int64_t counts[4] = {c.nImg(), m_nRec, m_nV, m_nTq};
    for (int m = 0; m < 4; ++m) {
        if (!m_present[size_t(m)]) continue;
        const ConsiliumAttention& a = m_model->fusion[size_t(m)];
        const int64_t nm = counts[m];
        if (m == kModRecord) {
            // Sized by this question's rows, not the worst case: [1262, 32768] would be 165 MiB.
            // The vector only grows, so repeated questions allocate nothing.
            try {
                m_avgRec.resize(size_t(nq * nm));
            } catch (const std::bad_alloc&) {
                return makeError(ErrorCode::OutOfMemory,
                                 "not enough memory for the record attention of " +
                                     std::to_string(nm) + " tokens");
            }
        }
        float* avg = m == kModImage ? m_avgImg.data() : m == kModRecord ? m_avgRec.data() : nullptr;
        mha(a, xq, nq, keys[m], nm, false, false, 0, q, m_weights[size_t(m)], avg,
            std::string("fusion.attn.") + kModalityNames[m],
            m == kModImage ? m_headImg.data() : nullptr);
        tap(std::string("fusion.z.") + kModalityNames[m], m_tmp.data(), {nq, d});
    }
    // F2 = F + FFN(LN(F)); Mem = LN(F2).
    norm(m_model->fusionFfnNorm, q, m_xn.data(), nq);
    const int64_t ff = c.fusionFfn;
    linear(m_model->fusionUp, m_xn.data(), nq, d, m_ff.data(), ff);
    m_backend->gelu(m_ff.data(), m_ff.data(), nq * ff);
    linear(m_model->fusionDown, m_ff.data(), nq, ff, m_tmp.data(), d);
    m_backend->add(q, m_tmp.data(), nq * d);
    norm(m_model->fusionOut, q, m_mem.data(), nq);
    tap("fusion.out", m_mem.data(), {nq, d});
    // Cross-attention K/V of the memory, once per query (section 9).
    const int64_t nqMax = int64_t(m_mem.size()) / d;
    const int64_t hhMax = int64_t(m_crossK.size()) / (int64_t(m_model->dec.size()) * nqMax);
    for (size_t l = 0; l < m_model->dec.size(); ++l) {
        const ConsiliumAttention& a = m_model->dec[l].cross;
        const int64_t hh = a.heads * c.headDim;
        linear(a.k, m_mem.data(), nq, d, m_crossK.data() + int64_t(l) * nqMax * hhMax, hh);
        linear(a.v, m_mem.data(), nq, d, m_crossV.data() + int64_t(l) * nqMax * hhMax, hh);
    }
    // decode() exports the graph's own answer state on first use: a batcher exports into its
    // own sequences instead and never pays for this one.
    return Status::success();
}

Status ConsiliumGraph::exportSequence(ConsiliumSequence* seq, bool allLogits) const {
    const ConsiliumConfig& c = m_model->config();
    if (m_nq == 0) return makeError(ErrorCode::InvalidArgument, "exportSequence before fuse");
    const int64_t L = int64_t(m_model->dec.size()), maxAns = m_limits.maxAnswerTokens;
    const int64_t nqMax = int64_t(m_mem.size()) / c.dim;
    if (!seq->blocks.empty()) {
        return makeError(ErrorCode::InvalidArgument,
                         "exportSequence into a state that still holds KV blocks");
    }
    try {
        seq->nq = m_nq;
        seq->pos = 0;
        seq->maxTokens = maxAns;
        seq->crossStride = m_hhMax;
        seq->crossK.resize(size_t(L * m_nq * m_hhMax));
        seq->crossV.resize(size_t(L * m_nq * m_hhMax));
        for (int64_t l = 0; l < L; ++l) {
            const size_t from = size_t(l * nqMax * m_hhMax), to = size_t(l * m_nq * m_hhMax);
            const size_t count = size_t(m_nq * m_hhMax);
            std::copy_n(m_crossK.begin() + long(from), count, seq->crossK.begin() + long(to));
            std::copy_n(m_crossV.begin() + long(from), count, seq->crossV.begin() + long(to));
        }
        seq->decCross.assign(size_t(maxAns * m_nq), 0.0f);
        seq->decCrossLayers.assign(size_t(maxAns * L * m_nq), 0.0f);
        seq->expertIds.assign(size_t(maxAns * L * 2), 0);
        seq->expertW.assign(size_t(maxAns * L * 2), 0.0f);
        seq->allLogits = allLogits;
        seq->logits.assign(size_t((allLogits ? maxAns : 1) * c.vocab), 0.0f);
    } catch (const std::bad_alloc&) {
        return makeError(ErrorCode::OutOfMemory, "not enough memory for an answer's state");
    }
    return Status::success();
}

Result<std::unique_ptr<KvBlockPool>> ConsiliumGraph::createKvPool(int64_t blocks,
                                                                  int64_t blockTokens) const {
    return KvBlockPool::create(blocks, blockTokens, int64_t(m_model->dec.size()), m_hhMax);
}

// Section 9, MoE: top-2 of the router logits (ties to the lower index), w1 = 1/(1 +
// exp(rho_e2 - rho_e1)), w2 = 1 - w1; tokens grouped per expert so each expert's matrices
// are read once per call.
void ConsiliumGraph::moe(const ConsiliumDecoderBlock& b, int64_t layer, const float* z, int64_t n,
                         float* out) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t d = c.dim, E = c.experts, ff = c.expertFfn;
    m_backend->matmul(f32Matrix(b.router, E, d), z, n, d, m_router.data(), E);
    tap("dec.blk." + std::to_string(layer) + ".router_logits", m_router.data(), {n, E});
    for (int64_t t = 0; t < n; ++t) {
        const float* rho = m_router.data() + t * E;
        int e1 = 0;
        for (int e = 1; e < E; ++e)
            if (rho[e] > rho[e1]) e1 = e;
        int e2 = e1 == 0 ? 1 : 0;
        for (int e = 0; e < E; ++e)
            if (e != e1 && rho[e] > rho[e2]) e2 = e;
        const float w1 = 1.0f / (1.0f + std::exp(rho[e2] - rho[e1]));
        const float w2 = 1.0f - w1;
        m_routes[size_t(t * 2)] = e1;
        m_routes[size_t(t * 2 + 1)] = e2;
        m_routeW[size_t(t * 2)] = w1;
        m_routeW[size_t(t * 2 + 1)] = w2;
    }
    kernels::moeDispatch(m_routes.data(), int(n), 2, int(E), m_offsets.data(), m_order.data());
    std::fill(out, out + n * d, 0.0f);
    for (int64_t e = 0; e < E; ++e) {
        const int begin = m_offsets[size_t(e)], end = m_offsets[size_t(e + 1)];
        const int64_t m = end - begin;
        if (m == 0) continue;
        for (int i = 0; i < m; ++i) {
            const int64_t token = m_order[size_t(begin + i)] / 2;
            std::memcpy(m_gathered.data() + i * d, z + token * d, size_t(d) * sizeof(float));
        }
        m_backend->matmul(b.upExps.matrix(e), m_gathered.data(), m, d, m_expertHidden.data(), ff);
        addRows(m_expertHidden.data(), b.upBias.f32() + e * ff, m, ff, ff);
        m_backend->gelu(m_expertHidden.data(), m_expertHidden.data(), m * ff);
        m_backend->matmul(b.downExps.matrix(e), m_expertHidden.data(), m, ff, m_expertOut.data(),
                          d);
        addRows(m_expertOut.data(), b.downBias.f32() + e * d, m, d, d);
        for (int i = 0; i < m; ++i) {
            const int slot = m_order[size_t(begin + i)];
            const float w = m_routeW[size_t(slot)];
            float* dst = out + (slot / 2) * d;
            const float* src = m_expertOut.data() + i * d;
            for (int64_t j = 0; j < d; ++j)
                dst[j] += w * src[j];
        }
    }
}

Status ConsiliumGraph::decode(const int32_t* ids, int64_t n) {
    if (m_nq == 0) return makeError(ErrorCode::InvalidArgument, "decode before fuse");
    if (m_seq.nq == 0) {
        Status s = exportSequence(&m_seq, true);
        if (!s) return s;
    }
    ConsiliumSequence* seq = &m_seq;
    return decodeBatch(&seq, &ids, &n, 1, *m_ownPool);
}

Status ConsiliumGraph::decodeBatch(ConsiliumSequence* const* seqs, const int32_t* const* ids,
                                   const int64_t* counts, int64_t nSeq, KvBlockPool& pool) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t d = c.dim, hd = c.headDim, L = int64_t(m_model->dec.size()), V = c.vocab;
    if (nSeq < 1) return makeError(ErrorCode::InvalidArgument, "decodeBatch of no sequence");
    if (pool.rowFloats() < m_hhMax) {
        return makeError(ErrorCode::InvalidArgument, "KV pool rows too narrow for this model");
    }
    int64_t rows = 0, needBlocks = 0;
    for (int64_t s = 0; s < nSeq; ++s) {
        const ConsiliumSequence& q = *seqs[s];
        const int64_t n = counts[s];
        if (q.nq == 0) return makeError(ErrorCode::InvalidArgument, "decode before fuse");
        if (n < 1 || q.pos + n > std::min(q.maxTokens, m_limits.maxAnswerTokens)) {
            return makeError(ErrorCode::InvalidArgument,
                             "answer of " + std::to_string(q.pos + n) +
                                 " tokens exceeds the limit " +
                                 std::to_string(std::min(q.maxTokens, m_limits.maxAnswerTokens)));
        }
        for (int64_t i = 0; i < n; ++i) {
            if (ids[s][i] < 0 || ids[s][i] >= V) {
                return makeError(
                    ErrorCode::InvalidArgument,
                    "answer token id " + std::to_string(ids[s][i]) + " outside the vocabulary");
            }
        }
        rows += n;
        needBlocks += pool.blocksFor(q.pos + n) - int64_t(q.blocks.size());
    }
    if (rows > m_maxRows) {
        return makeError(ErrorCode::InvalidArgument, std::to_string(rows) +
                                                         " decoder rows in one step, the graph "
                                                         "takes " +
                                                         std::to_string(m_maxRows));
    }
    if (needBlocks > pool.freeBlocks()) {
        return makeError(ErrorCode::OutOfMemory, "KV pool full: " + std::to_string(needBlocks) +
                                                     " blocks needed, " +
                                                     std::to_string(pool.freeBlocks()) + " free");
    }
    m_rowStart.clear();
    for (int64_t s = 0, r = 0; s < nSeq; ++s) {
        pool.reserve(&seqs[s]->blocks, seqs[s]->pos + counts[s]);
        m_rowStart.push_back(r);
        std::copy_n(ids[s], counts[s], m_batchIds.begin() + r);
        r += counts[s];
    }
    const bool taps = nSeq == 1;
    const int64_t bt = pool.blockTokens(), rf = pool.rowFloats();
    float* x = m_x.data();
    float* xn = m_xn.data();
    m_backend->embed(m_model->tokenEmbd.matrix(), m_batchIds.data(), rows, x);
    if (taps) tap("dec.embd", x, {rows, d});
    for (int64_t s = 0; s < nSeq; ++s) {
        ConsiliumSequence& q = *seqs[s];
        std::fill_n(q.decCross.begin() + q.pos * q.nq, counts[s] * q.nq, 0.0f);
        std::fill_n(q.decCrossLayers.begin() + q.pos * L * q.nq, counts[s] * L * q.nq, 0.0f);
    }
    kernels::AttentionParams ap;
    ap.headDim = hd;
    ap.scale = 1.0f / std::sqrt(float(hd));
    for (int64_t l = 0; l < L; ++l) {
        Status st = checkCancel();
        if (!st) return st;
        const ConsiliumDecoderBlock& b = m_model->dec[size_t(l)];
        const std::string p = "dec.blk." + std::to_string(l);
        // Causal self-attention with RoPE over each sequence's paged KV cache.
        {
            const ConsiliumAttention& a = b.self;
            const int64_t hh = a.heads * hd;
            norm(b.attnNorm, x, xn, rows);
            linear(a.q, xn, rows, d, m_q.data(), hh);
            linear(a.k, xn, rows, d, m_newK.data(), hh);
            linear(a.v, xn, rows, d, m_newV.data(), hh);
            ap.nHeads = ap.nKvHeads = a.heads;
            ap.causal = true;
            for (int64_t s = 0; s < nSeq; ++s) {
                ConsiliumSequence& q = *seqs[s];
                const int64_t r0 = m_rowStart[size_t(s)], n = counts[s];
                const float* cs = m_ropeCos.data() + q.pos * (hd / 2);
                const float* sn = m_ropeSin.data() + q.pos * (hd / 2);
                m_backend->ropeTable(m_q.data() + r0 * hh, n, hh, a.heads, hd, cs, sn);
                m_backend->ropeTable(m_newK.data() + r0 * hh, n, hh, a.heads, hd, cs, sn);
                for (int64_t t = 0; t < n; ++t) {
                    const int64_t at = q.pos + t;
                    const int32_t blk = q.blocks[size_t(at / bt)];
                    std::copy_n(m_newK.data() + (r0 + t) * hh, hh,
                                pool.keys(blk, l) + (at % bt) * rf);
                    std::copy_n(m_newV.data() + (r0 + t) * hh, hh,
                                pool.values(blk, l) + (at % bt) * rf);
                }
                // The sequence's keys in position order, contiguous for the attention kernel.
                const int64_t nk = q.pos + n;
                for (int64_t j = 0; j < nk; j += bt) {
                    const int32_t blk = q.blocks[size_t(j / bt)];
                    for (int64_t i = 0; i < std::min(bt, nk - j); ++i) {
                        std::copy_n(pool.keys(blk, l) + i * rf, hh, m_k.data() + (j + i) * hh);
                        std::copy_n(pool.values(blk, l) + i * rf, hh, m_v.data() + (j + i) * hh);
                    }
                }
                m_backend->attention(m_q.data() + r0 * hh, n, q.pos, m_k.data(), m_v.data(), nk, ap,
                                     m_o.data() + r0 * hh, nullptr);
            }
            linear(a.o, m_o.data(), rows, hh, m_tmp.data(), d);
            m_backend->add(x, m_tmp.data(), rows * d);
            if (taps) tap(p + ".self_out", x, {rows, d});
        }
        // Cross-attention to each sequence's fusion memory.
        {
            const ConsiliumAttention& a = b.cross;
            const int64_t hh = a.heads * hd;
            norm(b.crossNorm, x, xn, rows);
            linear(a.q, xn, rows, d, m_q.data(), hh);
            ap.nHeads = ap.nKvHeads = a.heads;
            ap.causal = false;
            const float scale = 1.0f / float(a.heads * L);
            for (int64_t s = 0; s < nSeq; ++s) {
                ConsiliumSequence& q = *seqs[s];
                const int64_t r0 = m_rowStart[size_t(s)], n = counts[s], nq = q.nq;
                const size_t layerAt = size_t(l * nq * q.crossStride);
                m_backend->attention(m_q.data() + r0 * hh, n, 0, q.crossK.data() + layerAt,
                                     q.crossV.data() + layerAt, nq, ap, m_o.data() + r0 * hh,
                                     m_probs.data());
                if (taps) tap(p + ".cross_attn", m_probs.data(), {n, a.heads, nq});
                const float perLayer = 1.0f / float(a.heads);
                for (int64_t t = 0; t < n; ++t) {
                    float* acc = q.decCross.data() + (q.pos + t) * nq;
                    float* accL = q.decCrossLayers.data() + ((q.pos + t) * L + l) * nq;
                    for (int64_t h = 0; h < a.heads; ++h) {
                        const float* pr = m_probs.data() + (t * a.heads + h) * nq;
                        for (int64_t j = 0; j < nq; ++j) {
                            acc[j] += scale * pr[j];
                            accL[j] += perLayer * pr[j];
                        }
                    }
                }
            }
            linear(a.o, m_o.data(), rows, hh, m_tmp.data(), d);
            m_backend->add(x, m_tmp.data(), rows * d);
            if (taps) tap(p + ".cross_out", x, {rows, d});
        }
        norm(b.ffnNorm, x, xn, rows);
        moe(b, l, xn, rows, m_tmp.data());
        for (int64_t s = 0; s < nSeq; ++s) {
            ConsiliumSequence& q = *seqs[s];
            for (int64_t t = 0; t < counts[s]; ++t) {
                const size_t from = size_t((m_rowStart[size_t(s)] + t) * 2);
                const size_t at = size_t(((q.pos + t) * L + l) * 2);
                for (size_t j = 0; j < 2; ++j) {
                    q.expertIds[at + j] = m_routes[from + j];
                    q.expertW[at + j] = m_routeW[from + j];
                }
            }
        }
        m_backend->add(x, m_tmp.data(), rows * d);
        if (taps) tap(p + ".out", x, {rows, d});
    }
    norm(m_model->decOut, x, xn, rows);
    m_backend->matmul(m_model->tokenEmbd.matrix(), xn, rows, d, m_batchLogits.data(), V);
    if (taps) tap("dec.logits", m_batchLogits.data(), {rows, V});
    for (int64_t s = 0; s < nSeq; ++s) {
        ConsiliumSequence& q = *seqs[s];
        const int64_t r0 = m_rowStart[size_t(s)], n = counts[s];
        if (q.allLogits) {
            std::copy_n(m_batchLogits.data() + r0 * V, n * V, q.logits.data() + q.pos * V);
        } else {
            std::copy_n(m_batchLogits.data() + (r0 + n - 1) * V, V, q.logits.data());
        }
        q.pos += n;
    }
    return Status::success();
}

// Section 10, dense head. up·concat(F[cell], H_img[p]) splits into up_F·F[cell] (all
// cells) plus up_H·H_img[p] (once per patch): F32 weights, so each half is a strided view.
// A map-only head is up·F[cell] alone.
void ConsiliumGraph::denseHead(const float* map) {
    const ConsiliumConfig& c = m_model->config();
    const int64_t C = c.convChannels.back(), d = c.dim, ff = c.detDenseFfn;
    const int64_t Dm = c.convCells(0), Hm = c.convCells(1), Wm = c.convCells(2);
    const int64_t cells = c.convCellCount();
    if (c.detDenseMapOnly) {
        linear(m_model->detDenseUp, map, cells, C, m_denseHid.data(), ff);
    } else {
        const float* w = m_model->detDenseUp.w.f32();
        const size_t rowBytes = size_t(C + d) * sizeof(float);
        const kernels::MatrixView upF{DType::F32, w, ff, C, rowBytes};
        const kernels::MatrixView upH{DType::F32, w + C, ff, d, rowBytes};
        m_backend->matmul(upH, m_hImg.data(), c.nImg(), d, m_denseHp.data(), ff);
        addRows(m_denseHp.data(), m_model->detDenseUp.b.f32(), c.nImg(), ff, ff);  // once a patch
        m_backend->matmul(upF, map, cells, C, m_denseHid.data(), ff);
        for (int64_t z = 0; z < Dm; ++z)
            for (int64_t y = 0; y < Hm; ++y)
                for (int64_t x = 0; x < Wm; ++x) {
                    float* r = m_denseHid.data() + ((z * Hm + y) * Wm + x) * ff;
                    const float* hp = m_denseHp.data() + c.cellPatch(z, y, x) * ff;
                    for (int64_t j = 0; j < ff; ++j)
                        r[j] += hp[j];
                }
    }
    m_backend->gelu(m_denseHid.data(), m_denseHid.data(), cells * ff);
    linear(m_model->detDenseOut, m_denseHid.data(), cells, ff, m_dense.data(), c.denseCols());
    tap("det.dense.raw", m_dense.data(), {cells, c.denseCols()});
}

void ConsiliumGraph::setDenseDetection(const float* rows) {
    if (!m_dense.empty()) std::copy_n(rows, m_dense.size(), m_dense.data());
}

// Section 10.
Status ConsiliumGraph::runHeads() {
    const ConsiliumConfig& c = m_model->config();
    if (!m_present[kModImage]) {
        return makeError(ErrorCode::InvalidArgument, "the findings heads need a CT study");
    }
    const int64_t d = c.dim, n = c.nImg();
    linear(m_model->detUp, m_hImg.data(), n, d, m_ff.data(), d);
    m_backend->gelu(m_ff.data(), m_ff.data(), n * d);
    linear(m_model->detOut, m_ff.data(), n, d, m_det.data(), kDetCols);
    tap("det.raw", m_det.data(), {n, kDetCols});
    float* v = m_tmp.data();
    for (int64_t j = 0; j < d; ++j) {
        double sum = 0.0;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t p = 0; p < n; ++p) {
            const float h = m_hImg[size_t(p * d + j)];
            sum += h;
            mx = std::max(mx, h);
        }
        v[j] = float(sum / double(n));
        v[d + j] = mx;
    }
    float* r = m_ff.data();
    linear(m_model->lrUp, v, 1, 2 * d, r, d);
    m_backend->gelu(r, r, d);
    linear(m_model->lrOut, r, 1, d, m_lr.data(), kLungRadsClasses);
    tap("lung_rads.logits", m_lr.data(), {kLungRadsClasses});
    return Status::success();
}

}  // namespace consilium::inference
