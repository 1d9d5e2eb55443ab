// Colour images load as luminance (ITU-R BT.601): PALETTE COLOR (8- and 16-bit LUT entries)
// and a planar RGB series written by pydicom (tests/imaging/make_colour.py), compared with
// pydicom's own pixel_array / apply_color_lut under the same weights, plus the note in the
// load report. Real colour files of other writers are in test_dicom_corpus.cpp. Also: series
// with burned-in annotation or Secondary Capture are excluded from model input, with a reason.
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>

#include "imaging/study_loader.h"

using namespace consilium;
using namespace consilium::imaging;

namespace {

std::vector<double> readF64(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QByteArray bytes = f.readAll();
    std::vector<double> out(size_t(bytes.size()) / sizeof(double));
    std::memcpy(out.data(), bytes.constData(), out.size() * sizeof(double));
    return out;
}

}  // namespace

class TestColour : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    // Loads `path`, checks it is one colour series noted as such, and returns its
    // largest difference from the reference luminance in `f64`.
    double compare(const QString& path, const QString& f64, int slices) {
        auto loaded = loadStudies(path.toStdString());
        if (!loaded.ok() || loaded->patients.size() != 1) {
            qWarning("%s did not load", qPrintable(path));
            return 1e9;
        }
        const SeriesInfo& s = loaded->patients[0].studies[0].series[0];
        const Volume& v = s.volume;
        const std::vector<double> ref = readF64(f64);
        if (v.dims[2] != slices || v.voxelCount() != ref.size() || v.type != VoxelType::Float32)
            return 1e9;
        bool warned = false;
        for (const auto& w : s.warnings)
            warned = warned || w.find("converted to luminance") != std::string::npos;
        int noted = 0;
        for (const auto& note : loaded->report.notes)
            noted += note.find("converted to luminance") != std::string::npos &&
                     note.find(s.seriesInstanceUid) != std::string::npos;
        if (!warned || noted != 1) return 1e9;
        // These are Secondary Capture images: shown, never model input.
        if (s.modelExclusion.find("secondary capture") == std::string::npos) return 1e9;
        double worst = 0;
        for (size_t i = 0; i < ref.size(); ++i)
            worst = std::max(worst, std::fabs(double(v.at(i)) - ref[i]));
        return worst;
    }

  private slots:
    void initTestCase() {
        if (!QFile::exists("/usr/bin/python3")) QSKIP("/usr/bin/python3 missing");
        QVERIFY(m_dir.isValid());
        QProcess py;
        py.start(
            "/usr/bin/python3",
            {QStringLiteral(CONSILIUM_SOURCE_DIR "/tests/imaging/make_colour.py"), m_dir.path()});
        QVERIFY(py.waitForFinished(60000));
        QVERIFY2(py.exitCode() == 0, py.readAllStandardError().constData());
    }

    void paletteColourIsLuminanceOfTheLut() {
        // 16-bit LUT entries: luminance up to 65535 in Float32 (relative precision 6e-8).
        QVERIFY(compare(m_dir.filePath("palette.dcm"), m_dir.filePath("palette.f64"), 1) < 0.01);
        QVERIFY(compare(m_dir.filePath("palette8.dcm"), m_dir.filePath("palette8.f64"), 1) < 1e-4);
    }

    void planarRgbSeriesIsSortedLuminance() {
        // Written z = 4, 2, 0 mm; the reference is in z order, as the volume must be.
        QVERIFY(compare(m_dir.filePath("series_rgb"), m_dir.filePath("series_rgb.f64"), 3) < 1e-4);
        auto v = loadVolume(m_dir.filePath("series_rgb").toStdString());
        QVERIFY(v.ok());
        QCOMPARE(v->spacing[2], 2.0);
        QCOMPARE(v->origin[2], 0.0);
    }

    void primariesGetTheBt601Weights() {
        // Pure red, green and blue give 0.299, 0.587 and 0.114 of full scale (ITU-R BT.601):
        // the weights, not a channel pick or an average, are what the volume holds.
        auto v = loadVolume(m_dir.filePath("primaries.dcm").toStdString());
        QVERIFY(v.ok());
        QCOMPARE(v->dims, (std::array<int, 3>{5, 1, 1}));
        const double expected[] = {0.299 * 255, 0.587 * 255, 0.114 * 255, 255, 0};
        for (size_t i = 0; i < 5; ++i)
            QVERIFY2(std::fabs(double(v->at(i)) - expected[i]) < 1e-4,
                     qPrintable(QString("pixel %1: %2").arg(i).arg(v->at(i))));
    }

    void burnedInAnnotationIsExcludedFromModelInput() {
        auto marked = loadStudies(m_dir.filePath("burned_in").toStdString());
        auto clean = loadStudies(m_dir.filePath("clean_ct").toStdString());
        QVERIFY(marked.ok() && clean.ok());
        QCOMPARE(int(marked->patients.size()), 1);
        QCOMPARE(int(clean->patients.size()), 1);
        const SeriesInfo& m = marked->patients[0].studies[0].series[0];
        const SeriesInfo& c = clean->patients[0].studies[0].series[0];
        // Both load (for display), only the marked one is kept from the model.
        QCOMPARE(m.volume.dims[2], 2);
        QCOMPARE(c.volume.dims[2], 2);
        QVERIFY2(m.modelExclusion.find("burned-in annotation") != std::string::npos &&
                     m.modelExclusion.find("1 of 2 files") != std::string::npos,
                 m.modelExclusion.c_str());
        QCOMPARE(c.modelExclusion, std::string());
        QVERIFY(clean->report.notes.empty());
        QCOMPARE(int(marked->report.notes.size()), 1);
        QVERIFY(marked->report.notes[0].find("excluded from model input") != std::string::npos);
        QVERIFY(marked->report.notes[0].find(m.seriesInstanceUid) != std::string::npos);
        bool warned = false;
        for (const auto& w : m.warnings)
            warned = warned || w.find("excluded from model input") != std::string::npos;
        QVERIFY(warned);
    }

    void modelReadsTheCleanSeries() {
        // Everything written here: colour Secondary Captures, the burned-in and the clean CT.
        auto all = loadStudies(m_dir.path().toStdString());
        auto clean = loadStudies(m_dir.filePath("clean_ct").toStdString());
        QVERIFY(all.ok() && clean.ok());
        const std::string cleanUid = clean->patients[0].studies[0].series[0].seriesInstanceUid;
        std::string why;
        const SeriesInfo* s = chooseModelSeries(all.value(), {}, &why);
        QVERIFY2(s, why.c_str());
        QCOMPARE(s->seriesInstanceUid, cleanUid);
        QVERIFY(chooseModelSeries(all.value(), cleanUid) == s);

        auto marked = loadStudies(m_dir.filePath("burned_in").toStdString());
        QVERIFY(marked.ok());
        const SeriesInfo& m = marked->patients[0].studies[0].series[0];
        QVERIFY(!chooseModelSeries(all.value(), m.seriesInstanceUid, &why));
        QVERIFY2(why.rfind("no series usable as model input: " + seriesLabel(m) +
                               ": burned-in annotation",
                           0) == 0,
                 why.c_str());
        QVERIFY(!chooseModelSeries(marked.value(), {}, &why));
        QVERIFY2(why.find("burned-in annotation") != std::string::npos, why.c_str());
        QVERIFY(!chooseModelSeries(all.value(), "1.2.3.4", &why));
        QCOMPARE(why, std::string("the requested series is not in this study"));
        QVERIFY(!chooseModelSeries(LoadedStudies{}, {}, &why));
        QCOMPARE(why, std::string("no image series loaded"));
    }
};

QTEST_GUILESS_MAIN(TestColour)
#include "test_colour.moc"
