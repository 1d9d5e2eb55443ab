// The `consilium` tri-modal MoE architecture, exactly as docs/MODEL.md (contract version 1)
// writes it: CT encoder (section 5), audio encoder (6), text encoder with RoPE and a causal
// sliding window (7), fusion with cross-modal attention and dynamic per-modality weights (8),
// MoE decoder with 8 experts and top-2 renormalised routing (9), findings heads (10) and the
// explanation outputs of section 13, captured during the single forward pass.
//
// ConsiliumModel holds views into a WeightStore (immutable after load(), shared by any number
// of runs and threads). ConsiliumGraph is one run's state: every activation, the decoder's
// self-attention KV cache and the cross-attention K/V of the fusion memory, allocated once at
// create() for the limits given; the forward steps allocate nothing. A graph is used by one
// thread at a time.
//
// Layouts are row-major, outermost first, as docs/MODEL.md writes shapes: a sequence is
// [n, d]; the CT input is [D, H, W]; the log-mel input is [80, T].
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "inference/backend.h"
#include "inference/kv_pool.h"
#include "inference/weight_store.h"

namespace consilium::inference {

enum ConsiliumModality { kModImage = 0, kModRecord = 1, kModVoice = 2, kModQuestion = 3 };
constexpr int kConsiliumModalities = 4;

struct ConsiliumConfig {
    int64_t dim = 0;      // consilium.embedding_length (d)
    int64_t headDim = 0;  // consilium.head_dim (hd)
    float eps = 1e-5f;    // consilium.layer_norm_epsilon
    float ropeBase = 10000.0f;
    int64_t vocab = 0;
    std::array<int64_t, 3> grid{};   // D, H, W
    std::array<int64_t, 3> patch{};  // pd, ph, pw
    float windowCenter = -600.0f;    // HU
    float windowWidth = 1500.0f;     // HU
    std::vector<int64_t> ctHeads;    // per layer
    int64_t ctFfn = 0;
    int64_t sampleRate = 16000, nFft = 400, hopLength = 160, nMels = 80, maxFrames = 3000;
    std::vector<int64_t> audioHeads;
    int64_t audioFfn = 0;
    std::vector<int64_t> textHeads;
    int64_t textFfn = 0;
    int64_t slidingWindow = 0;  // Wn, keys visible to a query including itself
    int64_t textMaxTokens = 0;
    std::array<int64_t, 4> fusionHeads{};  // modality order
    int64_t fusionFfn = 0;
    std::vector<int64_t> decHeads, decCrossHeads;
    int64_t experts = 0, expertsUsed = 0, expertFfn = 0;
    int64_t decMaxTokens = 0;
    float detThreshold = 0.5f;
    int64_t detMaxCandidates = 16;
    // Hidden width of the dense detection head on the convolution map (section 10); 0 = none.
    int64_t detDenseFfn = 0;
    // The dense head reads the map alone; a finding's lobe logits add the patch head's.
    bool detDenseMapOnly = false;
    // Lung-RADS from the findings by the v2022 rules; the dense head's column 13 is then the
    // logit of each finding's solid part, as a share of its diameter.
    bool lungRadsFromFindings = false;
    // With a map-only head: a finding's lobe is voted by the patches of its patch's slab
    // around it (consiliumFindingLobe), not read from its own patch alone.
    bool detLobePlane = false;
    std::vector<std::string> detTypes, detLobes, lungRadsCategories;
    int32_t unkId = 0, bosId = 1, eosId = 2, padId = 3;

    int64_t nz() const { return grid[0] / patch[0]; }
    int64_t ny() const { return grid[1] / patch[1]; }
    int64_t nx() const { return grid[2] / patch[2]; }
    int64_t nImg() const { return nz() * ny() * nx(); }
    int64_t patchElems() const { return patch[0] * patch[1] * patch[2]; }
    // The optional CT stem (section 5): sub-patch size and channels; stemChannels 0 = none.
    std::array<int64_t, 3> stem{};
    int64_t stemChannels = 0;
    bool hasStem() const { return stemChannels > 0; }
    int64_t stemElems() const { return stem[0] * stem[1] * stem[2]; }
    int64_t subPatches() const {
        return hasStem() ? (patch[0] / stem[0]) * (patch[1] / stem[1]) * (patch[2] / stem[2]) : 0;
    }
    // The optional CT convolution layers (section 5): output channels and (z, y, x) stride
    // of each 3x3x3 layer; none when convChannels is empty.
    std::vector<int64_t> convChannels;
    std::vector<std::array<int64_t, 3>> convStrides;
    bool hasConv() const { return !convChannels.empty(); }
    // Total stride along axis a (0 = z), and the patch on the last feature map.
    int64_t convStride(int a) const {
        int64_t s = 1;
        for (const auto& st : convStrides)
            s *= st[size_t(a)];
        return s;
    }
    int64_t convPatch(int a) const { return patch[size_t(a)] / convStride(a); }
    // Cells of the last feature map along axis a, and in all (the dense head's rows).
    int64_t convCells(int a) const { return grid[size_t(a)] / convStride(a); }
    int64_t convCellCount() const { return convCells(0) * convCells(1) * convCells(2); }
    bool hasDenseDet() const { return detDenseFfn > 0; }
    // Columns of a dense head row: 13, and the solid-part column with Lung-RADS from findings.
    int64_t denseCols() const { return lungRadsFromFindings ? 14 : 13; }
    // The patch holding cell (z, y, x) of the last feature map.
    int64_t cellPatch(int64_t z, int64_t y, int64_t x) const {
        return ((z / convPatch(0)) * ny() + y / convPatch(1)) * nx() + x / convPatch(2);
    }
    // Input width of ct.patch_embd: the patch, the stem features of its sub-patches, or the
    // convolution features of its cells.
    int64_t patchIn() const {
        if (hasConv()) return convPatch(0) * convPatch(1) * convPatch(2) * convChannels.back();
        return hasStem() ? subPatches() * stemChannels : patchElems();
    }
};

struct LinearWeights {
    TensorView w;  // [out, in]  (ne {in, out})
    TensorView b;  // [out] F32, may be invalid (no bias)
};

struct NormWeights {
    TensorView w, b;  // [d] F32 each
};

// One pre-LN block (attention + FFN), or the attention part alone for fusion (ffn unused).
struct ConsiliumAttention {
    int64_t heads = 0;
    LinearWeights q, k, v, o;  // q/k/v [heads*hd, d], o [d, heads*hd]
};

struct ConsiliumEncoderBlock {
    NormWeights attnNorm, ffnNorm;
    ConsiliumAttention attn;
    LinearWeights up, down;  // [ff, d], [d, ff]
};

struct ConsiliumDecoderBlock {
    NormWeights attnNorm, crossNorm, ffnNorm;
    ConsiliumAttention self, cross;
    TensorView router;              // [E, d] F32
    TensorView upExps, upBias;      // [E, ff_e, d], [E, ff_e]
    TensorView downExps, downBias;  // [E, d, ff_e], [E, d]
};

class ConsiliumModel {
  public:
    // CorruptModel naming the key or tensor that is missing, ill-shaped or unknown;
    // UnsupportedModel for another architecture, contract version or a limit of section 2.
    static Result<std::shared_ptr<ConsiliumModel>> load(std::shared_ptr<WeightStore> store);

    const ConsiliumConfig& config() const { return m_c; }
    const WeightStore& store() const { return *m_store; }
    // The serialized SentencePiece ModelProto of consilium.tokenizer.spm_model.
    const std::string& tokenizerModel() const { return m_spm; }
    // Dominant storage type of the transformer matrices ("F32", "Q4_0", ...).
    std::string precision() const;

    // Views (public for the graph; immutable).
    TensorView tokenEmbd;               // [V, d]
    LinearWeights ctStem;               // [C, sd*sh*sw] (no stem: invalid)
    std::vector<LinearWeights> ctConv;  // layer i: [C_i, C_{i-1}*27] (none without the layers)
    LinearWeights ctPatch;              // [d, patchIn]
    TensorView ctPos;                   // [N_img, d]
    std::vector<ConsiliumEncoderBlock> ct, audio, text;
    NormWeights ctOut, audioOut, textOut;
    TensorView melFilters;       // [80, 201]
    LinearWeights conv1, conv2;  // [d, 80*3], [d, d*3] viewed as matrices
    TensorView typeEmbd;         // [4, d]
    NormWeights gateNorm, qNorm, fusionFfnNorm, fusionOut;
    LinearWeights gateUp, gateOut;  // [d, d], [4, d]
    std::array<ConsiliumAttention, 4> fusion;
    LinearWeights fusionUp, fusionDown;
    std::vector<ConsiliumDecoderBlock> dec;
    NormWeights decOut;
    LinearWeights detUp, detOut;  // [d, d], [13, d]
    // Dense head (section 10): [ff, C_L + d], [13, ff]; invalid without it.
    LinearWeights detDenseUp, detDenseOut;
    LinearWeights lrUp, lrOut;  // [d, 2d], [5, d]

  private:
    std::shared_ptr<WeightStore> m_store;
    ConsiliumConfig m_c;
    std::string m_spm;
};

// Named intermediate tensors (docs/MODEL.md section 15) as they are computed. `shape` is
// row-major; attention probabilities are reported in the kernel layout [n_q, heads, n_kv]
// (the golden dump writes [heads, n_q, n_kv]). The data is valid during the call only.
using ConsiliumTap =
    std::function<void(const std::string& name, const float* data, std::vector<int64_t> shape)>;

struct ConsiliumLimits {
    int64_t maxRecordTokens = 4096;  // clamped to text.max_tokens
    int64_t maxQuestionTokens = 512;
    int64_t maxAudioFrames = 3000;  // clamped to audio.max_frames
    int64_t maxAnswerTokens = 0;    // 0 = decoder.max_tokens
    // Text (record, question) rows run through the encoder this many at a time, each chunk
    // attending to the last sliding_window - 1 keys of the one before (docs/MODEL.md section
    // 7), so the activations of a 32K-token record take no more memory than one chunk's.
    // The result does not depend on it.
    int64_t textChunkTokens = 1024;
    // Fusion attention probabilities are computed in query-row chunks within this many floats
    // (16 MiB by default); smaller values only cost speed.
    int64_t probsBudgetFloats = int64_t(1) << 22;
};

// One answer's decoder state (section 9), kept outside the graph so that one graph can
// decode many answers together (continuous batching, ConsiliumBatcher): the cross-attention
// K/V of the answer's fusion memory, its self-attention K/V as a block table into a
// KvBlockPool, and the per-position explanation outputs. Filled by
// ConsiliumGraph::exportSequence() after fuse(); advanced by decodeBatch().
struct ConsiliumSequence {
    int64_t nq = 0;         // fusion memory rows
    int64_t pos = 0;        // decoded positions
    int64_t maxTokens = 0;  // positions this state has room for
    int64_t crossStride = 0;
    std::vector<float> crossK, crossV;  // [L][nq][crossStride]
    std::vector<int32_t> blocks;        // self K/V blocks, position order
    std::vector<float> decCross;        // [maxTokens][nq], averaged over layers and heads
    std::vector<float> decCrossLayers;  // [maxTokens][L][nq], each layer averaged over its heads
    std::vector<int32_t> expertIds;     // [maxTokens][L][2], largest weight first
    std::vector<float> expertW;         // [maxTokens][L][2]
    bool allLogits = false;
    std::vector<float> logits;  // [V] of the last decoded position; [maxTokens][V] with allLogits
};

class ConsiliumGraph {
  public:
    // OutOfMemory when the activations do not fit.
    static Result<std::unique_ptr<ConsiliumGraph>> create(
        std::shared_ptr<const ConsiliumModel> model, const ConsiliumLimits& limits,
        const CpuBackendOptions& cpu);

    void setTap(ConsiliumTap tap) { m_tap = std::move(tap); }
    void setCancelFlag(const std::atomic<bool>* cancel) { m_cancel = cancel; }
    // Forgets every modality and the decoder state.
    void reset();

    // Each encode step marks its modality present. Cancelled between layers.
    // ct: [D, H, W] lung-windowed values in [0, 1] (section 3.1 step 2).
    Status encodeImage(const float* ct);
    // mel: [80, T] log-mel frames (section 3.2), 1 <= T <= maxAudioFrames.
    Status encodeVoice(const float* mel, int64_t frames);
    // ids: [bos] + encode(text), 1 <= n <= the limit. InvalidArgument for an id outside V.
    Status encodeRecord(const int32_t* ids, int64_t n);
    // The same a chunk at a time (textChunkTokens rows per call), so a scheduler can run
    // decoder steps of other answers between the chunks of a long record: beginRecord()
    // checks the ids (which must stay valid until done), each continueRecord() encodes the
    // next chunk and sets *done after the last. Encoding a question or calling reset() in
    // between abandons the record (continueRecord then returns InvalidArgument); decode
    // steps do not touch it.
    Status beginRecord(const int32_t* ids, int64_t n);
    Status continueRecord(bool* done);
    Status encodeQuestion(const int32_t* ids, int64_t n);
    // Encoder output of modality m ([rows, d], rows = encodedRows(m)); nullptr when absent.
    const float* encoded(int m) const;
    int64_t encodedRows(int m) const;
    // Installs an encoder output computed earlier (by this or another graph of the same
    // model) instead of running the encoder, and marks the modality present; the findings
    // heads then need runHeads() again. InvalidArgument for a row count the limits refuse
    // (the image takes exactly N_img rows).
    Status setEncoded(int m, const float* rows, int64_t n);
    // Section 8; needs voice or question. Resets the decoder.
    Status fuse();
    // Section 9: runs n answer tokens at positions position()..+n-1 through the decoder with
    // its KV cache; logits of each are then available. InvalidArgument past the limit.
    Status decode(const int32_t* ids, int64_t n);
    // The answer state of the last fuse() (cross K/V copied), at position 0; with allLogits
    // it keeps the logits of every position. OutOfMemory when the state cannot be allocated.
    Status exportSequence(ConsiliumSequence* seq, bool allLogits = false) const;
    // Section 9 for several answers at once: sequence s runs counts[s] tokens ids[s] at its
    // positions pos..pos+counts[s]-1, its self K/V kept in `pool` (blocks taken as needed).
    // The matrix products run over the rows of all sequences together; attention per
    // sequence. Taps fire only for a single sequence. InvalidArgument past a limit or over
    // maxBatchRows() rows in all; OutOfMemory, with nothing changed, when the pool has too
    // few free blocks.
    Status decodeBatch(ConsiliumSequence* const* seqs, const int32_t* const* ids,
                       const int64_t* counts, int64_t nSeq, KvBlockPool& pool);
    // A pool whose blocks fit this graph's decoder (blockTokens positions each).
    Result<std::unique_ptr<KvBlockPool>> createKvPool(int64_t blocks, int64_t blockTokens) const;
    int64_t maxBatchRows() const { return m_maxRows; }
    int64_t maxAnswerTokens() const { return m_limits.maxAnswerTokens; }
    // Section 10, from H_img (needs encodeImage): detection rows and Lung-RADS logits.
    Status runHeads();

    const ConsiliumModel& model() const { return *m_model; }
    Backend& backend() { return *m_backend; }
    bool present(int m) const { return m_present[size_t(m)]; }
    int64_t position() const { return m_seq.pos; }
    int64_t queryRows() const { return m_nq; }
    int64_t recordTokens() const { return m_nRec; }
    // Logits [V] of decoded position t (t < position()).
    const float* logits(int64_t t) const {
        return m_seq.logits.data() + t * m_model->config().vocab;
    }
    const std::array<float, 4>& modalityWeights() const { return m_weights; }
    const std::array<float, 4>& gateLogits() const { return m_gateLogits; }
    // Fusion attention averaged over heads, [N_q, N_m] (image: N_img, record: N_rec).
    const float* fusionImageAttention() const { return m_avgImg.data(); }
    // Fusion image attention of each head, [h][N_q][N_img] (h = fusion image head count).
    const float* fusionImageAttentionByHead() const { return m_headImg.data(); }
    const float* fusionRecordAttention() const { return m_avgRec.data(); }
    // Decoder cross-attention of position t averaged over layers and heads, [N_q].
    const float* decoderCrossAttention(int64_t t) const {
        return m_seq.decCross.data() + t * m_seq.nq;
    }
    // The same for decoder layer l alone (averaged over that layer's heads), [N_q].
    const float* decoderCrossAttention(int64_t t, int64_t l) const {
        return m_seq.decCrossLayers.data() + (t * int64_t(m_model->dec.size()) + l) * m_seq.nq;
    }
    // Router choice of position t, layer l: experts[2], weights[2] (largest first).
    const int32_t* experts(int64_t t, int64_t l) const {
        return m_seq.expertIds.data() + (t * int64_t(m_model->dec.size()) + l) * 2;
    }
    const float* expertWeights(int64_t t, int64_t l) const {
        return m_seq.expertW.data() + (t * int64_t(m_model->dec.size()) + l) * 2;
    }
    const float* detection() const { return m_det.data(); }  // [N_img, 13]
    // The dense head's rows [convCellCount(), 13] of the last encodeImage() (section 10);
    // nullptr for a model without it. setDenseDetection installs rows computed earlier with
    // the image encoding they belong to (the encoding cache keeps both).
    const float* denseDetection() const { return m_dense.empty() ? nullptr : m_dense.data(); }
    void setDenseDetection(const float* rows);
    const float* lungRadsLogits() const { return m_lr.data(); }  // [5]

  private:
    ConsiliumGraph() = default;
    Status checkCancel() const;
    void linear(const LinearWeights& l, const float* x, int64_t n, int64_t xStride, float* y,
                int64_t yStride);
    void norm(const NormWeights& w, const float* x, float* y, int64_t n);
    // MHA from query rows xq [n, d] to key/value rows y [m, d]; output added to `out`
    // scaled by `scale` (residual); head-averaged probabilities into headAvg [n, m] when not
    // null, and each head's into perHead [heads, n, m] when not null; the probabilities
    // [n, heads, m] tapped as `probsTap` when not empty.
    void mha(const ConsiliumAttention& a, const float* xq, int64_t n, const float* y, int64_t m,
             bool rope, bool causal, int64_t window, float* out, float scale, float* headAvg,
             const std::string& probsTap, float* perHead = nullptr);
    Status encoderBlocks(const std::vector<ConsiliumEncoderBlock>& blocks, float* x, int64_t n,
                         bool text, const std::string& tapPrefix);
    // The CT convolution layers (section 5) on the grid; returns the last feature map.
    const float* convLayers(const float* ct, int64_t dims[3]);
    // Patch embedding, positions, CT blocks and out_norm from the patch rows.
    Status embedImage(const float* rows);
    // Section 10, dense head: from the last feature map [D', H', W', C_L] and H_img.
    void denseHead(const float* map);
    // Causal sliding-window self-attention of text rows x [n, d] at positions pos0.. over
    // the layer's kept keys of the previous chunk (tailLen rows) and its own; adds the
    // output to `out` and keeps the last window - 1 keys for the next chunk.
    void textAttention(const ConsiliumAttention& a, int64_t layer, const float* xn, int64_t n,
                       int64_t pos0, int64_t tailLen, float* out);
    Status checkIds(const int32_t* ids, int64_t n, const std::string& name) const;
    Status textChunk(const int32_t* ids, int64_t n, int64_t s0, float* out,
                     const std::string& name);
    // Routes of row t into m_routes/m_routeW [t][2].
    void moe(const ConsiliumDecoderBlock& b, int64_t layer, const float* z, int64_t n, float* out);
    void tap(const std::string& name, const float* data, std::vector<int64_t> shape) const {
        if (m_tap) m_tap(name, data, std::move(shape));
    }

    std::shared_ptr<const ConsiliumModel> m_model;
    std::unique_ptr<Backend> m_backend;
    ConsiliumTap m_tap;
    const std::atomic<bool>* m_cancel = nullptr;
    ConsiliumLimits m_limits;
    int64_t m_textPos0 = 0, m_textTail = 0;  // chunk being encoded: first position, kept keys
    const int32_t* m_recIds = nullptr;       // record in progress (beginRecord)
    int64_t m_recN = 0, m_recDone = 0;
    std::array<bool, 4> m_present{};
    int64_t m_nRec = 0, m_nTq = 0, m_nV = 0, m_nq = 0, m_maxRows = 0, m_hhMax = 0;
    // Encoder outputs: [N_img, d], [N_rec, d], [N_v, d], [N_tq, d].
    std::vector<float> m_hImg, m_hRec, m_hVoice, m_hQ;
    // Working rows [maxRows, *].
    std::vector<float> m_x, m_xn, m_q, m_k, m_v, m_o, m_ff, m_tmp, m_probs, m_col;
    // Text encoder keys/values kept from the previous chunk, [layers][window - 1][h*hd].
    std::vector<float> m_kTail, m_vTail;
    // Fusion: query rows, memory, per-modality head-averaged attention.
    std::vector<float> m_mem, m_avgImg, m_avgRec, m_headImg;
    std::vector<float> m_stemRows, m_stemOut;  // CT stem: [N_img*n_sub, s], [N_img*n_sub, C]
    // CT convolution layers: two feature maps [D', H', W', C] (channels last) used in turn.
    std::vector<float> m_convA, m_convB;
    std::array<float, 4> m_weights{}, m_gateLogits{};
    // Decoder: cross K/V of the last fuse() [L][nqMax][hhMax]; batch rows' new self K/V
    // [rows][hhMax] and logits [rows][V]; the answer of decode() and its own pool.
    std::vector<float> m_crossK, m_crossV, m_newK, m_newV, m_batchLogits;
    ConsiliumSequence m_seq;
    std::unique_ptr<KvBlockPool> m_ownPool;
    std::vector<int32_t> m_batchIds;
    std::vector<int64_t> m_rowStart;
    std::vector<float> m_router, m_routeW, m_gathered, m_expertHidden, m_expertOut;
    // RoPE cos/sin per position [maxPositions, hd/2], angles in double (section 4).
    std::vector<float> m_ropeCos, m_ropeSin;
    std::vector<int32_t> m_routes, m_offsets, m_order;
    std::vector<float> m_det, m_lr;
    // Dense head: H_img's share of the hidden layer [N_img, ff], the hidden rows [cells, ff]
    // and the output rows [cells, 13].
    std::vector<float> m_denseHp, m_denseHid, m_dense;
};

}  // namespace consilium::inference
