#include "inference/consilium_engine.h"

#include <algorithm>
#include <cmath>

namespace consilium::inference {

std::array<double, 3> consiliumPatchCentre(const ConsiliumConfig& c, int64_t p, const float* o) {
    auto sigmoid = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
    const int64_t ny = c.ny(), nx = c.nx();
    const int64_t pz = p / (ny * nx), py = (p / nx) % ny, px = p % nx;
    const double pd = double(c.patch[0]), ph = double(c.patch[1]), pw = double(c.patch[2]);
    return {double(pz) * pd + sigmoid(o[1]) * pd - 0.5, double(py) * ph + sigmoid(o[2]) * ph - 0.5,
            double(px) * pw + sigmoid(o[3]) * pw - 0.5};
}

std::array<double, 3> consiliumPeakLocation(const ConsiliumConfig& c, int64_t p, const float* o,
                                            const std::vector<ConsiliumFinding>& findings) {
    for (const ConsiliumFinding& f : findings)
        if (f.patch == p) return f.grid;
    return consiliumPatchCentre(c, p, o);
}

std::string lungRadsV2022(const std::string& type, double diameterMm, double solidMm) {
    const double d = std::round(diameterMm * 10) / 10, s = std::round(solidMm * 10) / 10;
    if (type == "solid") return d < 6 ? "2" : d < 8 ? "3" : d < 15 ? "4A" : "4B";
    if (type == "part-solid") return d < 6 ? "2" : s < 6 ? "3" : s < 8 ? "4A" : "4B";
    return d < 30 ? "2" : "3";  // ground-glass
}

int consiliumFindingLobe(const ConsiliumConfig& c, const float* o, const float* det,
                         int64_t patch) {
    auto logits = [&](int64_t q, double* out) {
        for (int i = 0; i < 5; ++i)
            out[i] = double(o[8 + i] + det[q * 13 + 8 + i]);  // float sum, as without the vote
    };
    double score[5] = {};
    if (!c.detLobePlane) {
        logits(patch, score);
    } else {
        const int64_t nx = c.nx(), ny = c.ny();
        const int64_t z = patch / (ny * nx), y = (patch / nx) % ny, x = patch % nx;
        for (int64_t qy = std::max<int64_t>(y - 1, 0); qy <= std::min(y + 1, ny - 1); ++qy)
            for (int64_t qx = std::max<int64_t>(x - 1, 0); qx <= std::min(x + 1, nx - 1); ++qx) {
                double l[5];
                logits((z * ny + qy) * nx + qx, l);
                const double m = *std::max_element(l, l + 5);
                double sum = 0;
                for (double& v : l)
                    sum += (v = std::exp(v - m));
                for (int i = 0; i < 5; ++i)
                    score[i] += l[i] / sum;
            }
    }
    return int(std::max_element(score, score + 5) - score);
}

int consiliumLungRadsOfFindings(const ConsiliumConfig& c,
                                const std::vector<ConsiliumFinding>& findings, double spYxMm) {
    // The categories are "1", "2", "3", "4A", "4B" in this order (checked when the file loads).
    auto rank = [&](const std::string& cat) {
        const auto& v = c.lungRadsCategories;
        return int(std::find(v.begin(), v.end(), cat) - v.begin());
    };
    int best = rank("1");
    for (const ConsiliumFinding& f : findings) {
        const std::string& type = c.detTypes[size_t(f.type)];
        const double d = f.diameterGridVoxels * spYxMm;
        const double solid = type == "solid" ? d : type == "part-solid" ? d * f.solidFraction : 0.0;
        best = std::max(best, rank(lungRadsV2022(type, d, solid)));
    }
    return best;
}

Result<std::shared_ptr<ConsiliumEngine>> ConsiliumEngine::open(const std::string& path) {
    auto store = WeightStore::open(path);
    if (!store) return store.error();
    auto model = ConsiliumModel::load(std::shared_ptr<WeightStore>(std::move(store.value())));
    if (!model) return model.error();
    auto tok = ConsiliumTokenizer::create(model.value()->tokenizerModel(), model.value()->config());
    if (!tok) return makeError(tok.error().code, path + ": " + tok.error().message);
    auto e = std::shared_ptr<ConsiliumEngine>(new ConsiliumEngine());
    e->m_path = path;
    e->m_model = model.value();
    e->m_tokenizer = std::move(tok.value());
    return e;
}

}  // namespace consilium::inference
