// Norms, activations, softmax, RoPE, attention, MoE routing, embeddings, conv/patch
// embedding: fast paths against references, and references against direct formulas.
#include <QtTest>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"

using namespace consilium::kernels;

namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = nd(rng);
    return v;
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i)
        m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

const int kSizes[] = {1, 7, 16, 33, 64, 100, 896, 4099};

}  // namespace

class TestOps : public QObject {
    Q_OBJECT
  private slots:
    void norms() {
        for (int n : kSizes) {
            auto x = randn(size_t(n), uint32_t(n), 3.0f), w = randn(size_t(n), 1),
                 b = randn(size_t(n), 2);
            std::vector<float> r(static_cast<size_t>(n)), f(static_cast<size_t>(n)),
                direct(static_cast<size_t>(n));
            double ss = 0;
            for (float v : x)
                ss += double(v) * v;
            for (int i = 0; i < n; ++i)
                direct[size_t(i)] = float(x[size_t(i)] / std::sqrt(ss / n + 1e-5) * w[size_t(i)]);
            rmsNormRef(x.data(), w.data(), r.data(), n, 1e-5f);
            QVERIFY2(maxAbsDiff(r, direct) < 1e-5, "rmsNormRef vs formula");
            rmsNorm(x.data(), w.data(), f.data(), n, 1e-5f);
            QVERIFY2(maxAbsDiff(r, f) < 2e-5, "rmsNorm fast vs reference");
            layerNormRef(x.data(), w.data(), b.data(), r.data(), n, 1e-5f);
            layerNorm(x.data(), w.data(), b.data(), f.data(), n, 1e-5f);
            QVERIFY2(maxAbsDiff(r, f) < 2e-5, "layerNorm fast vs reference");
            // Fused LayerNorm+GeLU against the unfused path.
            std::vector<float> unfused(static_cast<size_t>(n));
            geluRef(r.data(), unfused.data(), n);
            layerNormGelu(x.data(), w.data(), b.data(), f.data(), n, 1e-5f);
            QVERIFY2(maxAbsDiff(unfused, f) < 3e-5, "layerNormGelu vs layerNorm + gelu");
        }
        // LayerNorm without affine: zero mean, unit variance.
        auto x = randn(256, 9, 5.0f);
        std::vector<float> y(256);
        layerNorm(x.data(), nullptr, nullptr, y.data(), 256, 1e-6f);
        double m = 0, v = 0;
        for (float e : y)
            m += e;
        m /= 256;
        for (float e : y)
            v += (e - m) * (e - m);
        QVERIFY(std::fabs(m) < 1e-5);
        QVERIFY(std::fabs(v / 256 - 1.0) < 1e-4);
    }

    void activations() {
        for (int n : kSizes) {
            auto x = randn(size_t(n), uint32_t(n + 5), 4.0f), u = randn(size_t(n), 3);
            x[0] = -100.0f;
            std::vector<float> r(static_cast<size_t>(n)), f(static_cast<size_t>(n));
            geluRef(x.data(), r.data(), n);
            gelu(x.data(), f.data(), n);
            QVERIFY2(maxAbsDiff(r, f) < 2e-6 * 4 + 1e-6, "gelu");
            siluRef(x.data(), r.data(), n);
            silu(x.data(), f.data(), n);
            QVERIFY2(maxAbsDiff(r, f) < 1e-5, "silu");
            QVERIFY(std::fabs(r[0]) < 1e-30f ||
                    std::fabs(r[0] + 100.0f * std::exp(-100.0f)) < 1e-30f);
            swigluRef(x.data(), u.data(), r.data(), n);
            swiglu(x.data(), u.data(), f.data(), n);
            QVERIFY2(maxAbsDiff(r, f) < 1e-5, "swiglu");
            for (int i = 0; i < n; ++i) {
                const float want = x[size_t(i)] / (1.0f + std::exp(-x[size_t(i)])) * u[size_t(i)];
                QVERIFY(std::fabs(r[size_t(i)] - want) < 1e-6f * (1 + std::fabs(want)));
            }
        }
        float g[3] = {0.0f, 1.0f, -1.0f}, out[3];
        geluRef(g, out, 3);
        QVERIFY(std::fabs(out[1] - 0.841192f) < 1e-5f);  // tanh-GeLU(1)
        QVERIFY(std::fabs(out[2] + 0.158808f) < 1e-5f);
    }

    void softmaxes() {
        for (int n : kSizes) {
            auto x = randn(size_t(n), uint32_t(n + 11), 10.0f);
            auto r = x, f = x;
            softmaxRef(r.data(), n);
            softmax(f.data(), n);
            QVERIFY2(maxAbsDiff(r, f) < 1e-6, "softmax fast vs reference");
            double s = 0;
            for (float v : f)
                s += v;
            QVERIFY(std::fabs(s - 1.0) < 1e-5);
        }
        float big[2] = {1000.0f, 1000.0f};
        softmax(big, 2);
        QCOMPARE(big[0], 0.5f);
    }

    void ropeStyles() {
        const int heads = 3, hd = 16;
        for (int pos : {0, 1, 7, 1000}) {
            auto x = randn(size_t(heads * hd), uint32_t(pos + 1));
            auto normal = x, neox = x;
            rope(normal.data(), heads, hd, hd, pos, 10000.0f, RopeStyle::Normal);
            rope(neox.data(), heads, hd, hd, pos, 10000.0f, RopeStyle::Neox);
            for (int h = 0; h < heads; ++h) {
                for (int i = 0; i < hd / 2; ++i) {
                    const double th = pos * std::pow(10000.0, -2.0 * i / hd);
                    const float* v = x.data() + h * hd;
                    // Normal: complex rotation of (v[2i], v[2i+1]).
                    const double a = v[2 * i] * std::cos(th) - v[2 * i + 1] * std::sin(th);
                    const double b = v[2 * i] * std::sin(th) + v[2 * i + 1] * std::cos(th);
                    QVERIFY(std::fabs(normal[h * hd + 2 * i] - a) < 2e-4);
                    QVERIFY(std::fabs(normal[h * hd + 2 * i + 1] - b) < 2e-4);
                    // NeoX: (v[i], v[i + d/2]).
                    const double c = v[i] * std::cos(th) - v[i + hd / 2] * std::sin(th);
                    const double d = v[i] * std::sin(th) + v[i + hd / 2] * std::cos(th);
                    QVERIFY(std::fabs(neox[h * hd + i] - c) < 2e-4);
                    QVERIFY(std::fabs(neox[h * hd + i + hd / 2] - d) < 2e-4);
                }
            }
            if (pos == 0) QCOMPARE(maxAbsDiff(normal, x), 0.0);
        }
        // Partial rotation leaves the tail alone.
        auto x = randn(32, 4);
        auto y = x;
        rope(y.data(), 1, 32, 8, 5, 10000.0f, RopeStyle::Neox);
        for (int i = 8; i < 32; ++i)
            QCOMPARE(y[size_t(i)], x[size_t(i)]);
    }

    void attentionVariants_data() {
        QTest::addColumn<int>("nQ");
        QTest::addColumn<int>("qPos0");
        QTest::addColumn<int>("nKv");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("kvHeads");
        QTest::addColumn<bool>("causal");
        QTest::addColumn<int>("window");
        QTest::newRow("prefill_causal_gqa") << 9 << 0 << 9 << 4 << 2 << true << 0;
        QTest::newRow("decode_causal") << 1 << 12 << 13 << 4 << 4 << true << 0;
        QTest::newRow("sliding_window") << 20 << 0 << 20 << 2 << 1 << true << 5;
        QTest::newRow("chunk_after_cache") << 4 << 6 << 10 << 6 << 2 << true << 0;
        QTest::newRow("cross") << 5 << 0 << 17 << 4 << 2 << false << 0;
    }

    void attentionVariants() {
        QFETCH(int, nQ);
        QFETCH(int, qPos0);
        QFETCH(int, nKv);
        QFETCH(int, heads);
        QFETCH(int, kvHeads);
        QFETCH(bool, causal);
        QFETCH(int, window);
        const int hd = 32;
        AttentionParams p{heads, kvHeads, hd, 1.0f / std::sqrt(float(hd)), causal, window};
        auto q = randn(size_t(nQ * heads * hd), 1), k = randn(size_t(nKv * kvHeads * hd), 2),
             v = randn(size_t(nKv * kvHeads * hd), 3);
        std::vector<float> outR(q.size()), outF(q.size()), probsR(size_t(nQ * heads * nKv)),
            probsF(probsR.size()), scratch(size_t(attentionScratchFloats(p, nKv)));
        attentionRef(q.data(), nQ, qPos0, k.data(), v.data(), nKv, p, outR.data(), probsR.data(),
                     scratch.data());
        ThreadPool pool(2);
        attention(q.data(), nQ, qPos0, k.data(), v.data(), nKv, p, outF.data(), probsF.data(),
                  scratch.data(), &pool);
        QVERIFY(maxAbsDiff(outR, outF) < 1e-5);
        QVERIFY(maxAbsDiff(probsR, probsF) < 1e-6);
        // Direct formula in double with an explicit mask.
        for (int i = 0; i < nQ; ++i) {
            const int pos = qPos0 + i;
            for (int h = 0; h < heads; ++h) {
                const int kvh = h / (heads / kvHeads);
                std::vector<double> s(size_t(nKv), -INFINITY);
                double mx = -INFINITY;
                for (int j = 0; j < nKv; ++j) {
                    const bool visible = !causal || (j <= pos && (window == 0 || j > pos - window));
                    if (!visible) continue;
                    double d = 0;
                    for (int c = 0; c < hd; ++c)
                        d += double(q[size_t((i * heads + h) * hd + c)]) *
                             k[size_t((j * kvHeads + kvh) * hd + c)];
                    s[size_t(j)] = d / std::sqrt(double(hd));
                    mx = std::max(mx, s[size_t(j)]);
                }
                double z = 0;
                for (auto& e : s)
                    z += (e = std::exp(e - mx));
                for (int c = 0; c < hd; ++c) {
                    double o = 0;
                    for (int j = 0; j < nKv; ++j)
                        o += s[size_t(j)] / z * v[size_t((j * kvHeads + kvh) * hd + c)];
                    QVERIFY(std::fabs(outR[size_t((i * heads + h) * hd + c)] - o) < 1e-5);
                }
                for (int j = 0; j < nKv; ++j) {
                    QVERIFY(std::fabs(probsR[size_t((i * heads + h) * nKv + j)] -
                                      s[size_t(j)] / z) < 1e-6);
                }
            }
        }
    }

    void moeRouting() {
        const float logits[4] = {1.0f, 3.0f, 2.0f, 0.0f};
        int ids[2];
        float w[2];
        moeRoute(logits, 4, 2, ids, w);
        QCOMPARE(ids[0], 1);
        QCOMPARE(ids[1], 2);
        const float e = std::exp(1.0f);
        QVERIFY(std::fabs(w[0] - e / (e + 1.0f)) < 1e-6f);
        QVERIFY(std::fabs(w[0] + w[1] - 1.0f) < 1e-6f);
        moeRoute(logits, 4, 2, ids, w, false);
        const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + 1.0;
        QVERIFY(std::fabs(w[0] - std::exp(3.0) / z) < 1e-6);
        const int routes[] = {2, 0, 1, 2, 2, 3};  // 3 tokens x top-2
        int offsets[5], order[6];
        moeDispatch(routes, 3, 2, 4, offsets, order);
        const int wantOffsets[] = {0, 1, 2, 5, 6};
        for (int i = 0; i < 5; ++i)
            QCOMPARE(offsets[i], wantOffsets[i]);
        const int wantOrder[] = {1, 2, 0, 3, 4, 5};
        for (int i = 0; i < 6; ++i)
            QCOMPARE(order[i], wantOrder[i]);
    }

    void embeddings() {
        auto table = randn(10 * 64, 5);
        const size_t rb = dtypeRowBytes(DType::Q8_0, 64);
        std::vector<uint8_t> q(10 * rb);
        for (int r = 0; r < 10; ++r)
            convertRow(DType::Q8_0, table.data() + r * 64, q.data() + r * rb, 64);
        const MatrixView m{DType::Q8_0, q.data(), 10, 64, rb};
        const int32_t ids[3] = {7, 0, 7};
        std::vector<float> y(3 * 64), want(64);
        QVERIFY(embeddingLookup(m, ids, 3, y.data()));
        dequantizeRow(DType::Q8_0, q.data() + 7 * rb, want.data(), 64);
        for (int c = 0; c < 64; ++c) {
            QCOMPARE(y[size_t(c)], want[size_t(c)]);
            QCOMPARE(y[size_t(128 + c)], want[size_t(c)]);
            QVERIFY(std::fabs(y[size_t(c)] - table[size_t(7 * 64 + c)]) < 0.05f);
        }
        const int32_t bad[1] = {10};
        QVERIFY(!embeddingLookup(m, bad, 1, y.data()));
    }

    void convolutions() {
        // conv1d: hand-computed case. x = [1 2 3 4], w = [1 0 -1], pad 1, stride 1, b = 0.5
        const float x[4] = {1, 2, 3, 4}, w[3] = {1, 0, -1}, b = 0.5f;
        float y[4];
        conv1dRef(x, 1, 4, w, &b, 1, 3, 1, 1, y);
        const float want[4] = {0.5f - 2, 0.5f + 1 - 3, 0.5f + 2 - 4, 0.5f + 3};
        for (int i = 0; i < 4; ++i)
            QCOMPARE(y[i], want[i]);
        // Patch embedding == stride-p convolution computed directly.
        const int c = 3, h = 8, wd = 12, p = 4, dim = 5, k = c * p * p;
        auto img = randn(size_t(c * h * wd), 8), proj = randn(size_t(dim * k), 9),
             bias = randn(dim, 10);
        std::vector<uint8_t> scratch(patchEmbedScratchBytes(c, h, wd, p, DType::F32));
        std::vector<float> out(size_t((h / p) * (wd / p) * dim));
        patchEmbed(img.data(), c, h, wd, p, {DType::F32, proj.data(), dim, k, size_t(k) * 4},
                   bias.data(), out.data(), scratch.data(), nullptr);
        for (int py = 0; py < h / p; ++py)
            for (int px = 0; px < wd / p; ++px)
                for (int d = 0; d < dim; ++d) {
                    double s = bias[size_t(d)];
                    for (int ch = 0; ch < c; ++ch)
                        for (int yy = 0; yy < p; ++yy)
                            for (int xx = 0; xx < p; ++xx)
                                s += double(proj[size_t(d * k + (ch * p + yy) * p + xx)]) *
                                     img[size_t((ch * h + py * p + yy) * wd + px * p + xx)];
                    QVERIFY(std::fabs(out[size_t((py * (wd / p) + px) * dim + d)] - s) < 1e-4);
                }
    }

    // The 3x3x3 CT convolution (docs/MODEL.md 5.1b): the reference against one voxel summed
    // by hand, then every path (plain, AVX2, AVX-512 where the CPU has them) with and
    // without the pool against the reference, for channel counts that take the vector paths
    // (8, 16, 32, 48) and ones that do not (1, 4, 12), odd sizes and both strides.
    void conv3x3x3Paths() {
        {
            // One input channel of ones, weights 1..27, bias 0.5: the corner voxel of a
            // 2x2x2 map sees the 8 taps with kz, ky, kx in {1, 2}.
            const float x[8] = {1, 1, 1, 1, 1, 1, 1, 1};
            float w[27], y[8];
            for (int t = 0; t < 27; ++t)
                w[t] = float(t + 1);
            const float b = 0.5f;
            const int64_t stride[3] = {1, 1, 1};
            conv3x3x3Ref(x, 2, 2, 2, 1, w, &b, 1, stride, y);
            float want = b;
            for (int kz = 1; kz < 3; ++kz)
                for (int ky = 1; ky < 3; ++ky)
                    for (int kx = 1; kx < 3; ++kx)
                        want += w[(kz * 3 + ky) * 3 + kx];
            QCOMPARE(y[0], want);
        }
        ThreadPool pool(2);
        struct Case {
            int64_t D, H, W, cin, cout, sz, sy, sx;
        };
        const Case cases[] = {{5, 9, 7, 1, 8, 2, 2, 2},   {4, 6, 10, 8, 16, 1, 1, 1},
                              {6, 8, 8, 16, 32, 2, 2, 2}, {3, 5, 6, 32, 32, 1, 2, 2},
                              {4, 4, 4, 3, 48, 1, 1, 1},  {3, 7, 5, 2, 4, 1, 1, 1},
                              {4, 6, 6, 5, 12, 2, 1, 2},  {2, 3, 3, 1, 1, 1, 1, 1}};
        int seed = 20;
        for (const Case& c : cases) {
            const auto x = randn(size_t(c.D * c.H * c.W * c.cin), uint32_t(seed++));
            const auto w = randn(size_t(c.cout * c.cin * 27), uint32_t(seed++));
            const auto b = randn(size_t(c.cout), uint32_t(seed++));
            const int64_t stride[3] = {c.sz, c.sy, c.sx};
            const int64_t n =
                ((c.D - 1) / c.sz + 1) * ((c.H - 1) / c.sy + 1) * ((c.W - 1) / c.sx + 1) * c.cout;
            std::vector<float> want(static_cast<size_t>(n));
            conv3x3x3Ref(x.data(), c.D, c.H, c.W, c.cin, w.data(), b.data(), c.cout, stride,
                         want.data());
            std::vector<uint8_t> scratch(conv3x3x3ScratchBytes(c.cin, c.cout));
            for (KernelPath path : {KernelPath::Reference, KernelPath::Avx2, KernelPath::Avx512}) {
                if (!kernelPathUsable(path)) {
                    qInfo("%s not usable here: not tested", kernelPathName(path));
                    continue;
                }
                for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
                    std::vector<float> got(size_t(n), -1.f);
                    conv3x3x3(x.data(), c.D, c.H, c.W, c.cin, w.data(), b.data(), c.cout, stride,
                              got.data(), scratch.data(), p, path);
                    for (int64_t i = 0; i < n; ++i)
                        QVERIFY2(std::fabs(got[size_t(i)] - want[size_t(i)]) <
                                     1e-4f * (1.f + std::fabs(want[size_t(i)])),
                                 qPrintable(QString("%1 cin %2 cout %3 element %4: %5 vs %6")
                                                .arg(kernelPathName(path))
                                                .arg(c.cin)
                                                .arg(c.cout)
                                                .arg(i)
                                                .arg(got[size_t(i)])
                                                .arg(want[size_t(i)])));
                }
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestOps)
#include "test_ops.moc"
