// The phantom generator and the DICOM writer against the loader: geometry, voxels and
// nodule truth survive a write/read round trip in every encoding; broken files in a series
// are reported while the rest loads; loading can be cancelled.
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cmath>
#include <filesystem>

#include "imaging/phantom.h"
#include "imaging/reslice.h"
#include "imaging/study_loader.h"

using namespace consilium;
using namespace consilium::imaging;

namespace {

PhantomOptions smallCase(uint64_t seed, int nodules) {
    PhantomOptions o;
    o.seed = seed;
    o.matrix = 192;
    o.pixelSpacing = 0.9;
    o.slices = 64;
    o.sliceSpacing = 2.5;
    o.nodules = nodules;
    return o;
}

// Mean value in a (2r+1)^2 x (2rz+1) voxel neighbourhood around a continuous voxel position.
double meanAround(const Volume& v, const Vec3& voxel, int r, int rz) {
    double sum = 0;
    int n = 0;
    for (int dz = -rz; dz <= rz; ++dz)
        for (int dy = -r; dy <= r; ++dy)
            for (int dx = -r; dx <= r; ++dx) {
                const int x = int(std::lround(voxel[0])) + dx, y = int(std::lround(voxel[1])) + dy,
                          z = int(std::lround(voxel[2])) + dz;
                if (x < 0 || y < 0 || z < 0 || x >= v.dims[0] || y >= v.dims[1] || z >= v.dims[2])
                    continue;
                sum += v.at(x, y, z);
                ++n;
            }
    return n ? sum / n : 0;
}

}  // namespace

class TestPhantomRoundTrip : public QObject {
    Q_OBJECT

  private slots:
    void lungRadsTable() {
        QCOMPARE(lungRadsCategory(NoduleType::Solid, 5.9, 5.9), std::string("2"));
        QCOMPARE(lungRadsCategory(NoduleType::Solid, 6.0, 6.0), std::string("3"));
        QCOMPARE(lungRadsCategory(NoduleType::Solid, 7.96, 7.96),
                 std::string("4A"));  // rounds to 8.0
        QCOMPARE(lungRadsCategory(NoduleType::Solid, 14.9, 14.9), std::string("4A"));
        QCOMPARE(lungRadsCategory(NoduleType::Solid, 15.0, 15.0), std::string("4B"));
        QCOMPARE(lungRadsCategory(NoduleType::PartSolid, 5.0, 2.0), std::string("2"));
        QCOMPARE(lungRadsCategory(NoduleType::PartSolid, 12.0, 5.0), std::string("3"));
        QCOMPARE(lungRadsCategory(NoduleType::PartSolid, 12.0, 7.0), std::string("4A"));
        QCOMPARE(lungRadsCategory(NoduleType::PartSolid, 12.0, 8.0), std::string("4B"));
        QCOMPARE(lungRadsCategory(NoduleType::GroundGlass, 29.9, 0), std::string("2"));
        QCOMPARE(lungRadsCategory(NoduleType::GroundGlass, 30.0, 0), std::string("3"));
    }

    void deterministicFromSeed() {
        auto a = generatePhantom(smallCase(7, 2));
        auto b = generatePhantom(smallCase(7, 2));
        auto c = generatePhantom(smallCase(8, 2));
        QVERIFY(a.ok() && b.ok() && c.ok());
        QVERIFY(a->volume.voxelsI16 == b->volume.voxelsI16);
        QCOMPARE(phantomTruthJson(a.value()), phantomTruthJson(b.value()));
        QVERIFY(a->volume.voxelsI16 != c->volume.voxelsI16);
        QVERIFY(a->metadata.seriesInstanceUid != c->metadata.seriesInstanceUid);
        QVERIFY(a->metadata.seriesInstanceUid.rfind("2.25.", 0) == 0);
        QVERIFY(a->metadata.seriesInstanceUid.size() <= 64);
    }

    void defaultsDrawFromTheDocumentedRanges() {
        for (uint64_t seed = 1; seed <= 6; ++seed) {
            PhantomOptions o;
            o.seed = seed;
            o.slices = 16;  // keep it quick; matrix and pixel spacing drawn
            auto p = generatePhantom(o);
            QVERIFY(p.ok());
            QVERIFY(p->volume.dims[0] >= 256 && p->volume.dims[0] <= 512);
            QVERIFY(p->volume.spacing[0] >= 0.6 && p->volume.spacing[0] <= 0.95);
            QVERIFY(p->volume.spacing[2] >= 1.0 && p->volume.spacing[2] <= 3.0);
            QVERIFY(p->nodules.size() <= 3);
        }
        PhantomOptions bad;
        bad.matrix = 20;
        QVERIFY(!generatePhantom(bad).ok());
    }

    // The lobe labels on a model grid: each nodule's centre voxel carries its lobe, labelled
    // voxels are lung in the resampled image (the grid lies where resampleToGrid puts it),
    // right lobes lie right of the midline and left ones left, and all five occur.
    void lobeGridMatchesNodulesAndLungs() {
        const std::array<int, 3> dims{64, 48, 40};  // x, y, z
        int seen[6] = {};
        for (uint64_t seed = 11; seed <= 14; ++seed) {
            const PhantomOptions o = smallCase(seed, 3);
            auto p = generatePhantom(o);
            auto labels = phantomLobeGrid(o, dims);
            QVERIFY(p.ok() && labels.ok());
            QCOMPARE(labels->size(), size_t(dims[0] * dims[1] * dims[2]));
            auto hu = resampleToGrid(p->volume, dims);
            QVERIFY(hu.ok());
            const Volume& v = p->volume;
            size_t lung = 0, dark = 0;
            for (int k = 0; k < dims[2]; ++k)
                for (int j = 0; j < dims[1]; ++j)
                    for (int i = 0; i < dims[0]; ++i) {
                        const size_t at = (size_t(k) * dims[1] + j) * dims[0] + i;
                        const int l = labels.value()[at];
                        QVERIFY(l <= 5);
                        ++seen[l];
                        if (l == 0) continue;
                        ++lung;
                        dark += hu.value()[at] < -500.f;
                        const bool leftLobe = l >= 4;  // LUL, LLL: patient left, +x
                        QCOMPARE(leftLobe, i >= dims[0] / 2);
                    }
            QVERIFY2(lung > 0 && dark > 0.7 * lung,
                     qPrintable(QString("%1 of %2 lobe voxels are lung").arg(dark).arg(lung)));
            for (const auto& n : p->nodules) {
                const double sx = (n.centre[0] - v.origin[0]) / v.spacing[0],
                             sy = (n.centre[1] - v.origin[1]) / v.spacing[1],
                             sz = (n.centre[2] - v.origin[2]) / v.spacing[2];
                const int i = int(std::lround((sx + 0.5) * dims[0] / v.dims[0] - 0.5)),
                          j = int(std::lround((sy + 0.5) * dims[1] / v.dims[1] - 0.5)),
                          k = int(std::lround(sz * (dims[2] - 1) / (v.dims[2] - 1)));
                const size_t at = (size_t(k) * dims[1] + j) * dims[0] + i;
                QCOMPARE(int(labels.value()[at]), 1 + int(n.lobe));
            }
        }
        for (int l = 0; l <= 5; ++l)
            QVERIFY2(seen[l] > 0, qPrintable(QString("label %1 never occurs").arg(l)));
        QVERIFY(!phantomLobeGrid(smallCase(11, 0), {0, 4, 4}).ok());
        PhantomOptions bad = smallCase(11, 0);
        bad.matrix = 20;
        QVERIFY(!phantomLobeGrid(bad, dims).ok());
    }

    void writeLoadKeepsGeometryVoxelsAndNodules() {
        QTemporaryDir tmp;
        auto phantom = generatePhantom(smallCase(20261128, 3));
        QVERIFY(phantom.ok());
        QVERIFY(!phantom->nodules.empty());
        QVERIFY(writePhantomCase(phantom.value(), tmp.path().toStdString()).ok());
        QVERIFY(QFile::exists(tmp.filePath("truth.json")));
        QVERIFY(QFile::exists(tmp.filePath("patient_record.txt")));

        auto loaded = loadStudies(tmp.filePath("dicom").toStdString());
        QVERIFY(loaded.ok());
        QCOMPARE(int(loaded->report.skipped.size()), 0);
        QCOMPARE(int(loaded->patients.size()), 1);
        QCOMPARE(loaded->patients[0].name, phantom->metadata.patientName);
        const SeriesInfo& s = loaded->patients[0].studies[0].series[0];
        QVERIFY(s.warnings.empty());
        const Volume& v = s.volume;
        const Volume& truth = phantom->volume;
        QCOMPARE(v.dims, truth.dims);
        for (int i = 0; i < 3; ++i) {
            QVERIFY(std::fabs(v.spacing[size_t(i)] - truth.spacing[size_t(i)]) < 1e-4);
            QVERIFY(std::fabs(v.origin[size_t(i)] - truth.origin[size_t(i)]) < 1e-3);
        }
        QCOMPARE(v.direction, truth.direction);
        QCOMPARE(v.type, VoxelType::Int16);
        QVERIFY(v.voxelsI16 == truth.voxelsI16);
        for (int z = 0; z < v.dims[2]; ++z)
            QCOMPARE(v.slices[size_t(z)].sopInstanceUid,
                     phantom->metadata.sopInstanceUids[size_t(z)]);

        // Every nodule is where truth.json says: dense at its centre, lung around it.
        for (const auto& n : phantom->nodules) {
            const Vec3 c = v.toVoxel(n.centre);
            const double centre = meanAround(v, c, 1, 0);
            if (n.type == NoduleType::GroundGlass) {
                QVERIFY2(centre > -720 && centre < -480,
                         qPrintable(QString("GGN centre %1 HU").arg(centre)));
            } else if (n.solidDiameterMm >= 5) {
                QVERIFY2(centre > -150, qPrintable(QString("solid centre %1 HU").arg(centre)));
            }
            // 6 points 3 mm outside the nodule: mostly aerated lung.
            int lung = 0;
            const double r = n.diameterMm / 2 + 3;
            const Vec3 dirs[6] = {{1, 0, 0},  {-1, 0, 0}, {0, 1, 0},
                                  {0, -1, 0}, {0, 0, 1},  {0, 0, -1}};
            for (const auto& d : dirs) {
                const Vec3 p{n.centre[0] + d[0] * r, n.centre[1] + d[1] * r,
                             n.centre[2] + d[2] * r};
                lung += meanAround(v, v.toVoxel(p), 0, 0) < -500;
            }
            QVERIFY2(
                lung >= 4,
                qPrintable(QString("only %1 of 6 points around the nodule are lung").arg(lung)));
        }
    }

    void everyEncodingRoundTrips() {
        auto phantom = generatePhantom(smallCase(99, 1));
        QVERIFY(phantom.ok());
        // Crop to a small volume so six encodings stay fast.
        Volume small = phantom->volume;
        const int keep = 6;
        small.dims[2] = keep;
        small.voxelsI16.resize(size_t(small.dims[0]) * small.dims[1] * keep);
        small.slices.resize(keep);
        CtSeriesMetadata m = phantom->metadata;
        m.sopInstanceUids.resize(keep);
        const std::pair<DicomEncoding, const char*> encodings[] = {
            {DicomEncoding::ExplicitLittleEndian, "1.2.840.10008.1.2.1"},
            {DicomEncoding::ImplicitLittleEndian, "1.2.840.10008.1.2"},
            {DicomEncoding::ExplicitBigEndian, "1.2.840.10008.1.2.2"},
            {DicomEncoding::DeflatedLittleEndian, "1.2.840.10008.1.2.1.99"},
            {DicomEncoding::RleLossless, "1.2.840.10008.1.2.5"},
            {DicomEncoding::JpegLsLossless, "1.2.840.10008.1.2.4.80"}};
        for (const auto& [encoding, uid] : encodings) {
            for (bool multiFrame : {false, true}) {
                QTemporaryDir tmp;
                DicomWriteOptions w;
                w.encoding = encoding;
                w.multiFrame = multiFrame;
                CtSeriesMetadata mm = m;
                if (multiFrame) mm.sopInstanceUids = {deterministicUid("mf")};
                QVERIFY(writeCtSeries(small, mm, tmp.path().toStdString(), w).ok());
                auto loaded = loadStudies(tmp.path().toStdString());
                QVERIFY2(loaded.ok() && loaded->patients.size() == 1, uid);
                const SeriesInfo& s = loaded->patients[0].studies[0].series[0];
                QCOMPARE(s.transferSyntaxUids.front(), std::string(uid));
                QCOMPARE(s.volume.dims, small.dims);
                QVERIFY2(s.volume.voxelsI16 == small.voxelsI16, uid);
                QVERIFY(std::fabs(s.volume.origin[2] - small.origin[2]) < 1e-3);
                QVERIFY(std::fabs(s.volume.spacing[2] - small.spacing[2]) < 1e-4);
                QCOMPARE(int(s.volume.slices.size()), keep);
                if (multiFrame) QCOMPARE(s.volume.slices[3].frame, 3);
            }
        }
    }

    void brokenFilesAreReportedAndTheSeriesStillLoads() {
        QTemporaryDir tmp;
        auto phantom = generatePhantom(smallCase(5, 0));
        QVERIFY(phantom.ok());
        const QString dir = tmp.filePath("study");
        std::vector<std::string> files;
        QVERIFY(
            writeCtSeries(phantom->volume, phantom->metadata, dir.toStdString(), {}, &files).ok());
        // Truncate one slice in the middle of its pixel data, remove another, add junk.
        const QString truncated = QString::fromStdString(files[10]);
        QFile f(truncated);
        QVERIFY(f.resize(f.size() / 2));
        QVERIFY(QFile::remove(QString::fromStdString(files[30])));
        QFile junk(dir + "/notes");
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("this is not a DICOM file\n");
        junk.close();

        auto loaded = loadStudies(dir.toStdString());
        QVERIFY(loaded.ok());
        QCOMPARE(int(loaded->report.skipped.size()), 2);
        bool sawTruncated = false, sawJunk = false;
        for (const auto& s : loaded->report.skipped) {
            if (QString::fromStdString(s.path) == truncated) {
                sawTruncated = true;
                QCOMPARE(errorCodeName(s.code), "CorruptFile");
            }
            if (QString::fromStdString(s.path).endsWith("notes")) sawJunk = true;
        }
        QVERIFY(sawTruncated && sawJunk);
        const SeriesInfo& s = loaded->patients[0].studies[0].series[0];
        QCOMPARE(s.volume.dims[2], phantom->volume.dims[2] - 2);
        bool missingWarning = false;
        for (const auto& w : s.warnings)
            missingWarning |= w.find("missing slices") != std::string::npos;
        QVERIFY(missingWarning);
        // The remaining slices hold the right pixels (slice 11 of the original is slice 10 now).
        const size_t plane = size_t(s.volume.dims[0]) * s.volume.dims[1];
        QVERIFY(std::equal(s.volume.voxelsI16.begin() + long(10 * plane),
                           s.volume.voxelsI16.begin() + long(11 * plane),
                           phantom->volume.voxelsI16.begin() + long(11 * plane)));
    }

    void loadingCanBeCancelled() {
        QTemporaryDir tmp;
        auto phantom = generatePhantom(smallCase(6, 0));
        QVERIFY(phantom.ok());
        QVERIFY(writeCtSeries(phantom->volume, phantom->metadata, tmp.path().toStdString()).ok());
        std::atomic<bool> cancel{true};
        LoadOptions o;
        o.cancel = &cancel;
        auto r = loadStudies(tmp.path().toStdString(), o);
        QVERIFY(!r.ok());
        QCOMPARE(errorCodeName(r.error().code), "Cancelled");

        LoadOptions p;
        int calls = 0;
        p.threads = 1;
        p.progress = [&](const LoadProgress&) { return ++calls < 1; };
        auto r2 = loadStudies(tmp.path().toStdString(), p);
        QVERIFY(!r2.ok());
        QCOMPARE(errorCodeName(r2.error().code), "Cancelled");

        LoadOptions q;
        int last = 0, total = 0;
        q.progress = [&](const LoadProgress& pr) {
            last = pr.filesDone;
            total = pr.filesTotal;
            return true;
        };
        auto r3 = loadStudies(tmp.path().toStdString(), q);
        QVERIFY(r3.ok());
        QCOMPARE(total, phantom->volume.dims[2]);
        QCOMPARE(last, total);
    }
};

QTEST_GUILESS_MAIN(TestPhantomRoundTrip)
#include "test_phantom_roundtrip.moc"
