// consilium-cli synth --out DIR [--cases N] [--seed S] [--matrix N] [--slices N]
//                     [--pixel-spacing MM] [--slice-spacing MM] [--nodules N]
//                     [--encoding explicit|implicit|bigendian|deflated|rle|jpegls] [--multiframe]
// Writes N synthetic chest CT cases (DICOM + truth.json + patient record + questions) into
// DIR/case_000, DIR/case_001, ... Case i uses seed S + i, so any case can be regenerated.
#include <QCommandLineParser>
#include <QDir>

#include <cstdio>
#include <thread>

#include "app/cli_commands.h"
#include "imaging/phantom.h"

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
    parser.addOptions(
        {out, cases, seed, matrix, slices, pixel, slice, nodules, encoding, multiframe});
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
    write.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    const QString root = parser.value(out);
    if (!QDir().mkpath(root)) {
        std::fprintf(stderr, "%s: cannot create folder %s\n", cmd, qPrintable(root));
        return 2;
    }
    for (int i = 0; i < nCases; ++i) {
        options.seed = firstSeed + qulonglong(i);
        auto phantom = imaging::generatePhantom(options);
        if (!phantom) {
            std::fprintf(stderr, "%s: %s\n", cmd, phantom.error().message.c_str());
            return 2;
        }
        const QString dir = QDir(root).filePath(QString("case_%1").arg(i, 3, 10, QChar('0')));
        if (Status s = imaging::writePhantomCase(phantom.value(), dir.toStdString(), write); !s) {
            std::fprintf(stderr, "%s: %s\n", cmd, s.error().message.c_str());
            return 1;
        }
        const auto& v = phantom->volume;
        std::printf("%s: %dx%dx%d, %.3fx%.3fx%.2f mm, %d nodule(s), Lung-RADS %s\n",
                    qPrintable(dir), v.dims[0], v.dims[1], v.dims[2], v.spacing[0], v.spacing[1],
                    v.spacing[2], int(phantom->nodules.size()), phantom->lungRads.c_str());
    }
    return 0;
}

}  // namespace consilium::app
