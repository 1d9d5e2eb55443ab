// GEMV/GEMM parity: every usable fast path against the plain reference, and the reference
// against float maths on the dequantised weights, over a grid of shapes and weight types.
#include <QtTest>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"

using namespace consilium::kernels;

namespace {

struct Case {
    DType type;
    int64_t rows, cols, tokens;
};

std::vector<KernelPath> fastPaths() {
    std::vector<KernelPath> p;
    for (KernelPath k : {KernelPath::Avx2, KernelPath::Avx512})
        if (kernelPathUsable(k)) p.push_back(k);
    return p;
}

}  // namespace

class TestMatmul : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() {
        QString names;
        for (KernelPath p : fastPaths())
            names += QString(kernelPathName(p)) + " ";
        qInfo("fast paths tested on this CPU: %s(simd level %s)", qPrintable(names),
              cpuFeatures().simdLevel().c_str());
    }

    void parity_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("tokens");
        // Prompt-sized token counts cover the AVX-512 lane kernels (whole groups of 4 tokens,
        // 1-4 groups per tile, across token blocks of 64) and the tokens and rows left over.
        const int shapes[][3] = {{1, 32, 1},   {5, 64, 1},    {17, 96, 3},   {64, 256, 7},
                                 {33, 320, 9}, {128, 512, 1}, {12, 2048, 5}, {70, 160, 64},
                                 {20, 96, 14}, {12, 64, 70},  {8, 32, 8}};
        for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
            for (const auto& s : shapes) {
                QTest::addRow("%s_%dx%d_t%d", dtypeName(t), s[0], s[1], s[2])
                    << int(t) << s[0] << s[1] << s[2];
            }
        }
        // Float types take any width: rows that end inside a SIMD group of columns.
        const int ragged[][3] = {{7, 40, 3}, {9, 100, 5}, {4, 17, 4}, {6, 1000, 6}};
        for (DType t : {DType::F32, DType::F16, DType::BF16}) {
            for (const auto& s : ragged) {
                QTest::addRow("%s_%dx%d_t%d", dtypeName(t), s[0], s[1], s[2])
                    << int(t) << s[0] << s[1] << s[2];
            }
        }
    }

    void parity() {
        QFETCH(int, type);
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(int, tokens);
        const DType t = DType(type);
        std::mt19937 rng(uint32_t(rows * 131 + cols * 7 + tokens + type));
        std::normal_distribution<float> nd;
        std::vector<float> wf(size_t(rows * cols)), x(size_t(tokens * cols));
        for (auto& v : wf)
            v = nd(rng);
        for (auto& v : x)
            v = nd(rng);
        const size_t rb = dtypeRowBytes(t, cols);
        std::vector<uint8_t> wq(rb * size_t(rows));
        for (int r = 0; r < rows; ++r)
            convertRow(t, wf.data() + r * cols, wq.data() + r * rb, cols);
        // The weights as the kernels see them (after rounding to the type).
        std::vector<float> wd(wf.size());
        for (int r = 0; r < rows; ++r)
            dequantizeRow(t, wq.data() + r * rb, wd.data() + r * cols, cols);
        const MatrixView w{t, wq.data(), rows, cols, rb};
        std::vector<uint8_t> scratch(matmulScratchBytes(t, cols, tokens));
        std::vector<float> yRef(size_t(tokens * rows)), y(size_t(tokens * rows));
        matmul(w, x.data(), tokens, cols, yRef.data(), rows, scratch.data(), nullptr,
               KernelPath::Reference);

        const bool quant = t == DType::Q8_0 || t == DType::Q4_0;
        for (int n = 0; n < tokens; ++n) {
            for (int r = 0; r < rows; ++r) {
                double exact = 0, mag = 0, qerr = 0;
                for (int c = 0; c < cols; ++c) {
                    exact += double(wd[r * cols + c]) * x[n * cols + c];
                    mag += std::fabs(double(wd[r * cols + c]) * x[n * cols + c]);
                }
                // Activation quantisation error bound: |x - q*d| <= d/2 = amax/254 per block.
                for (int b = 0; quant && b < cols / 32; ++b) {
                    double amax = 0, wsum = 0;
                    for (int j = 0; j < 32; ++j) {
                        amax = std::max(amax, double(std::fabs(x[n * cols + b * 32 + j])));
                        wsum += std::fabs(wd[r * cols + b * 32 + j]);
                    }
                    qerr += wsum * amax / 254.0;
                }
                // BF16: activations rounded to BF16 (relative error <= 2^-9 each).
                if (t == DType::BF16) qerr = mag / 512.0;
                const double limit = 1.01 * qerr + 2e-6 * mag + 1e-6;
                const double err = std::fabs(yRef[n * rows + r] - exact);
                if (err > limit) {
                    QFAIL(qPrintable(QString("reference row %1 token %2: %3 vs exact %4 (limit %5)")
                                         .arg(r)
                                         .arg(n)
                                         .arg(yRef[n * rows + r])
                                         .arg(exact)
                                         .arg(limit)));
                }
            }
        }
        ThreadPool pool(2);
        for (KernelPath p : fastPaths()) {
            for (ThreadPool* pp : {static_cast<ThreadPool*>(nullptr), &pool}) {
                std::fill(y.begin(), y.end(), NAN);
                matmul(w, x.data(), tokens, cols, y.data(), rows, scratch.data(), pp, p);
                for (int i = 0; i < tokens * rows; ++i) {
                    double mag = 0;
                    const int n = i / rows, r = i % rows;
                    for (int c = 0; c < cols; ++c)
                        mag += std::fabs(double(wd[r * cols + c]) * x[n * cols + c]);
                    // Same integer dots (quantised) or same products (float): only the
                    // summation order differs.
                    const double limit = 1e-5 * mag + 1e-6;
                    if (!(std::fabs(y[i] - yRef[i]) <= limit)) {
                        QFAIL(
                            qPrintable(QString("%1 path: element %2: %3 vs reference %4 (limit %5)")
                                           .arg(kernelPathName(p))
                                           .arg(i)
                                           .arg(y[i])
                                           .arg(yRef[i])
                                           .arg(limit)));
                    }
                }
            }
        }
    }

    void stridedOutputAndInput() {
        const int rows = 8, cols = 64, tokens = 3, xs = 80, ys = 20;
        std::vector<float> wf(rows * cols), x(tokens * xs, 1.0f), y(tokens * ys, -7.0f);
        for (int i = 0; i < rows * cols; ++i)
            wf[i] = float(i % 5) - 2.0f;
        const size_t rb = dtypeRowBytes(DType::Q8_0, cols);
        std::vector<uint8_t> wq(rb * rows);
        for (int r = 0; r < rows; ++r)
            convertRow(DType::Q8_0, wf.data() + r * cols, wq.data() + r * rb, cols);
        std::vector<uint8_t> scratch(matmulScratchBytes(DType::Q8_0, cols, tokens));
        matmul({DType::Q8_0, wq.data(), rows, cols, rb}, x.data(), tokens, xs, y.data(), ys,
               scratch.data(), nullptr);
        std::vector<float> wd(rows * cols);
        for (int r = 0; r < rows; ++r)
            dequantizeRow(DType::Q8_0, wq.data() + r * rb, wd.data() + r * cols, cols);
        for (int n = 0; n < tokens; ++n) {
            for (int r = 0; r < rows; ++r) {
                float exact = 0;
                for (int c = 0; c < cols; ++c)
                    exact += wd[r * cols + c];
                QVERIFY(std::fabs(y[n * ys + r] - exact) < 1e-3f);
            }
            for (int r = rows; r < ys; ++r)
                QCOMPARE(y[n * ys + r], -7.0f);
        }
    }

    void quantisationMatchesGgml() {
        // ggml quantize_row_q4_0_ref: the largest-magnitude value maps to -8 exactly.
        std::vector<float> x(32);
        for (int i = 0; i < 32; ++i)
            x[i] = float(i) - 10.0f;  // -10 .. 21: max |x| = 21
        BlockQ4_0 b4;
        quantizeRowQ4_0(x.data(), &b4, 32);
        QCOMPARE(fp16ToFloat(b4.d), fp16ToFloat(floatToFp16(21.0f / -8.0f)));
        QCOMPARE(int(b4.qs[15] >> 4), 0);  // element 31 = 21 -> q = 0 -> (0 - 8) * d = 21
        std::vector<float> back(32);
        dequantizeRow(DType::Q4_0, &b4, back.data(), 32);
        QVERIFY(std::fabs(back[31] - 21.0f) < 0.02f);
        BlockQ8_0 b8;
        quantizeRowQ8_0(x.data(), &b8, 32);
        QCOMPARE(int(b8.qs[31]), 127);
        QCOMPARE(int(b8.qs[0]), int(std::lround(-10.0f * 127.0f / 21.0f)));
        QCOMPARE(fp16ToFloat(floatToFp16(1.5f)), 1.5f);
        QCOMPARE(floatToFp16(65504.0f), uint16_t(0x7bff));
        QCOMPARE(bf16ToFloat(floatToBf16(-2.75f)), -2.75f);
    }

    void threadPoolRunsEveryTaskOnce() {
        ThreadPool pool(3);
        for (int round = 0; round < 200; ++round) {
            std::vector<std::atomic<int>> hits(size_t(1 + round % 37));
            pool.parallelFor(int(hits.size()), [&](int t) { hits[size_t(t)].fetch_add(1); });
            for (auto& h : hits)
                QCOMPARE(h.load(), 1);
        }
    }
};

QTEST_GUILESS_MAIN(TestMatmul)
#include "test_matmul.moc"
