// The `consilium` model opened for answering: ConsiliumEngine (weights, tokenizer and the
// cache of encoder outputs, shared by any number of sessions, batchers and threads), the
// preprocessed inputs of one question and everything an answer carries.
//
// Coordinates here are model-grid coordinates (section 3.1: continuous (gz, gy, gx), grid
// voxel k centred at k); the caller maps them back to source voxels and LPS mm with its
// Volume (app/ask_service.cpp does).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "inference/consilium_graph.h"
#include "inference/consilium_tokenizer.h"
#include "inference/encoding_cache.h"

namespace consilium::inference {

class ConsiliumEngine {
  public:
    static Result<std::shared_ptr<ConsiliumEngine>> open(const std::string& path);
    const ConsiliumModel& model() const { return *m_model; }
    std::shared_ptr<const ConsiliumModel> modelPtr() const { return m_model; }
    const ConsiliumTokenizer& tokenizer() const { return *m_tokenizer; }
    const std::string& path() const { return m_path; }
    // Encoder outputs shared by every session of this engine (prefix reuse).
    EncodingCache& cache() const { return *m_cache; }

  private:
    std::string m_path;
    std::shared_ptr<const ConsiliumModel> m_model;
    std::unique_ptr<ConsiliumTokenizer> m_tokenizer;
    std::unique_ptr<EncodingCache> m_cache = std::make_unique<EncodingCache>();
};

// Preprocessed inputs; an empty field is an absent modality (section 3.4).
struct ConsiliumInputs {
    std::vector<float> ctHu;  // [D, H, W] HU on the model grid (resampleToGrid)
    // In-plane size of a grid voxel in mm (sp_yx): with Lung-RADS from findings (section 10)
    // a CT needs it, since the category rests on the findings' diameters in mm.
    double ctSpacingYxMm = 0;
    std::vector<float> mel;  // [80, melFrames] log-mel (section 3.2)
    int64_t melFrames = 0;
    std::vector<int32_t> recordIds;    // [bos] + encode(record)
    std::vector<int32_t> questionIds;  // [bos] + encode(question)
};

struct ConsiliumFinding {
    int64_t patch = 0;
    std::array<double, 3> grid{};   // (gz, gy, gx) centre in grid coordinates
    double diameterGridVoxels = 0;  // exp(o4), in-plane grid voxels (times sp_yx = mm)
    int type = 0;                   // index into config().detTypes
    int lobe = 0;                   // index into config().detLobes
    float score = 0;                // sigmoid(o0)
    // The solid part's diameter as a share of the whole (sigmoid(o13)); -1 where the file's
    // dense head has no such column (section 10).
    double solidFraction = -1;
};

struct ConsiliumExpertChoice {
    std::array<int32_t, 2> experts{};
    std::array<float, 2> weights{};
};

struct ConsiliumAnswer {
    std::vector<int32_t> ids;  // generated ids without bos (eos included when produced)
    std::string text;
    std::vector<ConsiliumFinding> findings;  // empty without a CT
    int lungRads = -1;  // index into config().lungRadsCategories (section 10); -1 no CT
    std::array<float, 4> modalityWeights{};  // image, record, voice, question; sum 1
    std::vector<float> imageAttention;       // [N_img], sums to 1 (empty without a CT)
    // The same rollout split up (docs/MODEL.md 13.2): through decoder layer l alone,
    // [L][N_img], and through fusion image head h alone, [h][N_img]. Each map sums to 1; the
    // mean of either list is imageAttention.
    std::vector<std::vector<float>> imageAttentionByLayer, imageAttentionByHead;
    int64_t peakPatch = -1;
    std::array<double, 3> peakGrid{};    // consiliumPeakLocation
    std::vector<float> recordAttention;  // [N_rec] (empty without a record)
    // experts[t][l]: generated position t, decoder layer l.
    std::vector<std::vector<ConsiliumExpertChoice>> experts;
    double encodeMs = 0, fuseMs = 0, decodeMs = 0, headsMs = 0;
    double firstTokenMs = 0;       // from ask() to the first generated token
    std::array<bool, 4> reused{};  // modality encodings taken from the engine's cache
    int64_t prefillSteps = 0;      // scheduler steps its encoders and fusion ran in
};

// Section 10: grid centre of patch p refined by its detection offsets (raw row `o`, 13
// values): g = patch origin + sigmoid(o[1..3]) * patch size - 0.5.
std::array<double, 3> consiliumPatchCentre(const ConsiliumConfig& c, int64_t p, const float* o);

// Section 13: where the attention peak (patch p) lies. The patch's highest-scoring finding
// (a dense head's; `findings` in descending score, as the engine lists them) when it has
// one: the dense head places a nodule within the patch from a finer map; else the patch
// head's centre (consiliumPatchCentre of its raw row `o`).
std::array<double, 3> consiliumPeakLocation(const ConsiliumConfig& c, int64_t p, const float* o,
                                            const std::vector<ConsiliumFinding>& findings);

// Section 10, a map-only dense head: the lobe index of a finding in patch `patch` whose
// dense row is `o`, with the patch head's rows `det` [nImg][13]. Its own patch's logits
// o[8..12] + det[patch][8..12]; with c.detLobePlane the softmax of o[8..12] + det[q][8..12]
// summed over q = the patch and its (up to 8) neighbours in the same z slab, argmax of the
// sum (ties: the lower lobe index).
int consiliumFindingLobe(const ConsiliumConfig& c, const float* o, const float* det, int64_t patch);

// Lung-RADS v2022 (baseline) category of one nodule, "2", "3", "4A" or "4B", from its type
// (solid, part-solid, ground-glass) and its diameter and its solid part's in mm, each rounded
// to 0.1 mm first.
std::string lungRadsV2022(const std::string& type, double diameterMm, double solidMm);

// Section 10, Lung-RADS from findings: the index into c.lungRadsCategories of the highest
// category among the findings ("1" without any). A finding's diameter is
// diameterGridVoxels * spYxMm; its solid part is solidFraction times that for a part-solid
// one, the whole diameter for a solid one.
int consiliumLungRadsOfFindings(const ConsiliumConfig& c,
                                const std::vector<ConsiliumFinding>& findings, double spYxMm);

}  // namespace consilium::inference
