// Loads every file of Debian's python3-pydicom test corpus (real files written by other
// tools) and compares the modality values with pydicom's own, computed in the same run by
// tests/imaging/pydicom_reference.py under /usr/bin/python3.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <map>
#include <set>

#include "imaging/jpeg_ls.h"
#include "imaging/study_loader.h"

using namespace consilium;
using namespace consilium::imaging;

namespace {

const QString kCorpus = QStringLiteral("/usr/lib/python3/dist-packages/pydicom/data/test_files");
const QString kCharsets =
    QStringLiteral("/usr/lib/python3/dist-packages/pydicom/data/charset_files");

struct Reference {
    bool decoded = false;
    bool colour = false;  // values are the BT.601 luminance
    int frames = 0, rows = 0, cols = 0;
    QString error;
    QString patientName;
    std::vector<double> values;  // [frames][rows][cols]
};

std::map<QString, Reference> runPydicom(const QStringList& files, const QString& outDir) {
    QProcess py;
    QStringList args{QStringLiteral(CONSILIUM_SOURCE_DIR "/tests/imaging/pydicom_reference.py"),
                     outDir};
    args += files;
    py.start(QStringLiteral("/usr/bin/python3"), args);
    if (!py.waitForFinished(120000) || py.exitCode() != 0) {
        qWarning("pydicom reference failed: %s", py.readAllStandardError().constData());
        return {};
    }
    QFile manifest(outDir + "/manifest.json");
    if (!manifest.open(QIODevice::ReadOnly)) return {};
    std::map<QString, Reference> out;
    for (const auto& v : QJsonDocument::fromJson(manifest.readAll()).array()) {
        const QJsonObject o = v.toObject();
        Reference r;
        r.decoded = o["decoded"].toBool();
        r.colour = o["colour"].toBool();
        r.frames = o["frames"].toInt();
        r.rows = o["rows"].toInt();
        r.cols = o["cols"].toInt();
        r.error = o["error"].toString();
        r.patientName = o["patient_name"].toString();
        if (r.decoded) {
            QFile raw(o["raw"].toString());
            if (raw.open(QIODevice::ReadOnly)) {
                const QByteArray bytes = raw.readAll();
                r.values.resize(size_t(bytes.size()) / sizeof(double));
                std::memcpy(r.values.data(), bytes.constData(), r.values.size() * sizeof(double));
            }
        }
        out[o["file"].toString()] = std::move(r);
    }
    return out;
}

// Largest |ours - reference| over the volume, mapping each slice to its source frame, in
// units of max(1, |reference| / 1000): exact integers stay exact below 1000, and Float32
// volumes (luminance of 16/32-bit colour) get their relative precision.
double maxDifference(const Volume& v, const Reference& r) {
    const size_t plane = size_t(r.rows) * size_t(r.cols);
    double worst = 0;
    for (int z = 0; z < v.dims[2]; ++z) {
        const int frame = v.slices[size_t(z)].frame;
        for (size_t i = 0; i < plane; ++i) {
            const double ref = r.values[size_t(frame) * plane + i];
            const double ours = v.at(size_t(z) * plane + i);
            worst = std::max(worst, std::fabs(ours - ref) / std::max(1.0, std::fabs(ref) * 1e-3));
        }
    }
    return worst;
}

QStringList filesIn(const QString& dir) {
    QStringList out;
    for (const QFileInfo& fi : QDir(dir).entryInfoList(QDir::Files, QDir::Name))
        out << fi.absoluteFilePath();
    return out;
}

}  // namespace

class TestDicomCorpus : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() {
        if (!QFile::exists(kCorpus + "/CT_small.dcm"))
            QSKIP("python3-pydicom test corpus not installed");
        if (!QFile::exists("/usr/bin/python3")) QSKIP("/usr/bin/python3 missing");
    }

    void everyFileLoadsOrFailsSpecifically() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QStringList files = filesIn(kCorpus) + filesIn(kCharsets);
        QVERIFY(files.size() >= 75);
        const auto refs = runPydicom(files, tmp.path());
        QCOMPARE(int(refs.size()), files.size());

        // Files that must load as images, and errors that specific files must give.
        const std::set<QString> mustLoad{
            "CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm",
            "MR_small_expb.dcm", "MR_small_implicit.dcm", "MR_small_padded.dcm",
            "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "image_dfl.dcm",
            "JPEG2000.dcm", "JPGExtended.dcm", "JPEG-lossy.dcm", "693_J2KI.dcm",
            "J2K_pixelrep_mismatch.dcm", "rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm",
            "rtdose_1frame.dcm", "liver_1frame.dcm", "liver_expb_1frame.dcm",
            // colour, loaded as luminance
            "SC_rgb_rle.dcm", "SC_rgb_rle_16bit.dcm", "SC_rgb_rle_2frame.dcm",
            "SC_rgb_rle_32bit_2frame.dcm", "SC_rgb_small_odd.dcm", "SC_rgb_jpeg_dcmd.dcm",
            "SC_ybr_full_422_uncompressed.dcm", "SC_rgb_jpeg_dcmtk.dcm",
            "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_jpeg_gdcm.dcm"};
        const std::map<QString, ErrorCode> mustFail{
            {"MR_truncated.dcm", ErrorCode::CorruptFile},
            {"README.txt", ErrorCode::CorruptFile},
            {"zipMR.gz", ErrorCode::CorruptFile},
            {"test1.json", ErrorCode::CorruptFile},
            {"rtplan.dcm", ErrorCode::InvalidArgument},
            {"SC_rgb_gdcm_KY.dcm", ErrorCode::InvalidArgument},   // colour JPEG 2000
            {"GDCMJ2K_TextGBR.dcm", ErrorCode::InvalidArgument},  // colour JPEG 2000
            {"waveform_ecg.dcm", ErrorCode::InvalidArgument},
            {"JPEG2000-embedded-sequence-delimiter.dcm", ErrorCode::CorruptFile}};

        int loaded = 0, compared = 0, colourCompared = 0;
        for (const QString& file : files) {
            const QString name = QFileInfo(file).fileName();
            LoadOptions options;
            options.threads = 1;
            auto result = loadStudies(file.toStdString(), options);
            QVERIFY2(result.ok(), qPrintable(name));
            const LoadedStudies& studies = result.value();
            const Volume* volume = nullptr;
            for (const auto& p : studies.patients)
                for (const auto& s : p.studies)
                    for (const auto& se : s.series)
                        volume = &se.volume;
            const Reference& ref = refs.at(file);
            if (volume) {
                ++loaded;
                QVERIFY2(!mustFail.count(name), qPrintable(name + " should have failed"));
                QVERIFY(!volume->slices.empty());
                QCOMPARE(int(volume->voxelCount()),
                         volume->dims[0] * volume->dims[1] * volume->dims[2]);
                if (ref.decoded) {
                    QCOMPARE(volume->dims[0], ref.cols);
                    QCOMPARE(volume->dims[1], ref.rows);
                    QCOMPARE(volume->dims[2], ref.frames);
                    const double diff = maxDifference(*volume, ref);
                    QVERIFY2(diff <= 1e-3,
                             qPrintable(
                                 QString("%1: max difference %2 vs pydicom").arg(name).arg(diff)));
                    ++compared;
                    colourCompared += ref.colour;
                }
                if (ref.colour) {
                    QCOMPARE(int(volume->type), int(VoxelType::Float32));
                    int noted = 0;
                    for (const auto& note : studies.report.notes)
                        noted += note.find("converted to luminance") != std::string::npos;
                    QCOMPARE(noted, 1);
                }
                qInfo("%-42s loaded %dx%dx%d %s", qPrintable(name), volume->dims[0],
                      volume->dims[1], volume->dims[2],
                      ref.decoded ? "== pydicom"
                                  : qPrintable("(pydicom: " + ref.error.left(40) + ")"));
            } else {
                QCOMPARE(int(studies.report.skipped.size()), 1);
                const SkippedFile& skip = studies.report.skipped.front();
                QCOMPARE(QString::fromStdString(skip.path), file);
                QVERIFY2(QString::fromStdString(skip.reason).contains(file), skip.reason.c_str());
                QVERIFY(skip.code != ErrorCode::Internal);
                QVERIFY2(!mustLoad.count(name), qPrintable(name + " should have loaded: " +
                                                           QString::fromStdString(skip.reason)));
                if (mustFail.count(name))
                    QCOMPARE(errorCodeName(skip.code), errorCodeName(mustFail.at(name)));
                // pydicom decoded a grayscale image we refuse: only 1-bit segmentations may do so.
                if (ref.decoded)
                    QVERIFY2(QString::fromStdString(skip.reason).contains("BitsAllocated 1"),
                             skip.reason.c_str());
                qInfo("%-42s %s: %s", qPrintable(name), errorCodeName(skip.code),
                      qPrintable(QString::fromStdString(skip.reason).replace(file, "<file>")));
            }
        }
        qInfo("%d of %d files loaded, %d compared with pydicom", loaded, int(files.size()),
              compared);
        QVERIFY(compared >= 15);
        QVERIFY(colourCompared >= 8);
    }

    // Compressed copies of MR_small.dcm decode to exactly its values (pydicom here has no
    // JPEG-LS / JPEG 2000 decoder, so the uncompressed twin is the reference).
    void losslessTwinsMatchUncompressed() {
        // JPEG-LS goes through CharLS 2 when libcharls2 is installed (CI installs it), with
        // DCMTK's decoder only as the fallback: make sure the twin below tests the first.
        QVERIFY2(jpegLsDecoderAvailable(), "libcharls.so.2 could not be loaded");
        auto plain = loadVolume((kCorpus + "/MR_small.dcm").toStdString());
        QVERIFY(plain.ok());
        for (const char* twin :
             {"MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm",
              "MR_small_bigendian.dcm", "MR_small_implicit.dcm"}) {
            auto v = loadVolume((kCorpus + "/" + twin).toStdString());
            QVERIFY2(v.ok(), twin);
            QCOMPARE(v->dims, plain->dims);
            for (size_t i = 0; i < plain->voxelCount(); ++i)
                if (v->at(i) != plain->at(i))
                    QFAIL(qPrintable(QString("%1 differs at %2").arg(twin).arg(i)));
        }
        QCOMPARE(plain->valueRange()[1] > plain->valueRange()[0], true);
    }

    void ctSmallGeometryAndHounsfield() {
        auto loaded = loadStudies((kCorpus + "/CT_small.dcm").toStdString());
        QVERIFY(loaded.ok());
        QCOMPARE(int(loaded->patients.size()), 1);
        const SeriesInfo& s = loaded->patients[0].studies[0].series[0];
        QCOMPARE(s.modality, std::string("CT"));
        QCOMPARE(s.volume.units, std::string("HU"));
        QCOMPARE(s.volume.dims, (std::array<int, 3>{128, 128, 1}));
        // CT_small.dcm: PixelSpacing 0.661468 \ 0.661468, IPP -158.135803 \ -179.035797
        // \ -75.699997
        QVERIFY(std::fabs(s.volume.spacing[0] - 0.661468) < 1e-6);
        QVERIFY(std::fabs(s.volume.origin[0] + 158.135803) < 1e-5);
        QVERIFY(std::fabs(s.volume.origin[2] + 75.699997) < 1e-5);
        QCOMPARE(s.transferSyntaxUids.front(), std::string("1.2.840.10008.1.2.1"));
    }

    void characterSetsDecodeToUtf8() {
        // pydicom's decoding of every character-set file is the reference...
        QTemporaryDir tmp;
        const QStringList files = filesIn(kCharsets).filter(".dcm");
        const auto refs = runPydicom(files, tmp.path());
        int compared = 0;
        for (const QString& file : files) {
            auto s = readFileSummary(file.toStdString());
            QVERIFY2(s.ok(), qPrintable(file));
            const QString expected = refs.at(file).patientName;
            if (expected.isEmpty()) continue;
            // pydicom drops empty trailing component groups ("...=王^小東=" -> "...=王^小東").
            QString ours = QString::fromStdString(s->patientName);
            while (ours.endsWith('='))
                ours.chop(1);
            QCOMPARE(ours, expected);
            ++compared;
        }
        QVERIFY(compared >= 14);
        // ...and the Chinese names, spelled out (ISO_IR 192 and GB18030).
        auto x1 = readFileSummary((kCharsets + "/chrX1.dcm").toStdString());
        auto x2 = readFileSummary((kCharsets + "/chrX2.dcm").toStdString());
        QVERIFY(x1.ok() && x2.ok());
        QCOMPARE(QString::fromStdString(x1->patientName),
                 QString::fromUtf8("Wang^XiaoDong=王^小東="));
        QCOMPARE(QString::fromStdString(x2->patientName),
                 QString::fromUtf8("Wang^XiaoDong=王^小东="));
    }

    void dicomdirFindsEveryReferencedImage() {
        const QString root = kCorpus + "/dicomdirtests";
        int total = 0;
        for (const char* dir :
             {"DICOMDIR", "DICOMDIR-bigEnd", "DICOMDIR-implicit", "DICOMDIR-reordered"}) {
            auto loaded = loadStudies((root + "/" + dir).toStdString());
            QVERIFY2(loaded.ok(), dir);
            int slices = 0;
            for (const auto& p : loaded->patients)
                for (const auto& st : p.studies)
                    for (const auto& se : st.series)
                        slices += se.volume.dims[2];
            QVERIFY2(loaded->report.skipped.empty(), dir);
            // Three patient folders, two patients (98892001 and 98892003 share PatientID 98890234).
            QCOMPARE(int(loaded->patients.size()), 2);
            if (total == 0) total = slices;
            QCOMPARE(slices, total);
        }
        // The folder scan finds the same images; TINY_ALPHA/'s CT files carry no pixel data.
        auto scanned = loadStudies(root.toStdString());
        QVERIFY(scanned.ok());
        int slices = 0;
        for (const auto& p : scanned->patients)
            for (const auto& st : p.studies)
                for (const auto& se : st.series)
                    slices += se.volume.dims[2];
        QCOMPARE(slices, total);
        int noPixels = 0;
        for (const auto& skip : scanned->report.skipped)
            noPixels += skip.path.find("TINY_ALPHA") != std::string::npos &&
                        skip.code == ErrorCode::InvalidArgument;
        QVERIFY(noPixels >= 40);
        QVERIFY(total >= 25);
    }

    // Truncated and byte-flipped copies of real files (every codec path): each loads or is
    // reported with a specific code; no crash, no hang.
    void damagedCopiesNeverCrash() {
        QTemporaryDir tmp;
        uint32_t state = 12345;
        auto next = [&] {
            state = state * 1664525u + 1013904223u;
            return state >> 8;
        };
        int loaded = 0, reported = 0;
        for (const char* name :
             {"CT_small.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm",
              "MR_small_RLE.dcm", "image_dfl.dcm", "JPGExtended.dcm", "rtdose.dcm"}) {
            QFile in(kCorpus + "/" + name);
            QVERIFY(in.open(QIODevice::ReadOnly));
            const QByteArray original = in.readAll();
            for (int variant = 0; variant < 24; ++variant) {
                QByteArray damaged = original;
                if (variant < 12) {
                    damaged.truncate(int(qint64(original.size()) * (variant + 1) / 13));
                } else {
                    for (int k = 0; k < 8; ++k)
                        damaged[int(next() % uint32_t(damaged.size()))] = char(next() & 0xFF);
                }
                const QString path = tmp.filePath(QString("%1.%2").arg(name).arg(variant));
                QFile out(path);
                QVERIFY(out.open(QIODevice::WriteOnly));
                out.write(damaged);
                out.close();
                LoadOptions o;
                o.threads = 1;
                auto r = loadStudies(path.toStdString(), o);
                QVERIFY(r.ok());
                if (!r->patients.empty()) {
                    QVERIFY2(variant >= 12,
                             qPrintable(QString("truncated %1 loaded without error").arg(path)));
                    ++loaded;
                } else {
                    QCOMPARE(int(r->report.skipped.size()), 1);
                    QVERIFY(r->report.skipped[0].code != ErrorCode::Internal);
                    QVERIFY(r->report.skipped[0].reason.find(path.toStdString()) !=
                            std::string::npos);
                    ++reported;
                }
            }
        }
        qInfo("damaged copies: %d loaded, %d reported", loaded, reported);
        QVERIFY(reported >= 7 * 12);
    }

    void missingPathIsNotFound() {
        auto r = loadStudies("/nonexistent/consilium/study");
        QVERIFY(!r.ok());
        QCOMPARE(errorCodeName(r.error().code), errorCodeName(ErrorCode::NotFound));
    }
};

QTEST_GUILESS_MAIN(TestDicomCorpus)
#include "test_dicom_corpus.moc"
