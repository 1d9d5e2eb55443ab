// consilium-cli synth --out DIR [--cases N] [--seed S] [--matrix N] [--slices N]
//                     [--pixel-spacing MM] [--slice-spacing MM] [--nodules N]
//                     [--encoding explicit|implicit|bigendian|deflated|rle|jpegls] [--multiframe]
//                     [--grid D,H,W [--grid-only | --lobes-only] [--window-center HU]
//                      [--window-width HU]]
// Writes N synthetic chest CT cases (DICOM + truth.json + patient record + questions) into
// DIR/case_000, DIR/case_001, ... Case i uses seed S + i, so any case can be regenerated.
// --grid also writes the model's CT input (docs/MODEL.md 3.1) for the training recipe:
// ct_grid.f32 (float32 [D][H][W], lung window to [0, 1]) and ct_grid.json (geometry), made
// by reading the written DICOM series back with the app's own loader and resampler, so
// training and inference share one preprocessing path, and ct_lobes.u8 (uint8 [D][H][W]:
// 0 outside the lungs, 1..5 = RUL, RML, RLL, LUL, LLL at each grid voxel's centre).
// --grid-only then deletes the DICOM. --lobes-only writes ct_lobes.u8 alone (no DICOM, no
// grid: the anatomy alone is drawn), e.g. into cases written before it existed.
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "app/cli_commands.h"
#include "imaging/phantom.h"
#include "imaging/reslice.h"
#include "imaging/study_loader.h"

namespace consilium::app {

namespace {

bool parseEncoding(const QString& name, imaging::DicomEncoding* out) {
    using imaging::DicomEncoding;
    static const std::pair<const char*, DicomEncoding> kNames[] = {
        {"explicit", DicomEncoding::ExplicitLittleEndian},
        {"implicit", DicomEncoding::ImplicitLittleEndian},
        {"bigendian", DicomEncoding::ExplicitBigEndian},
        {"deflated", DicomEncoding::DeflatedLittleEndian},
        {"rle", DicomEncoding::RleLossless},
        {"jpegls", DicomEncoding::JpegLsLossless}};
    for (const auto& [key, value] : kNames)
        if (name == QLatin1String(key)) {
            *out = value;
            return true;
        }
    return false;
}

struct GridOptions {
    std::array<int, 3> dhw{0, 0, 0};  // slices, rows, columns; all 0 = no grid
    double windowCenter = -600.0;
    double windowWidth = 1500.0;
};

// Reads the case's DICOM series back and writes ct_grid.f32 + ct_grid.json (docs/MODEL.md 3.1).
Status writeGrid(const QString& caseDir, const GridOptions& g) {
    const QString dicom = QDir(caseDir).filePath("dicom");
    auto volume = imaging::loadVolume(dicom.toStdString());
    if (!volume) return volume.error();
    const imaging::Volume& v = volume.value();
    auto grid = imaging::resampleToGrid(v, {g.dhw[2], g.dhw[1], g.dhw[0]});
    if (!grid) return grid.error();
    std::vector<float>& ct = grid.value();
    const double lo = g.windowCenter - g.windowWidth / 2;
    for (float& x : ct)
        x = float(std::clamp((double(x) - lo) / g.windowWidth, 0.0, 1.0));
    QFile f(QDir(caseDir).filePath("ct_grid.f32"));
    const qint64 bytes = qint64(ct.size() * sizeof(float));
    if (!f.open(QIODevice::WriteOnly) ||
        f.write(reinterpret_cast<const char*>(ct.data()), bytes) != bytes)
        return makeError(ErrorCode::IoError, "cannot write " + f.fileName().toStdString());
    f.close();
    auto vec = [](const double* p, int n) {
        QJsonArray a;
        for (int i = 0; i < n; ++i)
            a.append(p[i]);
        return a;
    };
    QJsonArray sop;
    for (const auto& s : v.slices)
        sop.append(QString::fromStdString(s.sopInstanceUid));
    QJsonObject j;
    j["grid_dhw"] = QJsonArray{g.dhw[0], g.dhw[1], g.dhw[2]};
    j["window_center"] = g.windowCenter;
    j["window_width"] = g.windowWidth;
    j["origin"] = vec(v.origin.data(), 3);
    j["axes"] =
        QJsonArray{vec(&v.direction[0], 3), vec(&v.direction[3], 3), vec(&v.direction[6], 3)};
    j["spacing"] = vec(v.spacing.data(), 3);
    j["dims"] = QJsonArray{v.dims[0], v.dims[1], v.dims[2]};
    j["sop"] = sop;
    QFile jf(QDir(caseDir).filePath("ct_grid.json"));
    if (!jf.open(QIODevice::WriteOnly) || jf.write(QJsonDocument(j).toJson()) < 0)
        return makeError(ErrorCode::IoError, "cannot write " + jf.fileName().toStdString());
    return Status::success();
}

bool parseGrid(const QString& text, std::array<int, 3>* out) {
    const QStringList parts = text.split(',');
    if (parts.size() != 3) return false;
    for (int i = 0; i < 3; ++i) {
        bool ok = false;
        (*out)[size_t(i)] = parts[i].trimmed().toInt(&ok);
        if (!ok || (*out)[size_t(i)] < 1 || (*out)[size_t(i)] > 1024) return false;
    }
    return true;
}

// ct_lobes.u8 of the case `options` makes (phantomLobeGrid on the model grid).
Status writeLobes(const QString& caseDir, const imaging::PhantomOptions& options,
                  const GridOptions& g) {
    auto labels = imaging::phantomLobeGrid(options, {g.dhw[2], g.dhw[1], g.dhw[0]});
    if (!labels) return labels.error();
    QFile f(QDir(caseDir).filePath("ct_lobes.u8"));
    const qint64 bytes = qint64(labels->size());
    if (!f.open(QIODevice::WriteOnly) ||
        f.write(reinterpret_cast<const char*>(labels->data()), bytes) != bytes)
        return makeError(ErrorCode::IoError, "cannot write " + f.fileName().toStdString());
    return Status::success();
}

}  // namespace

int runSynth(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Write synthetic chest CT cases with known nodules (DICOM + truth.json).");
    parser.addHelpOption();
    QCommandLineOption out("out", "Output folder (created).", "DIR");
    QCommandLineOption cases("cases", "Number of cases (default 1).", "N", "1");
    QCommandLineOption seed("seed", "Seed of the first case (default 1); case i uses seed + i.",
                            "S", "1");
    QCommandLineOption matrix("matrix", "Rows = columns, 64..1024 (default: drawn from 256..512).",
                              "N", "0");
    QCommandLineOption slices("slices", "Number of slices (default: cover the chest).", "N", "0");
    QCommandLineOption pixel("pixel-spacing",
                             "Pixel spacing in mm (default: drawn from 0.6..0.95).", "MM", "0");
    QCommandLineOption slice("slice-spacing", "Slice spacing in mm (default: drawn from 1..3).",
                             "MM", "0");
    QCommandLineOption nodules("nodules", "Nodules per case, 0..3 (default: drawn).", "N", "-1");
    QCommandLineOption encoding("encoding",
                                "explicit (default), implicit, bigendian, deflated, rle or jpegls.",
                                "NAME", "explicit");
    QCommandLineOption multiframe("multiframe", "Write one Enhanced CT multi-frame file per case.");
    QCommandLineOption gridOpt("grid",
                               "Also write the model input ct_grid.f32/.json at D,H,W "
                               "(slices,rows,columns), read back through the app's loader.",
                               "D,H,W");
    QCommandLineOption gridOnly("grid-only", "With --grid: delete the DICOM series afterwards.");
    QCommandLineOption lobesOnly("lobes-only",
                                 "With --grid: write only each case's ct_lobes.u8 (lobe labels "
                                 "on the grid), no DICOM and no ct_grid.");
    QCommandLineOption wc("window-center", "Grid window centre in HU (default -600).", "HU",
                          "-600");
    QCommandLineOption ww("window-width", "Grid window width in HU (default 1500).", "HU", "1500");
    parser.addOptions({out, cases, seed, matrix, slices, pixel, slice, nodules, encoding,
                       multiframe, gridOpt, gridOnly, lobesOnly, wc, ww});
    const char* cmd = "consilium-cli synth";
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.isSet(out)) {
        std::fprintf(stderr, "%s: --out DIR is required\n", cmd);
        return 2;
    }
    bool okCases = false, okSeed = false, okMatrix = false, okSlices = false, okPixel = false,
         okSlice = false, okNodules = false;
    const int nCases = parser.value(cases).toInt(&okCases);
    const qulonglong firstSeed = parser.value(seed).toULongLong(&okSeed);
    imaging::PhantomOptions options;
    options.matrix = parser.value(matrix).toInt(&okMatrix);
    options.slices = parser.value(slices).toInt(&okSlices);
    options.pixelSpacing = parser.value(pixel).toDouble(&okPixel);
    options.sliceSpacing = parser.value(slice).toDouble(&okSlice);
    options.nodules = parser.value(nodules).toInt(&okNodules);
    if (!okCases || nCases < 1 || nCases > 100000) {
        std::fprintf(stderr, "%s: --cases must be a positive number, got '%s'\n", cmd,
                     qPrintable(parser.value(cases)));
        return 2;
    }
    if (!okSeed || !okMatrix || !okSlices || !okPixel || !okSlice || !okNodules) {
        std::fprintf(stderr,
                     "%s: --seed, --matrix, --slices, --pixel-spacing, --slice-spacing and "
                     "--nodules take numbers\n",
                     cmd);
        return 2;
    }
    if ((options.matrix != 0 && (options.matrix < 64 || options.matrix > 1024)) ||
        (options.slices != 0 && (options.slices < 8 || options.slices > 2000)) ||
        options.pixelSpacing < 0 || options.sliceSpacing < 0 || options.nodules > 3 ||
        options.nodules < -1) {
        std::fprintf(
            stderr,
            "%s: out of range (matrix 64..1024, slices 8..2000, spacing > 0, nodules 0..3)\n", cmd);
        return 2;
    }
    imaging::DicomWriteOptions write;
    if (!parseEncoding(parser.value(encoding), &write.encoding)) {
        std::fprintf(stderr, "%s: unknown --encoding '%s'\n", cmd,
                     qPrintable(parser.value(encoding)));
        return 2;
    }
    write.multiFrame = parser.isSet(multiframe);
    GridOptions grid;
    if (parser.isSet(gridOpt) && !parseGrid(parser.value(gridOpt), &grid.dhw)) {
        std::fprintf(stderr, "%s: --grid takes D,H,W (three numbers 1..1024), got '%s'\n", cmd,
                     qPrintable(parser.value(gridOpt)));
        return 2;
    }
    bool okWc = false, okWw = false;
    grid.windowCenter = parser.value(wc).toDouble(&okWc);
    grid.windowWidth = parser.value(ww).toDouble(&okWw);
    if (!okWc || !okWw || !(grid.windowWidth > 0)) {
        std::fprintf(stderr, "%s: --window-center and --window-width take numbers (width > 0)\n",
                     cmd);
        return 2;
    }
    if ((parser.isSet(gridOnly) || parser.isSet(lobesOnly)) && !parser.isSet(gridOpt)) {
        std::fprintf(stderr, "%s: --grid-only and --lobes-only need --grid D,H,W\n", cmd);
        return 2;
    }
    if (parser.isSet(gridOnly) && parser.isSet(lobesOnly)) {
        std::fprintf(stderr, "%s: --grid-only and --lobes-only exclude each other\n", cmd);
        return 2;
    }
    write.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    const QString root = parser.value(out);
    if (!QDir().mkpath(root)) {
        std::fprintf(stderr, "%s: cannot create folder %s\n", cmd, qPrintable(root));
        return 2;
    }
    for (int i = 0; i < nCases; ++i) {
        options.seed = firstSeed + qulonglong(i);
        const QString dir = QDir(root).filePath(QString("case_%1").arg(i, 3, 10, QChar('0')));
        if (parser.isSet(lobesOnly)) {
            if (!QDir().mkpath(dir)) {
                std::fprintf(stderr, "%s: cannot create folder %s\n", cmd, qPrintable(dir));
                return 1;
            }
            if (Status s = writeLobes(dir, options, grid); !s) {
                std::fprintf(stderr, "%s: %s: %s\n", cmd, qPrintable(dir),
                             s.error().message.c_str());
                return s.error().code == ErrorCode::InvalidArgument ? 2 : 1;
            }
            std::printf("%s: ct_lobes.u8 %dx%dx%d\n", qPrintable(dir), grid.dhw[0], grid.dhw[1],
                        grid.dhw[2]);
            continue;
        }
        auto phantom = imaging::generatePhantom(options);
        if (!phantom) {
            std::fprintf(stderr, "%s: %s\n", cmd, phantom.error().message.c_str());
            return 2;
        }
        if (Status s = imaging::writePhantomCase(phantom.value(), dir.toStdString(), write); !s) {
            std::fprintf(stderr, "%s: %s\n", cmd, s.error().message.c_str());
            return 1;
        }
        if (grid.dhw[0] > 0) {
            Status s = writeGrid(dir, grid);
            if (s) s = writeLobes(dir, options, grid);
            if (!s) {
                std::fprintf(stderr, "%s: %s: %s\n", cmd, qPrintable(dir),
                             s.error().message.c_str());
                return 1;
            }
            if (parser.isSet(gridOnly) && !QDir(QDir(dir).filePath("dicom")).removeRecursively()) {
                std::fprintf(stderr, "%s: cannot delete %s/dicom\n", cmd, qPrintable(dir));
                return 1;
            }
        }
        const auto& v = phantom->volume;
        std::printf("%s: %dx%dx%d, %.3fx%.3fx%.2f mm, %d nodule(s), Lung-RADS %s\n",
                    qPrintable(dir), v.dims[0], v.dims[1], v.dims[2], v.spacing[0], v.spacing[1],
                    v.spacing[2], int(phantom->nodules.size()), phantom->lungRads.c_str());
    }
    return 0;
}

}  // namespace consilium::app
