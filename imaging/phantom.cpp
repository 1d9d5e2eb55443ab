#include "imaging/phantom.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace consilium::imaging {
namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

// xoshiro256** (Blackman & Vigna, 2018), seeded through splitmix64: identical streams on
// every platform, unlike std::*_distribution.
class Rng {
  public:
    explicit Rng(uint64_t seed) {
        for (auto& s : m_s) {
            seed += 0x9E3779B97F4A7C15ull;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            s = z ^ (z >> 31);
        }
    }
    uint64_t next() {
        const uint64_t result = rotl(m_s[1] * 5, 7) * 9;
        const uint64_t t = m_s[1] << 17;
        m_s[2] ^= m_s[0];
        m_s[3] ^= m_s[1];
        m_s[1] ^= m_s[2];
        m_s[0] ^= m_s[3];
        m_s[2] ^= t;
        m_s[3] = rotl(m_s[3], 45);
        return result;
    }
    double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    int integer(int lo, int hi) { return lo + int(next() % uint64_t(hi - lo + 1)); }
    double normal() {  // Box-Muller
        if (m_haveSpare) {
            m_haveSpare = false;
            return m_spare;
        }
        double u = uniform();
        while (u <= 1e-300)
            u = uniform();
        const double v = uniform();
        const double r = std::sqrt(-2.0 * std::log(u));
        m_spare = r * std::sin(2 * kPi * v);
        m_haveSpare = true;
        return r * std::cos(2 * kPi * v);
    }

  private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t m_s[4]{};
    double m_spare = 0;
    bool m_haveSpare = false;
};

Vec3 add(const Vec3& a, const Vec3& b) {
    return {a[0] + b[0], a[1] + b[1], a[2] + b[2]};
}
Vec3 sub(const Vec3& a, const Vec3& b) {
    return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
Vec3 scale(const Vec3& a, double s) {
    return {a[0] * s, a[1] * s, a[2] * s};
}
double dot(const Vec3& a, const Vec3& b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
double norm(const Vec3& a) {
    return std::sqrt(dot(a, a));
}
Vec3 normalized(const Vec3& a) {
    const double n = norm(a);
    return n > 0 ? scale(a, 1.0 / n) : Vec3{0, 0, 1};
}
double smoothstep(double e0, double e1, double x) {
    const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
    return t * t * (3 - 2 * t);
}

// The analytic chest. x: patient left (+), y: posterior (+), z: head (+); mm.
struct Anatomy {
    double halfFov, ax, ay, bodyCy;
    double zMin, zMax, coverage;
    double zApex, zBase, zDomeTop[2];
    double lungCx[2], lungCy, lungRx, lungRy;
    Vec3 heartC, heartR;
    double spineY, spineR;
    double zHilum, zCarina;
    double scale;

    static int sideIndex(double x) { return x < 0 ? 0 : 1; }  // 0 right lung, 1 left lung

    // 0 apex → 1 deepest base.
    double t(double z) const { return (zApex - z) / (zApex - zBase); }

    double profile(double tt) const {
        if (tt < 0 || tt > 1) return 0;
        return tt < 0.3 ? 0.05 + 0.95 * std::sqrt(tt / 0.3) : 1.0;
    }

    bool inHeart(double x, double y, double z, double grow = 1.0) const {
        const double dx = (x - heartC[0]) / (heartR[0] * grow),
                     dy = (y - heartC[1]) / (heartR[1] * grow),
                     dz = (z - heartC[2]) / (heartR[2] * grow);
        return dx * dx + dy * dy + dz * dz < 1;
    }

    // Lung mask; `margin` shrinks the lung by that many mm (approximately).
    bool inLung(double x, double y, double z, double margin = 0) const {
        const int s = sideIndex(x);
        const double p = profile(t(z));
        if (p <= 0) return false;
        const double rx = lungRx * p - margin, ry = lungRy * p - margin;
        if (rx <= 0 || ry <= 0) return false;
        const double u = (x - lungCx[s]) / rx, v = (y - lungCy) / ry;
        if (u * u + v * v >= 1) return false;
        const double q = std::min(
            1.0, std::pow((x - lungCx[s]) / lungRx, 2) + std::pow((y - lungCy) / lungRy, 2));
        const double posterior = std::clamp((y - lungCy) / lungRy, -1.0, 1.0);
        const double dome = zBase + (zDomeTop[s] - zBase) * (1 - q) * (0.8 - 0.2 * posterior);
        if (z < dome + margin) return false;
        if (inHeart(x, y, z, 1.08 + margin / 60)) return false;
        const double sy = y - spineY;
        if (x * x + sy * sy < std::pow(spineR * 1.9 + margin, 2)) return false;
        return std::fabs(x) > 0.07 * ax + margin;
    }

    // Lobe of a point inside the lung, and its distance (mm, approximate) to the nearest fissure.
    Lobe lobeAt(double x, double y, double z, double* fissureMm = nullptr) const {
        const int s = sideIndex(x);
        const double tt = t(z);
        const double yp =
            std::clamp((y - (lungCy - lungRy)) / (2 * lungRy), 0.0, 1.0);  // 0 anterior
        const double oblique = 0.28 + 0.62 * (1 - yp);  // posterior-superior to anterior-inferior
        const double lungHeight = zApex - zBase;
        double dist = std::fabs(tt - oblique) * lungHeight * 0.55;
        Lobe lobe;
        if (tt > oblique) {
            lobe = s == 0 ? Lobe::RightLower : Lobe::LeftLower;
        } else if (s == 1) {
            lobe = Lobe::LeftUpper;
        } else {
            const double horizontal = 0.5;
            dist = std::min(dist, std::fabs(tt - horizontal) * lungHeight);
            lobe = tt < horizontal ? Lobe::RightUpper : Lobe::RightMiddle;
        }
        if (fissureMm) *fissureMm = dist;
        return lobe;
    }
};

struct Tube {
    Vec3 a, b;
    double ra, rb;
};

// Grows a branching tree from `start` along `dir`, aiming children at random points of the
// lung so the tree fills it (a simple space-filling model of pulmonary vessels/airways).
void growTree(const Anatomy& an, Rng& rng, Vec3 start, Vec3 dir, double length, double radius,
              int depth, int maxDepth, double minRadius, std::vector<Tube>* out) {
    Vec3 end = add(start, scale(dir, length));
    int tries = 0;
    while (!an.inLung(end[0], end[1], end[2]) && tries < 3) {
        length *= 0.5;
        end = add(start, scale(dir, length));
        ++tries;
    }
    if (!an.inLung(end[0], end[1], end[2]) && depth > 1) return;
    const double childRadius = radius * 0.79;  // Murray's law, two equal children: 2^(-1/3)
    out->push_back({start, end, radius, std::max(childRadius, minRadius)});
    if (depth >= maxDepth || childRadius < minRadius) return;
    const int side = Anatomy::sideIndex(end[0]);
    for (int c = 0; c < 2; ++c) {
        Vec3 target{};
        for (int k = 0; k < 20; ++k) {
            target = {an.lungCx[side] + rng.uniform(-1, 1) * an.lungRx,
                      an.lungCy + rng.uniform(-1, 1) * an.lungRy, rng.uniform(an.zBase, an.zApex)};
            if (an.inLung(target[0], target[1], target[2]) && norm(sub(target, end)) < length * 4)
                break;
        }
        Vec3 jitter{rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)};
        const Vec3 childDir = normalized(add(
            add(scale(dir, 1.0), scale(normalized(sub(target, end)), 0.9)), scale(jitter, 0.35)));
        growTree(an, rng, end, childDir, length * rng.uniform(0.72, 0.88), childRadius, depth + 1,
                 maxDepth, minRadius, out);
    }
}

struct Grid {
    int nx, ny, nz;
    double ps, dz;
    Vec3 origin;
    std::vector<float>* hu;
    Vec3 pos(int i, int j, int k) const {
        return {origin[0] + i * ps, origin[1] + j * ps, origin[2] + k * dz};
    }
    size_t idx(int i, int j, int k) const {
        return size_t(i) + size_t(nx) * (size_t(j) + size_t(ny) * size_t(k));
    }
};

// Paints a capsule-like tube; `predicate(current)` decides whether a voxel may change.
template <typename Fn>
void paintTube(const Grid& g, const Tube& t, float value, double grow, Fn mayPaint) {
    const double r = std::max(t.ra, t.rb) * grow;
    auto toIndex = [&](const Vec3& p, int axis) {
        return axis < 2 ? (p[size_t(axis)] - g.origin[size_t(axis)]) / g.ps
                        : (p[2] - g.origin[2]) / g.dz;
    };
    int lo[3], hi[3];
    const int n[3] = {g.nx, g.ny, g.nz};
    for (int a = 0; a < 3; ++a) {
        const double step = a < 2 ? g.ps : g.dz;
        const double i0 = std::min(toIndex(t.a, a), toIndex(t.b, a)) - r / step - 1;
        const double i1 = std::max(toIndex(t.a, a), toIndex(t.b, a)) + r / step + 1;
        lo[a] = std::max(0, int(std::floor(i0)));
        hi[a] = std::min(n[a] - 1, int(std::ceil(i1)));
    }
    const Vec3 d = sub(t.b, t.a);
    const double len2 = std::max(1e-9, dot(d, d));
    for (int k = lo[2]; k <= hi[2]; ++k)
        for (int j = lo[1]; j <= hi[1]; ++j)
            for (int i = lo[0]; i <= hi[0]; ++i) {
                const Vec3 p = g.pos(i, j, k);
                const double s = std::clamp(dot(sub(p, t.a), d) / len2, 0.0, 1.0);
                const Vec3 q = add(t.a, scale(d, s));
                const double rr = (t.ra + (t.rb - t.ra) * s) * grow;
                const double dist = norm(sub(p, q));
                if (dist >= rr + 0.5 * g.ps) continue;
                float& v = (*g.hu)[g.idx(i, j, k)];
                if (!mayPaint(v)) continue;
                const double a =
                    std::clamp(rr - dist + 0.5 * g.ps, 0.0, g.ps) / g.ps;  // partial volume
                v = float(v * (1 - a) + value * a);
            }
}

std::string fmt1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string jsonEscape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

int categoryRank(const std::string& c) {
    if (c == "1") return 1;
    if (c == "2") return 2;
    if (c == "3") return 3;
    if (c == "4A") return 4;
    if (c == "4B") return 5;
    return 0;
}

const char* followUp(const std::string& category) {
    if (category == "1" || category == "2")
        return "Continue annual screening with low-dose CT in 12 months.";
    if (category == "3") return "Low-dose CT in 6 months.";
    if (category == "4A")
        return "Low-dose CT in 3 months; PET/CT may be considered if there is a solid component of "
               "8 mm or more.";
    return "Diagnostic chest CT with or without contrast, PET/CT and/or tissue sampling, depending "
           "on the probability of malignancy.";
}

}  // namespace

const char* lobeCode(Lobe lobe) {
    switch (lobe) {
        case Lobe::RightUpper:
            return "RUL";
        case Lobe::RightMiddle:
            return "RML";
        case Lobe::RightLower:
            return "RLL";
        case Lobe::LeftUpper:
            return "LUL";
        case Lobe::LeftLower:
            return "LLL";
    }
    return "?";
}

const char* lobeName(Lobe lobe) {
    switch (lobe) {
        case Lobe::RightUpper:
            return "right upper lobe";
        case Lobe::RightMiddle:
            return "right middle lobe";
        case Lobe::RightLower:
            return "right lower lobe";
        case Lobe::LeftUpper:
            return "left upper lobe";
        case Lobe::LeftLower:
            return "left lower lobe";
    }
    return "?";
}

const char* noduleTypeCode(NoduleType t) {
    switch (t) {
        case NoduleType::Solid:
            return "solid";
        case NoduleType::PartSolid:
            return "part-solid";
        case NoduleType::GroundGlass:
            return "ground-glass";
    }
    return "?";
}

std::string lungRadsCategory(NoduleType type, double diameterMm, double solidDiameterMm) {
    const double d = std::round(diameterMm * 10) / 10;
    const double s = std::round(solidDiameterMm * 10) / 10;
    switch (type) {
        case NoduleType::Solid:
            if (d < 6) return "2";
            if (d < 8) return "3";
            if (d < 15) return "4A";
            return "4B";
        case NoduleType::PartSolid:
            if (d < 6) return "2";
            if (s < 6) return "3";
            if (s < 8) return "4A";
            return "4B";
        case NoduleType::GroundGlass:
            return d < 30 ? "2" : "3";
    }
    return "1";
}

namespace {

// What a case's options and the first draws of its PRNG fix: the matrix, spacings, slice
// count, nodule count and the analytic chest. generatePhantom goes on drawing from `rng`.
struct Layout {
    int matrix = 0, slices = 0, nodules = 0;
    double ps = 0, dz = 0;
    Anatomy an{};
    Vec3 origin{};
};

Result<Layout> drawLayout(const PhantomOptions& o, Rng& rng) {
    static const int kMatrices[] = {256, 320, 384, 448, 512};
    const int matrix = o.matrix > 0 ? o.matrix : kMatrices[rng.integer(0, 4)];
    const double ps =
        o.pixelSpacing > 0 ? o.pixelSpacing : std::round(rng.uniform(0.6, 0.95) * 1000) / 1000;
    const double drawnDz = std::round(rng.uniform(1.0, 3.0) * 4) / 4;
    const int nodules = o.nodules >= 0 ? o.nodules : rng.integer(0, 3);
    if (matrix < 64 || matrix > 1024)
        return makeError(ErrorCode::InvalidArgument, "phantom matrix must be 64..1024");
    if (o.pixelSpacing < 0 || o.sliceSpacing < 0)
        return makeError(ErrorCode::InvalidArgument, "phantom spacing must be positive");
    if (nodules > 3)
        return makeError(ErrorCode::InvalidArgument, "a phantom has at most 3 nodules");
    const double fov = matrix * ps;
    const double sc = std::max(0.45, fov / 360.0);
    // With a fixed slice count and no spacing given, choose the spacing that covers the chest.
    double dz = o.sliceSpacing > 0 ? o.sliceSpacing : drawnDz;
    if (o.sliceSpacing <= 0 && o.slices > 1)
        dz = std::clamp(std::round(300.0 * sc / (o.slices - 1) * 4) / 4, 1.0, 3.0);
    int slices = o.slices > 0 ? o.slices : int(std::lround(300.0 * sc / dz));
    if (o.slices == 0) slices = std::clamp(slices, 40, 400);
    if (slices < 8 || slices > 2000)
        return makeError(ErrorCode::InvalidArgument, "phantom slices must be 8..2000");

    Layout l;
    l.matrix = matrix;
    l.slices = slices;
    l.nodules = nodules;
    l.ps = ps;
    l.dz = dz;
    Anatomy& an = l.an;
    an.scale = sc;
    an.halfFov = fov / 2;
    an.ax = 0.90 * an.halfFov * rng.uniform(0.95, 1.02);
    an.ay = 0.64 * an.halfFov * rng.uniform(0.93, 1.03);
    an.bodyCy = 0.03 * an.halfFov;
    an.coverage = (slices - 1) * dz;
    an.zMin = -an.coverage / 2;
    an.zMax = an.coverage / 2;
    an.zApex = an.zMax - 0.05 * an.coverage;
    an.zBase = an.zMin + 0.07 * an.coverage;
    an.zDomeTop[0] = an.zMin + 0.36 * an.coverage;  // right hemidiaphragm sits higher (liver)
    an.zDomeTop[1] = an.zMin + 0.31 * an.coverage;
    an.lungCx[0] = -0.47 * an.ax;
    an.lungCx[1] = 0.47 * an.ax;
    an.lungCy = an.bodyCy + 0.04 * an.ay;
    an.lungRx = 0.385 * an.ax;
    an.lungRy = 0.80 * an.ay;
    an.heartC = {0.13 * an.ax, an.bodyCy - 0.25 * an.ay, an.zMin + 0.40 * an.coverage};
    an.heartR = {0.33 * an.ax, 0.40 * an.ay, 0.19 * an.coverage};
    an.spineY = an.bodyCy + 0.66 * an.ay;
    an.spineR = 0.085 * an.halfFov;
    an.zHilum = an.zMin + 0.60 * an.coverage;
    an.zCarina = an.zHilum + 0.06 * an.coverage;

    l.origin = {-(matrix - 1) * ps / 2, -(matrix - 1) * ps / 2, an.zMin};
    return l;
}

}  // namespace

Result<PhantomCase> generatePhantom(const PhantomOptions& o) {
    Rng rng(o.seed ^ 0xC0F5E11A2026ull);
    auto layout = drawLayout(o, rng);
    if (!layout) return layout.error();
    const Layout& l = layout.value();
    const int matrix = l.matrix, slices = l.slices, nodules = l.nodules;
    const double ps = l.ps, dz = l.dz, sc = l.an.scale;
    const Anatomy& an = l.an;

    PhantomCase c;
    c.seed = o.seed;
    Volume& v = c.volume;
    v.dims = {matrix, matrix, slices};
    v.spacing = {ps, ps, dz};
    v.origin = l.origin;
    v.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    v.type = VoxelType::Int16;
    v.modality = "CT";
    v.units = "HU";
    std::vector<float> hu(v.voxelCount());
    Grid g{matrix, matrix, slices, ps, dz, v.origin, &hu};

    // 1. Base tissues, slice by slice.
    const double vertebraPeriod = 26.0 * sc;
    for (int k = 0; k < slices; ++k) {
        const double z = v.origin[2] + k * dz;
        for (int j = 0; j < matrix; ++j) {
            const double y = v.origin[1] + j * ps;
            for (int i = 0; i < matrix; ++i) {
                const double x = v.origin[0] + i * ps;
                const double ex = x / an.ax, ey = (y - an.bodyCy) / an.ay;
                const double r2 = ex * ex + ey * ey;
                float value;
                if (r2 >= 1.0) {
                    value = -1000.f;
                } else if (r2 >= 0.93 * 0.93) {
                    value = -100.f;  // subcutaneous fat
                } else if (r2 >= 0.86 * 0.86) {
                    value = 45.f;  // chest wall muscle
                } else if (an.inLung(x, y, z)) {
                    double fissure = 10;
                    an.lobeAt(x, y, z, &fissure);
                    const double posterior = std::clamp((y - an.lungCy) / an.lungRy, -1.0, 1.0);
                    value = float(-865 + 25 * posterior);  // dependent density gradient
                    if (fissure < 0.7) value = -720.f;
                } else {
                    value = 35.f;  // mediastinum / upper abdomen
                    const double t = an.t(z);
                    if (t > 0.75 && x < 0.02 * an.ax && !an.inHeart(x, y, z, 1.1))
                        value = 58.f;                              // liver
                    if (an.inHeart(x, y, z, 1.08)) value = -80.f;  // pericardial fat
                    if (an.inHeart(x, y, z)) value = 40.f;
                }
                // Spine: vertebral body (cortex, cancellous bone, discs), canal, posterior arch.
                const double sy = y - an.spineY;
                const double rv = std::sqrt(x * x + sy * sy);
                if (rv < an.spineR) {
                    const double phase = std::fmod(z - an.zMin, vertebraPeriod);
                    value = phase < 4.5 * sc ? 85.f : (rv > 0.82 * an.spineR ? 650.f : 230.f);
                } else {
                    const double canalY = an.spineY + an.spineR + 0.04 * an.halfFov;
                    const double cy = y - canalY;
                    if (x * x + cy * cy < std::pow(0.035 * an.halfFov, 2)) {
                        value = 15.f;
                    } else if (std::fabs(x) < 0.018 * an.halfFov &&
                               y > canalY + 0.02 * an.halfFov && y < canalY + 0.13 * an.halfFov &&
                               r2 < 0.95) {
                        value = 550.f;  // spinous process
                    } else if (std::fabs(cy) < 0.015 * an.halfFov &&
                               std::fabs(x) < 0.07 * an.halfFov &&
                               std::fabs(x) > 0.03 * an.halfFov) {
                        value = 550.f;  // laminae
                    }
                }
                // Sternum.
                const double stx = x / (0.05 * an.halfFov),
                             sty = (y - (an.bodyCy - 0.84 * an.ay)) / (0.025 * an.halfFov);
                if (stx * stx + sty * sty < 1 && an.t(z) > 0.1 && an.t(z) < 0.8) value = 450.f;
                hu[g.idx(i, j, k)] = value;
            }
        }
    }

    // 2. Ribs: 12 pairs that drop from posterior to anterior.
    const double lungHeight = an.zApex - an.zBase;
    for (int rib = 0; rib < 12; ++rib) {
        const double zPost = an.zApex + 0.02 * an.coverage - rib * lungHeight * 0.075;
        const double drop = 0.10 * an.coverage;
        for (int side = -1; side <= 1; side += 2) {
            std::vector<Tube> segments;
            Vec3 prev{};
            for (int step = 0; step <= 40; ++step) {
                const double phi = 0.3 + (2.55 - 0.3) * step / 40.0;
                const double inset = 0.895;
                const Vec3 p{side * an.ax * inset * std::sin(phi),
                             an.bodyCy + an.ay * inset * std::cos(phi),
                             zPost - drop * (1 - std::cos(phi)) / 2};
                if (step > 0)
                    segments.push_back({prev, p, 3.2 * std::sqrt(sc), 3.2 * std::sqrt(sc)});
                prev = p;
            }
            for (const auto& s : segments)
                paintTube(g, s, 620.f, 1.0, [](float) { return true; });
        }
    }

    // 3. Aorta, trachea and main bronchi, then vessel and airway trees in each lung.
    const double rs = std::sqrt(sc);
    const Vec3 archTop{0.02 * an.ax, an.bodyCy - 0.05 * an.ay, an.zCarina + 0.07 * an.coverage};
    const Vec3 descTop{0.16 * an.ax, an.spineY - an.spineR - 0.06 * an.halfFov,
                       an.zCarina + 0.05 * an.coverage};
    const std::vector<Tube> aorta = {
        {{0.05 * an.ax, an.heartC[1] + 0.1 * an.ay, an.heartC[2] + 0.5 * an.heartR[2]},
         archTop,
         12 * rs,
         12 * rs},
        {archTop, descTop, 11 * rs, 11 * rs},
        {descTop, {descTop[0], descTop[1], an.zMin - 5}, 10.5 * rs, 10 * rs}};
    for (const auto& t : aorta)
        paintTube(g, t, 42.f, 1.0, [](float cur) { return cur < 300; });

    std::vector<Tube> vessels, airways;
    const Vec3 carina{0, an.bodyCy - 0.02 * an.ay, an.zCarina};
    const Vec3 tracheaTop{0, an.bodyCy - 0.08 * an.ay, an.zMax + 10};
    airways.push_back({tracheaTop, carina, 8.5 * rs, 8 * rs});
    for (int side = 0; side < 2; ++side) {
        const double sgn = side == 0 ? -1 : 1;
        const Vec3 hilum{sgn * 0.22 * an.ax, an.lungCy - 0.05 * an.ay, an.zHilum};
        airways.push_back({carina, hilum, 6.5 * rs, 5.5 * rs});
        // Three lobar stems per side toward the upper, middle (lingula) and lower regions.
        const double zTargets[3] = {an.zApex - 0.25 * lungHeight, an.zHilum - 0.1 * lungHeight,
                                    an.zBase + 0.2 * lungHeight};
        const double yTargets[3] = {0.0, -0.5, 0.45};
        for (int stem = 0; stem < 3; ++stem) {
            const Vec3 target{an.lungCx[side], an.lungCy + yTargets[stem] * an.lungRy,
                              zTargets[stem]};
            const Vec3 dir = normalized(sub(target, hilum));
            const double len = 0.22 * norm(sub(target, hilum)) + 10 * sc;
            Vec3 arteryStart = add(hilum, Vec3{0, -3 * rs, 3 * rs});
            growTree(an, rng, arteryStart, dir, len, 5.0 * rs, 1, 8, 0.55, &vessels);
            Vec3 veinDir =
                normalized(add(dir, Vec3{rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), -0.2}));
            growTree(an, rng, add(hilum, Vec3{0, 6 * rs, -12 * rs}), veinDir, len, 4.5 * rs, 1, 7,
                     0.6, &vessels);
            growTree(an, rng, hilum, dir, len, 4.0 * rs, 1, 6, 0.9, &airways);
        }
    }
    for (const auto& t : vessels)
        paintTube(g, t, 38.f, 1.0, [](float cur) { return cur < 200; });
    for (const auto& t : airways) {
        if (t.ra > 3.0)
            paintTube(g, t, 30.f, 1.25, [](float cur) { return cur < 200; });  // wall
        else
            paintTube(g, t, -50.f, 1.35,
                      [](float cur) { return cur < -500; });  // thin wall in lung
    }
    for (const auto& t : airways)
        paintTube(g, t, -1000.f, 1.0, [](float cur) { return cur < 200; });

    // 4. Nodules in known lobes.
    const Lobe kLobes[5] = {Lobe::RightUpper, Lobe::RightMiddle, Lobe::RightLower, Lobe::LeftUpper,
                            Lobe::LeftLower};
    for (int n = 0; n < nodules; ++n) {
        PhantomNodule nod;
        const double u = rng.uniform();
        nod.type = u < 0.6 ? NoduleType::Solid
                           : (u < 0.8 ? NoduleType::PartSolid : NoduleType::GroundGlass);
        const double d = 4.0 + 26.0 * std::pow(rng.uniform(), 2.0);
        nod.diameterMm = std::round(d * 10) / 10;
        nod.solidDiameterMm = nod.type == NoduleType::Solid ? nod.diameterMm
                              : nod.type == NoduleType::PartSolid
                                  ? std::round(nod.diameterMm * rng.uniform(0.3, 0.65) * 10) / 10
                                  : 0.0;
        const Lobe wanted = kLobes[rng.integer(0, 4)];
        bool placed = false;
        for (int attempt = 0; attempt < 4000 && !placed; ++attempt) {
            const int side = (wanted == Lobe::LeftUpper || wanted == Lobe::LeftLower) ? 1 : 0;
            const Vec3 p{an.lungCx[side] + rng.uniform(-1, 1) * an.lungRx,
                         an.lungCy + rng.uniform(-1, 1) * an.lungRy,
                         rng.uniform(an.zBase, an.zApex)};
            const double r = nod.diameterMm / 2;
            if (!an.inLung(p[0], p[1], p[2], r + 3)) continue;
            double fissure = 0;
            if (an.lobeAt(p[0], p[1], p[2], &fissure) != wanted || fissure < r + 2) continue;
            if (p[2] - r < v.origin[2] + 2 * dz || p[2] + r > v.origin[2] + (slices - 3) * dz)
                continue;
            bool clear = true;
            for (const auto& other : c.nodules)
                clear = clear && norm(sub(other.centre, p)) > r + other.diameterMm / 2 + 5;
            if (!clear) continue;
            nod.centre = p;
            nod.lobe = wanted;
            placed = true;
        }
        if (!placed) continue;
        nod.lungRads = lungRadsCategory(nod.type, nod.diameterMm, nod.solidDiameterMm);
        // Paint: ground-glass halo and/or solid core, slightly lobulated, partial volume at the
        // edge.
        const double outer = nod.diameterMm / 2, core = nod.solidDiameterMm / 2;
        const double lobA = rng.uniform(0, 2 * kPi), lobB = rng.uniform(0, 2 * kPi);
        const Vec3 idx{(nod.centre[0] - v.origin[0]) / ps, (nod.centre[1] - v.origin[1]) / ps,
                       (nod.centre[2] - v.origin[2]) / dz};
        const int ri = int(std::ceil((outer + 2) / ps)), rk = int(std::ceil((outer + 2) / dz));
        for (int k = std::max(0, int(idx[2]) - rk); k <= std::min(slices - 1, int(idx[2]) + rk);
             ++k)
            for (int j = std::max(0, int(idx[1]) - ri); j <= std::min(matrix - 1, int(idx[1]) + ri);
                 ++j)
                for (int i = std::max(0, int(idx[0]) - ri);
                     i <= std::min(matrix - 1, int(idx[0]) + ri); ++i) {
                    const Vec3 p = g.pos(i, j, k);
                    const Vec3 rel = sub(p, nod.centre);
                    const double dist = norm(rel);
                    const double theta = std::atan2(rel[1], rel[0]);
                    const double phi =
                        dist > 0 ? std::acos(std::clamp(rel[2] / dist, -1.0, 1.0)) : 0;
                    const double lobulation =
                        1 + 0.06 * std::sin(3 * theta + lobA) * std::sin(2 * phi + lobB);
                    float& value = hu[g.idx(i, j, k)];
                    if (nod.type != NoduleType::Solid) {
                        const double a =
                            smoothstep(outer * lobulation + 0.6, outer * lobulation - 0.6, dist);
                        value = float(value * (1 - a) + (-610.0) * a);
                    }
                    if (core > 0) {
                        const double a =
                            smoothstep(core * lobulation + 0.6, core * lobulation - 0.6, dist);
                        value = float(value * (1 - a) + 32.0 * a);
                    }
                }
        c.nodules.push_back(nod);
    }

    // 5. Noise, quantisation to int16 HU.
    v.voxelsI16.resize(hu.size());
    for (size_t i = 0; i < hu.size(); ++i) {
        const double noisy =
            hu[i] + (hu[i] > -990 ? o.noiseHu * rng.normal() : 0.3 * o.noiseHu * rng.normal());
        v.voxelsI16[i] = int16_t(std::clamp(std::lround(noisy), -1024L, 3071L));
    }

    // Truth, patient, questions, metadata.
    c.lungRads = "1";
    for (const auto& n : c.nodules)
        if (categoryRank(n.lungRads) > categoryRank(c.lungRads)) c.lungRads = n.lungRads;
    PatientRecord& pr = c.patient;
    pr.age = rng.integer(50, 80);
    pr.sex = rng.uniform() < 0.5 ? "M" : "F";
    pr.packYears = std::round(rng.uniform(20, 70));
    pr.yearsSinceQuit = rng.uniform() < 0.5 ? -1 : rng.integer(1, 14);
    std::ostringstream rec;
    rec << pr.age << "-year-old " << (pr.sex == "M" ? "man" : "woman") << ", "
        << (pr.yearsSinceQuit < 0 ? "current smoker"
                                  : "former smoker who quit " + std::to_string(pr.yearsSinceQuit) +
                                        (pr.yearsSinceQuit == 1 ? " year ago" : " years ago"))
        << ", with a " << int(pr.packYears)
        << " pack-year smoking history. Referred for lung cancer screening with "
        << "low-dose chest CT. "
        << (rng.uniform() < 0.5 ? "No respiratory symptoms."
                                : "Mild exertional dyspnoea, no haemoptysis.")
        << " No prior chest CT available for comparison.";
    pr.text = rec.str();

    const PhantomNodule* largest = nullptr;
    for (const auto& n : c.nodules)
        if (!largest || n.diameterMm > largest->diameterMm) largest = &n;
    c.questions.push_back({"Are there any lung nodules in this scan?",
                           c.nodules.empty()
                               ? "No lung nodules are seen."
                               : "Yes, " + std::to_string(c.nodules.size()) + " nodule" +
                                     (c.nodules.size() > 1 ? "s." : ".")});
    c.questions.push_back(
        {"What is the Lung-RADS category of this scan?", "Lung-RADS " + c.lungRads + "."});
    if (largest)
        c.questions.push_back({"Where is the largest nodule and how big is it?",
                               fmt1(largest->diameterMm) + " mm " + noduleTypeCode(largest->type) +
                                   " nodule in the " + lobeName(largest->lobe) + "."});
    c.questions.push_back({"What follow-up do you recommend?", followUp(c.lungRads)});

    static const char* kSurnames[] = {"Miller",    "Novak", "Tanaka", "Okafor",   "Garcia",
                                      "Lindqvist", "Rossi", "Dubois", "Kowalski", "Haddad"};
    static const char* kMale[] = {"James", "Piotr", "Kenji", "Emeka",
                                  "Luis",  "Erik",  "Marco", "Louis"};
    static const char* kFemale[] = {"Anna",  "Maria",  "Yuki",   "Ngozi",
                                    "Elena", "Ingrid", "Giulia", "Claire"};
    CtSeriesMetadata& m = c.metadata;
    if (rng.uniform() < 0.15) {
        m.patientName = pr.sex == "M" ? "Wang^Wei=王^伟" : "Li^Na=李^娜";
    } else {
        m.patientName = std::string(kSurnames[rng.integer(0, 9)]) + "^" +
                        (pr.sex == "M" ? kMale[rng.integer(0, 7)] : kFemale[rng.integer(0, 7)]);
    }
    const std::string key = "consilium-phantom/" + std::to_string(o.seed);
    char id[32];
    std::snprintf(id, sizeof id, "SYN%08llu",
                  static_cast<unsigned long long>(o.seed % 100000000ull));
    m.patientId = id;
    m.patientSex = pr.sex;
    char age[8];
    std::snprintf(age, sizeof age, "%03dY", pr.age);
    m.patientAge = age;
    m.patientBirthDate = std::to_string(2026 - pr.age) + "0615";
    m.studyInstanceUid = deterministicUid(key + "/study");
    m.seriesInstanceUid = deterministicUid(key + "/series");
    m.frameOfReferenceUid = deterministicUid(key + "/frame-of-reference");
    m.accessionNumber = std::string("A") + std::to_string(o.seed % 1000000);
    m.studyDescription = "LDCT lung cancer screening (synthetic)";
    m.seriesDescription = "Chest 1.0 synthetic phantom";
    m.manufacturer = "Consilium synthetic phantom";
    m.sliceThickness = dz;
    for (int k = 0; k < slices; ++k) {
        const std::string uid = deterministicUid(key + "/image/" + std::to_string(k));
        m.sopInstanceUids.push_back(uid);
        v.slices.push_back(
            SliceInfo{uid, "", 0, {v.origin[0], v.origin[1], v.origin[2] + k * dz}, 1.0, 0.0});
    }
    return c;
}

Result<std::vector<uint8_t>> phantomLobeGrid(const PhantomOptions& options,
                                             std::array<int, 3> outDims) {
    if (outDims[0] < 1 || outDims[1] < 1 || outDims[2] < 1 ||
        double(outDims[0]) * outDims[1] * outDims[2] > 2147483647.0)
        return makeError(ErrorCode::InvalidArgument, "invalid lobe grid");
    Rng rng(options.seed ^ 0xC0F5E11A2026ull);
    auto layout = drawLayout(options, rng);
    if (!layout) return layout.error();
    const Layout& l = layout.value();
    const auto [W, H, D] = outDims;
    std::vector<uint8_t> labels(size_t(W) * size_t(H) * size_t(D));
    // Grid voxel centres in source voxel indices, as resampleToGrid places them: in-plane the
    // image edges map onto each other, along z the first and last slice centres.
    for (int k = 0; k < D; ++k) {
        const double zi = D == 1 ? (l.slices - 1) / 2.0 : double(k) * (l.slices - 1) / (D - 1);
        const double z = l.origin[2] + zi * l.dz;
        for (int j = 0; j < H; ++j) {
            const double y = l.origin[1] + ((j + 0.5) * l.matrix / H - 0.5) * l.ps;
            for (int i = 0; i < W; ++i) {
                const double x = l.origin[0] + ((i + 0.5) * l.matrix / W - 0.5) * l.ps;
                const size_t at = (size_t(k) * size_t(H) + size_t(j)) * size_t(W) + size_t(i);
                labels[at] = l.an.inLung(x, y, z) ? uint8_t(1 + int(l.an.lobeAt(x, y, z))) : 0;
            }
        }
    }
    return labels;
}

std::string phantomTruthJson(const PhantomCase& c) {
    std::ostringstream j;
    j.precision(10);
    const Volume& v = c.volume;
    j << "{\n  \"generator\": \"consilium synthetic chest CT phantom\",\n  \"seed\": " << c.seed
      << ",\n";
    j << "  \"study_instance_uid\": \"" << c.metadata.studyInstanceUid << "\",\n";
    j << "  \"series_instance_uid\": \"" << c.metadata.seriesInstanceUid << "\",\n";
    j << "  \"dims\": [" << v.dims[0] << ", " << v.dims[1] << ", " << v.dims[2] << "],\n";
    j << "  \"spacing_mm\": [" << v.spacing[0] << ", " << v.spacing[1] << ", " << v.spacing[2]
      << "],\n";
    j << "  \"origin_lps_mm\": [" << v.origin[0] << ", " << v.origin[1] << ", " << v.origin[2]
      << "],\n";
    j << "  \"lung_rads\": \"" << c.lungRads
      << "\",\n  \"lung_rads_version\": \"v2022\",\n  \"nodules\": [";
    for (size_t i = 0; i < c.nodules.size(); ++i) {
        const auto& n = c.nodules[i];
        j << (i ? ",\n" : "\n") << "    {\"centre_lps_mm\": [" << n.centre[0] << ", " << n.centre[1]
          << ", " << n.centre[2] << "], \"diameter_mm\": " << n.diameterMm
          << ", \"solid_diameter_mm\": " << n.solidDiameterMm << ", \"type\": \""
          << noduleTypeCode(n.type) << "\", \"lobe\": \"" << lobeCode(n.lobe)
          << "\", \"lung_rads\": \"" << n.lungRads << "\"}";
    }
    j << (c.nodules.empty() ? "],\n" : "\n  ],\n");
    const auto& p = c.patient;
    j << "  \"patient\": {\"name\": \"" << jsonEscape(c.metadata.patientName) << "\", \"id\": \""
      << c.metadata.patientId << "\", \"age\": " << p.age << ", \"sex\": \"" << p.sex
      << "\", \"pack_years\": " << p.packYears << ", \"years_since_quitting\": "
      << (p.yearsSinceQuit < 0 ? std::string("null") : std::to_string(p.yearsSinceQuit))
      << ", \"current_smoker\": " << (p.yearsSinceQuit < 0 ? "true" : "false") << ", \"record\": \""
      << jsonEscape(p.text) << "\"},\n  \"questions\": [";
    for (size_t i = 0; i < c.questions.size(); ++i)
        j << (i ? ",\n" : "\n") << "    {\"question\": \"" << jsonEscape(c.questions[i].first)
          << "\", \"answer\": \"" << jsonEscape(c.questions[i].second) << "\"}";
    j << "\n  ]\n}\n";
    return j.str();
}

Status writePhantomCase(const PhantomCase& c, const std::string& dir,
                        const DicomWriteOptions& options) {
    if (Status s = writeCtSeries(c.volume, c.metadata, (fs::path(dir) / "dicom").string(), options);
        !s)
        return s;
    auto writeText = [&](const char* name, const std::string& text) -> Status {
        const std::string path = (fs::path(dir) / name).string();
        std::ofstream out(path, std::ios::binary);
        out << text;
        if (!out) return makeError(ErrorCode::IoError, "cannot write " + path);
        return Status::success();
    };
    if (Status s = writeText("truth.json", phantomTruthJson(c)); !s) return s;
    if (Status s = writeText("patient_record.txt", c.patient.text + "\n"); !s) return s;
    std::string questions;
    for (const auto& q : c.questions)
        questions += q.first + "\n";
    return writeText("questions.txt", questions);
}

}  // namespace consilium::imaging
