// Pixel formats and series geometry, on files written by pydicom (an independent writer)
// with expected modality values computed by numpy from the DICOM rules
// (tests/imaging/make_pixel_formats.py).
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>

#include "imaging/study_loader.h"

using namespace consilium;
using namespace consilium::imaging;

class TestPixelFormats : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    std::vector<double> expected(const QString& name) {
        QFile f(m_dir.filePath(name + ".f64"));
        if (!f.open(QIODevice::ReadOnly)) return {};
        const QByteArray bytes = f.readAll();
        std::vector<double> v(size_t(bytes.size()) / sizeof(double));
        std::memcpy(v.data(), bytes.constData(), v.size() * sizeof(double));
        return v;
    }

    const SeriesInfo* onlySeries(const LoadedStudies& s) {
        return s.patients.size() == 1 && s.patients[0].studies.size() == 1 &&
                       s.patients[0].studies[0].series.size() >= 1
                   ? &s.patients[0].studies[0].series[0]
                   : nullptr;
    }

    static bool hasWarning(const SeriesInfo& s, const char* text) {
        for (const auto& w : s.warnings)
            if (w.find(text) != std::string::npos) return true;
        return false;
    }

  private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        QProcess py;
        py.start("/usr/bin/python3",
                 {CONSILIUM_SOURCE_DIR "/tests/imaging/make_pixel_formats.py", m_dir.path()});
        QVERIFY(py.waitForFinished(60000));
        if (py.exitCode() != 0)
            QSKIP(
                qPrintable("pydicom could not write the test files: " + py.readAllStandardError()));
    }

    void valuesFollowTheDicomRules_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("isFloat");
        QTest::newRow("8-bit unsigned") << "u8" << false;
        QTest::newRow("8-bit signed, intercept") << "s8" << false;
        QTest::newRow("MONOCHROME1 12-bit") << "mono1_u12" << false;
        QTest::newRow("signed 12-bit, junk high bits") << "s12_junk_high_bits" << false;
        QTest::newRow("intercept without slope") << "u16_no_slope" << true;
        QTest::newRow("fractional rescale") << "float_rescale" << true;
        QTest::newRow("32-bit signed") << "s32" << true;
    }

    void valuesFollowTheDicomRules() {
        QFETCH(QString, name);
        QFETCH(bool, isFloat);
        auto v = loadVolume(m_dir.filePath(name + ".dcm").toStdString());
        QVERIFY2(v.ok(), v.ok() ? "" : v.error().message.c_str());
        const auto ref = expected(name);
        QCOMPARE(v->voxelCount(), ref.size());
        QCOMPARE(v->type == VoxelType::Float32, isFloat);
        for (size_t i = 0; i < ref.size(); ++i) {
            const double tolerance =
                std::max(1e-6, std::fabs(ref[i]) * 1e-7);  // float32 for large values
            if (std::fabs(v->at(i) - ref[i]) > tolerance)
                QFAIL(qPrintable(
                    QString("voxel %1: %2, expected %3").arg(i).arg(v->at(i)).arg(ref[i])));
        }
        QCOMPARE(v->invertedDisplay, name == "mono1_u12");
    }

    void unsupportedTransferSyntaxesSaySoAndNameTheFile() {
        for (const char* name : {"jpeg_xl", "mpeg2"}) {
            const QString path = m_dir.filePath(QString(name) + ".dcm");
            auto v = loadVolume(path.toStdString());
            QVERIFY(!v.ok());
            QCOMPARE(errorCodeName(v.error().code), "UnsupportedTransferSyntax");
            const QString message = QString::fromStdString(v.error().message);
            QVERIFY2(message.startsWith("unsupported transfer syntax "), qPrintable(message));
            QVERIFY2(message.endsWith("in file " + path), qPrintable(message));
            QVERIFY2(message.contains(name == QString("jpeg_xl") ? "1.2.840.10008.1.2.4.110"
                                                                 : "1.2.840.10008.1.2.4.100"),
                     qPrintable(message));
        }
    }

    void slicesAreSortedByPositionNotByNameOrInstanceNumber() {
        auto s = loadStudies(m_dir.filePath("series_shuffled").toStdString());
        QVERIFY(s.ok());
        const SeriesInfo* series = onlySeries(s.value());
        QVERIFY(series);
        QVERIFY(series->warnings.empty());
        const Volume& v = series->volume;
        QCOMPARE(v.dims[2], 10);
        QCOMPARE(v.spacing[2], 2.5);
        QCOMPARE(v.origin[2], 0.0);
        const size_t plane = size_t(v.dims[0]) * size_t(v.dims[1]);
        for (int z = 0; z < 10; ++z) {
            QCOMPARE(v.slices[size_t(z)].position[2], 2.5 * z);
            QCOMPARE(double(v.at(size_t(z) * plane + 7)),
                     std::nearbyint(2.5 * z));  // Python rounds half to even
        }
    }

    void geometryProblemsAreReported() {
        auto missing = loadStudies(m_dir.filePath("series_missing").toStdString());
        QVERIFY(missing.ok() && onlySeries(missing.value()));
        QVERIFY(hasWarning(*onlySeries(missing.value()), "missing slices: about 1"));
        QCOMPARE(onlySeries(missing.value())->volume.spacing[2], 2.0);

        auto uneven = loadStudies(m_dir.filePath("series_uneven").toStdString());
        QVERIFY(uneven.ok() && onlySeries(uneven.value()));
        QVERIFY(hasWarning(*onlySeries(uneven.value()), "uneven slice spacing"));

        auto mixed = loadStudies(m_dir.filePath("series_mixed_size").toStdString());
        QVERIFY(mixed.ok());
        const auto& all = mixed->patients[0].studies[0].series;
        QCOMPARE(int(all.size()), 2);
        QCOMPARE(all[0].seriesInstanceUid, all[1].seriesInstanceUid);
        QCOMPARE(all[0].volume.dims[2] + all[1].volume.dims[2], 6);
        QVERIFY(hasWarning(all[0], "2 stacks"));
        QVERIFY(mixed->report.skipped.empty());
    }
};

QTEST_GUILESS_MAIN(TestPixelFormats)
#include "test_pixel_formats.moc"
