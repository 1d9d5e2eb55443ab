#include "imaging/study_loader.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcspchrs.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "imaging/dicom_common.h"
#include "imaging/jpeg2000.h"
#include "imaging/jpeg_ls.h"

namespace consilium::imaging {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDicomDirSopClass = "1.2.840.10008.1.3.10";

// ---- Parsed header of one file ---------------------------------------------------------

struct FrameGeometry {
    Vec3 position{};
    bool hasPosition = false;
    std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
    bool hasOrientation = false;
    double rowSpacing = 1.0;  // PixelSpacing[0]: between rows (y)
    double colSpacing = 1.0;  // PixelSpacing[1]: between columns (x)
    bool hasSpacing = false;
    double slope = 1.0;
    double intercept = 0.0;
};

struct PixelFormat {
    int rows = 0;
    int cols = 0;
    int frames = 1;
    int bitsAllocated = 16;
    int bitsStored = 16;
    int highBit = 15;
    bool isSigned = false;
    bool monochrome1 = false;
    int samples = 1;          // SamplesPerPixel
    std::string photometric;  // PhotometricInterpretation, e.g. "RGB", "PALETTE COLOR"
    bool colour = false;      // decoded by DCMTK's dcmimage and converted to luminance
};

struct ParsedFile {
    std::string path;
    std::unique_ptr<DcmFileFormat> dicom;  // kept between the header and pixel phases
    bool usable = false;
    bool isDicomDir = false;
    SkippedFile skip;

    std::string patientName, patientId, birthDate, sex;
    std::string studyUid, studyDescription, studyDate, accession;
    std::string seriesUid, seriesDescription, modality, frameOfReference, sopUid;
    std::string transferSyntaxUid, transferSyntaxName;
    E_TransferSyntax xfer = EXS_Unknown;
    int seriesNumber = 0;
    int instanceNumber = 0;
    bool burnedInAnnotation = false;  // BurnedInAnnotation (0028,0301) is YES
    bool secondaryCapture = false;    // a Secondary Capture SOP class (PS3.4 B.5)
    PixelFormat format;
    std::vector<FrameGeometry> frames;
    double sliceSpacingHint = 0.0;  // SpacingBetweenSlices or SliceThickness
};

std::string getString(DcmItem* item, const DcmTagKey& key) {
    OFString value;
    if (item && item->findAndGetOFStringArray(key, value).good()) return std::string(value.c_str());
    return {};
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0'))
        s.pop_back();
    size_t start = 0;
    while (start < s.size() && s[start] == ' ')
        ++start;
    return s.substr(start);
}

bool getDouble(DcmItem* item, const DcmTagKey& key, double* out, unsigned long pos = 0) {
    Float64 v = 0;
    // findAndGetFloat64 writes 0 on failure: only the status says whether it is there.
    if (!item || item->findAndGetFloat64(key, v, pos).bad()) return false;
    if (!std::isfinite(v)) return false;
    *out = v;
    return true;
}

int getInt(DcmItem* item, const DcmTagKey& key, int fallback) {
    Sint32 s = 0;
    if (item && item->findAndGetSint32(key, s).good()) return int(s);
    Uint16 u = 0;
    if (item && item->findAndGetUint16(key, u).good()) return int(u);
    return fallback;
}

DcmItem* sequenceItem(DcmItem* item, const DcmTagKey& key, unsigned long index = 0) {
    DcmItem* out = nullptr;
    if (item && item->findAndGetSequenceItem(key, out, static_cast<signed long>(index)).good())
        return out;
    return nullptr;
}

// Reads the plane geometry and rescale found directly in `item` into `g`.
void readGeometry(DcmItem* item, FrameGeometry* g) {
    if (!item) return;
    Vec3 p{};
    if (getDouble(item, DCM_ImagePositionPatient, &p[0], 0) &&
        getDouble(item, DCM_ImagePositionPatient, &p[1], 1) &&
        getDouble(item, DCM_ImagePositionPatient, &p[2], 2)) {
        g->position = p;
        g->hasPosition = true;
    }
    std::array<double, 6> o{};
    bool haveO = true;
    for (unsigned long i = 0; i < 6 && haveO; ++i)
        haveO = getDouble(item, DCM_ImageOrientationPatient, &o[i], i);
    if (haveO) {
        g->orientation = o;
        g->hasOrientation = true;
    }
    double r = 0, c = 0;
    if (getDouble(item, DCM_PixelSpacing, &r, 0) && getDouble(item, DCM_PixelSpacing, &c, 1) &&
        r > 0 && c > 0) {
        g->rowSpacing = r;
        g->colSpacing = c;
        g->hasSpacing = true;
    }
    double slope = 0;
    if (getDouble(item, DCM_RescaleSlope, &slope) && slope != 0.0) g->slope = slope;
    double intercept = 0;
    if (getDouble(item, DCM_RescaleIntercept, &intercept)) g->intercept = intercept;
}

// Enhanced multi-frame: the functional group macros of PS3.3 C.7.6.16.
void readFunctionalGroup(DcmItem* group, FrameGeometry* g) {
    if (!group) return;
    readGeometry(sequenceItem(group, DCM_PlanePositionSequence), g);
    readGeometry(sequenceItem(group, DCM_PlaneOrientationSequence), g);
    readGeometry(sequenceItem(group, DCM_PixelMeasuresSequence), g);
    readGeometry(sequenceItem(group, DCM_PixelValueTransformationSequence), g);
}

bool isSupportedEncapsulated(E_TransferSyntax x) {
    switch (x) {
        case EXS_JPEGProcess1:
        case EXS_JPEGProcess2_4:
        case EXS_JPEGProcess6_8:
        case EXS_JPEGProcess10_12:
        case EXS_JPEGProcess14:
        case EXS_JPEGProcess14SV1:
        case EXS_JPEGLSLossless:
        case EXS_JPEGLSLossy:
        case EXS_RLELossless:
        case EXS_JPEG2000LosslessOnly:
        case EXS_JPEG2000:
            return true;
        default:
            return false;
    }
}

// Names of transfer syntaxes defined after DCMTK 3.6.7 (PS3.6 Table A-1), for messages.
std::string unknownTransferSyntaxName(const std::string& uid) {
    static const std::pair<const char*, const char*> kNames[] = {
        {"1.2.840.10008.1.2.4.110", "JPEG XL Lossless"},
        {"1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression"},
        {"1.2.840.10008.1.2.4.112", "JPEG XL"},
        {"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Lossless"},
        {"1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options Lossless"},
        {"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000"},
        {"1.2.840.10008.1.2.4.204", "JPIP HTJ2K Referenced"},
        {"1.2.840.10008.1.2.4.205", "JPIP HTJ2K Referenced Deflate"},
    };
    for (const auto& [key, name] : kNames)
        if (uid == key) return std::string(name) + " (" + uid + ")";
    return uid;
}

bool isJpeg2000(E_TransferSyntax x) {
    return x == EXS_JPEG2000LosslessOnly || x == EXS_JPEG2000;
}

SkippedFile skipped(const std::string& path, ErrorCode code, const std::string& reason) {
    return SkippedFile{path, code, reason + " in file " + path};
}

// Quick rejection of files that cannot be DICOM: no "DICM" at 128 and no plausible first
// data element (group 0x0000-0x0028, little or big endian).
bool looksLikeDicom(const std::string& path, std::string* why) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        *why = "cannot open";
        return false;
    }
    unsigned char head[132] = {};
    in.read(reinterpret_cast<char*>(head), sizeof head);
    const auto got = size_t(in.gcount());
    if (got == 132 && std::memcmp(head + 128, "DICM", 4) == 0) return true;
    if (got < 8) {
        *why = "not a DICOM file (too short)";
        return false;
    }
    // A data set without preamble starts with an even group <= 0x0028, followed by a VR
    // (two capital letters, explicit VR) or a 32-bit length that fits the file (implicit).
    in.clear();
    in.seekg(0, std::ios::end);
    const auto fileSize = uint64_t(in.tellg());
    const bool vrLetters = std::isupper(head[4]) && std::isupper(head[5]);
    for (int bigEndian = 0; bigEndian < 2; ++bigEndian) {
        const unsigned group = bigEndian ? (unsigned(head[0]) << 8) | head[1]
                                         : unsigned(head[0]) | (unsigned(head[1]) << 8);
        const uint64_t length = bigEndian
                                    ? (uint64_t(head[4]) << 24) | (uint64_t(head[5]) << 16) |
                                          (uint64_t(head[6]) << 8) | head[7]
                                    : uint64_t(head[4]) | (uint64_t(head[5]) << 8) |
                                          (uint64_t(head[6]) << 16) | (uint64_t(head[7]) << 24);
        if (group <= 0x0028 && group % 2 == 0 && (vrLetters || length + 8 <= fileSize)) return true;
    }
    *why = "not a DICOM file (no DICM prefix and no data set at the start)";
    return false;
}

std::string convertText(DcmSpecificCharacterSet* cs, bool csOk, const std::string& raw,
                        const char* delimiters, const std::string& charset) {
    if (raw.empty()) return raw;
    if (csOk) {
        OFString out;
        if (cs->convertString(OFString(raw.c_str(), raw.size()), out, delimiters).good())
            return detail::sanitizeUtf8(std::string(out.c_str(), out.length()));
    }
    // DCMTK's iconv back end refuses the ISO 2022 multi-byte sets (Japanese, Korean).
    if (charset.find("2022") != std::string::npos) return detail::decodeIso2022(raw, charset);
    return detail::sanitizeUtf8(raw);
}

// Phase 1: header of one file (pixel values are not read: DCMTK loads large values lazily).
void parseHeader(ParsedFile& f) {
    std::string why;
    if (!looksLikeDicom(f.path, &why)) {
        f.skip = skipped(f.path, ErrorCode::CorruptFile, why);
        return;
    }
    auto dicom = std::make_unique<DcmFileFormat>();
    const OFCondition cond =
        dicom->loadFile(f.path.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
    DcmDataset* ds = dicom->getDataset();
    DcmMetaInfo* meta = dicom->getMetaInfo();
    const std::string metaTs = trim(getString(meta, DCM_TransferSyntaxUID));
    if (!metaTs.empty()) {
        const DcmXfer metaXfer(metaTs.c_str());
        if (metaXfer.getXfer() == EXS_Unknown) {
            f.skip = skipped(f.path, ErrorCode::UnsupportedTransferSyntax,
                             "unsupported transfer syntax " + unknownTransferSyntaxName(metaTs));
            return;
        }
    }
    if (cond.bad()) {
        f.skip = skipped(f.path, ErrorCode::CorruptFile,
                         std::string("unreadable DICOM (") + cond.text() + ")");
        return;
    }
    const std::string mediaClass = trim(getString(meta, DCM_MediaStorageSOPClassUID));
    if (mediaClass == kDicomDirSopClass || ds->tagExists(DCM_DirectoryRecordSequence)) {
        f.isDicomDir = true;
        return;
    }
    f.sopUid = trim(getString(ds, DCM_SOPInstanceUID));
    const bool hasPixels = ds->tagExists(DCM_PixelData);
    if (f.sopUid.empty() && !hasPixels && !ds->tagExists(DCM_SOPClassUID)) {
        f.skip = skipped(f.path, ErrorCode::CorruptFile,
                         "not a DICOM file (no SOP Instance UID, no pixel data)");
        return;
    }
    f.xfer = ds->getOriginalXfer();
    const DcmXfer xfer(f.xfer);
    f.transferSyntaxUid = metaTs.empty() ? std::string(xfer.getXferID()) : metaTs;
    f.transferSyntaxName = xfer.getXferName();

    if (!hasPixels) {
        const std::string sopClass = trim(getString(ds, DCM_SOPClassUID));
        const char* className = dcmFindNameOfUID(sopClass.c_str(), nullptr);
        const bool floatPixels =
            ds->tagExists(DCM_FloatPixelData) || ds->tagExists(DCM_DoubleFloatPixelData);
        f.skip = skipped(f.path, ErrorCode::InvalidArgument,
                         floatPixels ? std::string("float pixel data is not supported")
                                     : std::string("no image: no Pixel Data (SOP class ") +
                                           (className ? className : sopClass.c_str()) + ")");
        return;
    }
    if (xfer.isEncapsulated() && !isSupportedEncapsulated(f.xfer)) {
        f.skip = skipped(f.path, ErrorCode::UnsupportedTransferSyntax,
                         "unsupported transfer syntax " + f.transferSyntaxName + " (" +
                             f.transferSyntaxUid + ")");
        return;
    }

    PixelFormat& pf = f.format;
    pf.rows = getInt(ds, DCM_Rows, 0);
    pf.cols = getInt(ds, DCM_Columns, 0);
    pf.bitsAllocated = getInt(ds, DCM_BitsAllocated, 0);
    pf.bitsStored = getInt(ds, DCM_BitsStored, pf.bitsAllocated);
    pf.highBit = getInt(ds, DCM_HighBit, pf.bitsStored - 1);
    pf.isSigned = getInt(ds, DCM_PixelRepresentation, 0) == 1;
    pf.frames = std::max(1, getInt(ds, DCM_NumberOfFrames, 1));
    const int samples = getInt(ds, DCM_SamplesPerPixel, 1);
    const std::string photometric = trim(getString(ds, DCM_PhotometricInterpretation));
    pf.monochrome1 = photometric == "MONOCHROME1";
    pf.samples = samples;
    pf.photometric = photometric;
    // Colour (PS3.3 C.7.6.3.1.2): loaded as luminance. JPEG 2000 colour frames are not
    // (DCMTK, which does the colour models, has no JPEG 2000 codec).
    static const std::set<std::string> kColourModels{"RGB", "YBR_FULL", "YBR_FULL_422",
                                                     "YBR_PARTIAL_422", "YBR_PARTIAL_420"};
    pf.colour = (samples == 3 && kColourModels.count(photometric) && !isJpeg2000(f.xfer)) ||
                (samples == 1 && photometric == "PALETTE COLOR");
    const bool grey = samples == 1 && (photometric == "MONOCHROME1" ||
                                       photometric == "MONOCHROME2" || photometric.empty());
    if (!grey && !pf.colour) {
        f.skip = skipped(f.path, ErrorCode::InvalidArgument,
                         "colour image (PhotometricInterpretation " + photometric + ", " +
                             std::to_string(samples) + " samples per pixel" +
                             (isJpeg2000(f.xfer) ? ", JPEG 2000" : "") + ") is not supported");
        return;
    }
    if (pf.rows <= 0 || pf.cols <= 0 || pf.rows > 65535 || pf.cols > 65535) {
        f.skip = skipped(
            f.path, ErrorCode::CorruptFile,
            "invalid image size " + std::to_string(pf.cols) + "x" + std::to_string(pf.rows));
        return;
    }
    if (pf.bitsAllocated != 1 && pf.bitsAllocated != 8 && pf.bitsAllocated != 16 &&
        pf.bitsAllocated != 32) {
        f.skip = skipped(f.path, ErrorCode::InvalidArgument,
                         "unsupported BitsAllocated " + std::to_string(pf.bitsAllocated));
        return;
    }
    if (pf.bitsStored < 1 || pf.bitsStored > pf.bitsAllocated || pf.highBit < pf.bitsStored - 1 ||
        pf.highBit >= pf.bitsAllocated) {
        pf.bitsStored = pf.bitsAllocated;
        pf.highBit = pf.bitsAllocated - 1;
    }
    // Sizes must fit the data before anything is allocated for them (a corrupt
    // NumberOfFrames must not become a multi-terabyte volume).
    const uint64_t totalSamples = uint64_t(pf.rows) * uint64_t(pf.cols) * uint64_t(pf.frames);
    if (pf.frames > 1000000 || totalSamples > (uint64_t(1) << 32)) {
        f.skip = skipped(f.path, ErrorCode::CorruptFile,
                         "implausible image size " + std::to_string(pf.cols) + "x" +
                             std::to_string(pf.rows) + "x" + std::to_string(pf.frames) + " frames");
        return;
    }
    if (!xfer.isEncapsulated()) {
        DcmElement* pixels = nullptr;
        // YBR_*_422 stores two luminance samples and one Cb/Cr pair per two pixels.
        const uint64_t colourSamples =
            pf.photometric.find("_422") != std::string::npos   ? totalSamples * 2
            : pf.photometric.find("_420") != std::string::npos ? totalSamples * 3 / 2
                                                               : totalSamples * uint64_t(samples);
        const uint64_t needed = pf.bitsAllocated == 1
                                    ? (totalSamples + 7) / 8
                                    : colourSamples * uint64_t(pf.bitsAllocated / 8);
        if (ds->findAndGetElement(DCM_PixelData, pixels).good() && pixels &&
            pixels->getLengthField() < needed && pixels->getLengthField() != DCM_UndefinedLength) {
            f.skip = skipped(f.path, ErrorCode::CorruptFile,
                             "pixel data is " + std::to_string(pixels->getLengthField()) +
                                 " bytes, expected " + std::to_string(needed) + " for " +
                                 std::to_string(pf.cols) + "x" + std::to_string(pf.rows) + "x" +
                                 std::to_string(pf.frames));
            return;
        }
    }

    // Text, decoded from SpecificCharacterSet to UTF-8.
    DcmSpecificCharacterSet cs;
    const bool csOk = cs.selectCharacterSet(*ds).good();
    const std::string charset = getString(ds, DCM_SpecificCharacterSet);
    f.patientName = convertText(&cs, csOk, trim(getString(ds, DCM_PatientName)), "\\^=", charset);
    f.patientId = convertText(&cs, csOk, trim(getString(ds, DCM_PatientID)), "\\", charset);
    f.birthDate = trim(getString(ds, DCM_PatientBirthDate));
    f.sex = trim(getString(ds, DCM_PatientSex));
    f.studyUid = trim(getString(ds, DCM_StudyInstanceUID));
    f.studyDescription =
        convertText(&cs, csOk, trim(getString(ds, DCM_StudyDescription)), "\\", charset);
    f.studyDate = trim(getString(ds, DCM_StudyDate));
    f.accession = convertText(&cs, csOk, trim(getString(ds, DCM_AccessionNumber)), "\\", charset);
    f.seriesUid = trim(getString(ds, DCM_SeriesInstanceUID));
    if (f.seriesUid.empty())
        f.seriesUid = "no-series-uid:" + (f.sopUid.empty() ? f.path : f.sopUid);
    f.seriesDescription =
        convertText(&cs, csOk, trim(getString(ds, DCM_SeriesDescription)), "\\", charset);
    f.modality = trim(getString(ds, DCM_Modality));
    f.frameOfReference = trim(getString(ds, DCM_FrameOfReferenceUID));
    f.seriesNumber = getInt(ds, DCM_SeriesNumber, 0);
    f.instanceNumber = getInt(ds, DCM_InstanceNumber, 0);
    f.burnedInAnnotation = trim(getString(ds, DCM_BurnedInAnnotation)) == "YES";
    // 1.2.840.10008.5.1.4.1.1.7 and its multi-frame variants .7.1 to .7.4.
    const std::string sopClass = trim(getString(ds, DCM_SOPClassUID));
    f.secondaryCapture = sopClass == "1.2.840.10008.5.1.4.1.1.7" ||
                         sopClass.rfind("1.2.840.10008.5.1.4.1.1.7.", 0) == 0;

    // Geometry and rescale: top level, then shared functional groups, then per frame.
    FrameGeometry base;
    readGeometry(ds, &base);
    if (!base.hasSpacing) {
        double r = 0, c = 0;
        if (getDouble(ds, DCM_ImagerPixelSpacing, &r, 0) &&
            getDouble(ds, DCM_ImagerPixelSpacing, &c, 1) && r > 0 && c > 0) {
            base.rowSpacing = r;
            base.colSpacing = c;
            base.hasSpacing = true;
        }
    }
    readFunctionalGroup(sequenceItem(ds, DCM_SharedFunctionalGroupsSequence), &base);
    double hint = 0;
    if (getDouble(ds, DCM_SpacingBetweenSlices, &hint) && hint > 0)
        f.sliceSpacingHint = hint;
    else if (getDouble(ds, DCM_SliceThickness, &hint) && hint > 0)
        f.sliceSpacingHint = hint;

    f.frames.assign(size_t(pf.frames), base);
    DcmSequenceOfItems* perFrame = nullptr;
    if (ds->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).good() && perFrame) {
        const unsigned long n =
            std::min<unsigned long>(perFrame->card(), static_cast<unsigned long>(pf.frames));
        for (unsigned long i = 0; i < n; ++i)
            readFunctionalGroup(perFrame->getItem(i), &f.frames[i]);
    }
    // RT dose style: one position plus GridFrameOffsetVector along the normal.
    if (pf.frames > 1 && base.hasPosition && base.hasOrientation) {
        bool allSame = true;
        for (const auto& g : f.frames)
            allSame = allSame && g.position == base.position;
        std::vector<double> offsets;
        for (unsigned long i = 0; i < static_cast<unsigned long>(pf.frames); ++i) {
            double o = 0;
            if (!getDouble(ds, DCM_GridFrameOffsetVector, &o, i)) break;
            offsets.push_back(o);
        }
        if (allSame && offsets.size() == size_t(pf.frames)) {
            const auto& o = base.orientation;
            const Vec3 n{o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5],
                         o[0] * o[4] - o[1] * o[3]};
            for (size_t i = 0; i < offsets.size(); ++i)
                for (size_t k = 0; k < 3; ++k)
                    f.frames[i].position[k] = base.position[k] + offsets[i] * n[k];
        } else if (allSame) {
            for (auto& g : f.frames)
                g.hasPosition = false;
        }
    }
    f.dicom = std::move(dicom);
    f.usable = true;
}

// ---- Pixel conversion ------------------------------------------------------------------

// Stored value of one sample, per PS3.5 8.1.1: only bits [highBit-bitsStored+1, highBit]
// carry the value (sign-extended from bit bitsStored-1 when signed); bits above are ignored.
// Clean data pass unchanged, so values equal those of readers that ignore BitsStored.
struct StoredValueDecoder {
    uint32_t shift = 0;
    uint32_t mask = 0xFFFFFFFFu;
    uint32_t signBit = 0;  // 0 for unsigned data

    explicit StoredValueDecoder(const PixelFormat& f)
        : shift(uint32_t(f.highBit + 1 - f.bitsStored)),
          mask(f.bitsStored >= 32 ? 0xFFFFFFFFu : ((1u << f.bitsStored) - 1u)),
          signBit(f.isSigned ? (1u << (f.bitsStored - 1)) : 0u) {}

    // Branch-free, so the conversion loops vectorise.
    int64_t operator()(uint32_t raw) const {
        const uint32_t v = (raw >> shift) & mask;
        return int64_t(v ^ signBit) - int64_t(signBit);
    }
};

// Destination of one frame: a slice of the volume.
struct FrameSink {
    int16_t* i16 = nullptr;
    float* f32 = nullptr;
    double slope = 1.0;
    double intercept = 0.0;
};

template <typename Raw>
void convertFrame(const Raw* src, size_t count, const StoredValueDecoder& decode,
                  const FrameSink& sink) {
    const bool identity = sink.slope == 1.0 && sink.intercept == std::floor(sink.intercept);
    if (sink.i16) {
        if (identity && sizeof(Raw) <= 2) {
            // 32-bit arithmetic suffices for <= 16-bit samples (and vectorises well).
            const int32_t ic = int32_t(sink.intercept);
            const uint32_t shift = decode.shift, mask = decode.mask, sign = decode.signBit;
            for (size_t i = 0; i < count; ++i) {
                const uint32_t v = (uint32_t(src[i]) >> shift) & mask;
                sink.i16[i] = int16_t(int32_t(v ^ sign) - int32_t(sign) + ic);
            }
        } else if (identity) {
            const int64_t ic = int64_t(sink.intercept);
            for (size_t i = 0; i < count; ++i)
                sink.i16[i] = int16_t(decode(uint32_t(src[i])) + ic);
        } else {
            for (size_t i = 0; i < count; ++i)
                sink.i16[i] = int16_t(
                    std::lround(double(decode(uint32_t(src[i]))) * sink.slope + sink.intercept));
        }
    } else {
        for (size_t i = 0; i < count; ++i)
            sink.f32[i] = float(double(decode(uint32_t(src[i]))) * sink.slope + sink.intercept);
    }
}

void convertJ2kFrame(const Jpeg2000Image& img, const PixelFormat& pf, const FrameSink& sink) {
    const size_t count = img.samples.size();
    const int bits = img.precision;
    for (size_t i = 0; i < count; ++i) {
        int64_t v = img.samples[i];
        // DICOM's Pixel Representation wins over the codestream's signedness (the two
        // disagree in some files, e.g. pydicom's J2K_pixelrep_mismatch.dcm).
        if (pf.isSigned && !img.isSigned && bits > 0 && bits < 32 &&
            (v & (int64_t(1) << (bits - 1))))
            v -= int64_t(1) << bits;
        const double value = double(v) * sink.slope + sink.intercept;
        if (sink.i16)
            sink.i16[i] = int16_t(std::lround(value));
        else
            sink.f32[i] = float(value);
    }
}

// Fragments of each frame of an encapsulated pixel sequence (PS3.5 A.4).
Status frameFragments(DcmPixelSequence* seq, int frames, const std::string& path,
                      std::vector<std::vector<std::pair<const uint8_t*, size_t>>>* out) {
    const unsigned long items = seq->card();
    std::vector<std::pair<const uint8_t*, size_t>> fragments;
    std::vector<Uint32> itemOffsets;  // offset of each fragment item from the first one
    Uint32 offset = 0;
    for (unsigned long i = 1; i < items; ++i) {
        DcmPixelItem* item = nullptr;
        if (seq->getItem(item, i).bad() || !item) break;
        Uint8* data = nullptr;
        const Uint32 length = item->getLength();
        if (length > 0 && (item->getUint8Array(data).bad() || !data))
            return makeError(ErrorCode::CorruptFile,
                             "unreadable pixel data fragment in file " + path);
        fragments.emplace_back(data, length);
        itemOffsets.push_back(offset);
        offset += 8 + length;
    }
    if (fragments.empty())
        return makeError(ErrorCode::CorruptFile, "no pixel data fragments in file " + path);
    out->assign(size_t(frames), {});
    if (frames == 1) {
        (*out)[0] = fragments;
        return Status::success();
    }
    if (fragments.size() == size_t(frames)) {
        for (size_t i = 0; i < fragments.size(); ++i)
            (*out)[i].push_back(fragments[i]);
        return Status::success();
    }
    // Basic Offset Table.
    std::vector<Uint32> table;
    DcmPixelItem* first = nullptr;
    if (seq->getItem(first, 0).good() && first && first->getLength() >= 4 * Uint32(frames)) {
        Uint8* raw = nullptr;
        if (first->getUint8Array(raw).good() && raw) {
            for (int i = 0; i < frames; ++i) {
                const Uint8* p = raw + 4 * i;
                table.push_back(Uint32(p[0]) | (Uint32(p[1]) << 8) | (Uint32(p[2]) << 16) |
                                (Uint32(p[3]) << 24));
            }
        }
    }
    if (table.size() == size_t(frames)) {
        for (size_t f = 0; f < fragments.size(); ++f) {
            int frame = -1;
            for (int k = 0; k < frames; ++k)
                if (itemOffsets[f] >= table[size_t(k)]) frame = k;
            if (frame >= 0) (*out)[size_t(frame)].push_back(fragments[f]);
        }
    } else {
        // No table: a frame starts at each fragment that begins a codestream (FF 4F / FF D8).
        int frame = -1;
        for (const auto& frag : fragments) {
            const bool starts = frag.second >= 2 && frag.first[0] == 0xFF &&
                                (frag.first[1] == 0x4F || frag.first[1] == 0xD8);
            if (starts || frame < 0) ++frame;
            if (frame >= frames) break;
            (*out)[size_t(frame)].push_back(frag);
        }
    }
    for (const auto& f : *out)
        if (f.empty())
            return makeError(ErrorCode::CorruptFile,
                             "cannot find every frame's pixel data fragments in file " + path);
    return Status::success();
}

// The encapsulated pixel data of `f` split into frames; multi-fragment frames are joined
// into `joined` (one per frame that needs it).
Status encapsulatedFrames(ParsedFile& f, DcmElement* element,
                          std::vector<std::pair<const uint8_t*, size_t>>* frames,
                          std::vector<std::vector<uint8_t>>* joined) {
    auto* pixelData = static_cast<DcmPixelData*>(element);
    DcmPixelSequence* seq = nullptr;
    if (pixelData->getEncapsulatedRepresentation(f.xfer, nullptr, seq).bad() || !seq)
        return makeError(ErrorCode::CorruptFile,
                         "unreadable encapsulated pixel data in file " + f.path);
    std::vector<std::vector<std::pair<const uint8_t*, size_t>>> parts;
    if (Status s = frameFragments(seq, f.format.frames, f.path, &parts); !s) return s;
    frames->clear();
    joined->assign(parts.size(), {});
    for (size_t i = 0; i < parts.size(); ++i) {
        if (parts[i].size() == 1) {
            frames->push_back(parts[i][0]);
            continue;
        }
        for (const auto& p : parts[i])
            (*joined)[i].insert((*joined)[i].end(), p.first, p.first + p.second);
        frames->emplace_back((*joined)[i].data(), (*joined)[i].size());
    }
    return Status::success();
}

// JPEG-LS frames decoded by CharLS 2 straight from the encapsulated fragments into one
// reused per-thread buffer, then converted into the sinks (no DCMTK copy of the data set).
Status decodeJpegLsPixels(ParsedFile& f, DcmElement* element, const std::vector<FrameSink>& sinks) {
    const PixelFormat& pf = f.format;
    std::vector<std::pair<const uint8_t*, size_t>> frames;
    std::vector<std::vector<uint8_t>> joined;
    if (Status s = encapsulatedFrames(f, element, &frames, &joined); !s) return s;
    thread_local std::vector<uint8_t> samples;
    const StoredValueDecoder decode(pf);
    const size_t count = size_t(pf.rows) * size_t(pf.cols);
    for (int i = 0; i < pf.frames; ++i) {
        const FrameSink& sink = sinks[size_t(i)];
        if (!sink.i16 && !sink.f32) continue;
        auto frame = decodeJpegLs(frames[size_t(i)].first, frames[size_t(i)].second, &samples,
                                  "frame " + std::to_string(i) + " of file " + f.path);
        if (!frame) return frame.error();
        if (frame->width != pf.cols || frame->height != pf.rows || frame->components != 1 ||
            frame->bitsPerSample > pf.bitsAllocated)
            return makeError(ErrorCode::CorruptFile,
                             "JPEG-LS frame of " + std::to_string(frame->width) + "x" +
                                 std::to_string(frame->height) + "x" +
                                 std::to_string(frame->components) + " samples of " +
                                 std::to_string(frame->bitsPerSample) +
                                 " bits does not match the image attributes in file " + f.path);
        if (frame->bitsPerSample <= 8)
            convertFrame(samples.data(), count, decode, sink);
        else
            convertFrame(reinterpret_cast<const uint16_t*>(samples.data()), count, decode, sink);
    }
    return Status::success();
}

// JPEG 2000 frames decoded by OpenJPEG straight from the encapsulated fragments.
Status decodeJpeg2000Pixels(ParsedFile& f, DcmElement* element,
                            const std::vector<FrameSink>& sinks) {
    const PixelFormat& pf = f.format;
    std::vector<std::pair<const uint8_t*, size_t>> frames;
    std::vector<std::vector<uint8_t>> joined;
    if (Status s = encapsulatedFrames(f, element, &frames, &joined); !s) return s;
    for (int i = 0; i < pf.frames; ++i) {
        if (!sinks[size_t(i)].i16 && !sinks[size_t(i)].f32) continue;
        auto image = decodeJpeg2000(frames[size_t(i)].first, frames[size_t(i)].second,
                                    "frame " + std::to_string(i) + " of file " + f.path);
        if (!image) return image.error();
        if (image->components != 1)
            return makeError(ErrorCode::InvalidArgument,
                             "colour JPEG 2000 frame in file " + f.path);
        if (image->width != pf.cols || image->height != pf.rows)
            return makeError(ErrorCode::CorruptFile,
                             "JPEG 2000 frame size " + std::to_string(image->width) + "x" +
                                 std::to_string(image->height) +
                                 " differs from Rows/Columns in file " + f.path);
        convertJ2kFrame(image.value(), pf, sinks[size_t(i)]);
    }
    return Status::success();
}

// Native pixel data, or encapsulated data decoded by DCMTK's codecs into a native copy.
Status decodePixelsWithDcmtk(ParsedFile& f, const std::vector<FrameSink>& sinks) {
    DcmDataset* ds = f.dicom->getDataset();
    const PixelFormat& pf = f.format;
    const size_t frameSamples = size_t(pf.rows) * size_t(pf.cols);
    DcmElement* element = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, element).bad() || !element)
        return makeError(ErrorCode::CorruptFile, "no Pixel Data in file " + f.path);
    if (DcmXfer(f.xfer).isEncapsulated()) {
        const OFCondition c = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        if (c.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
            return makeError(ErrorCode::CorruptFile, std::string("cannot decode ") +
                                                         f.transferSyntaxName + " pixel data (" +
                                                         c.text() + ") in file " + f.path);
        if (ds->findAndGetElement(DCM_PixelData, element).bad() || !element)
            return makeError(ErrorCode::CorruptFile,
                             "no Pixel Data after decoding in file " + f.path);
    }

    const size_t bytesPerSample = size_t(std::max(1, pf.bitsAllocated / 8));
    const size_t needed = pf.bitsAllocated == 1 ? (frameSamples * size_t(pf.frames) + 7) / 8
                                                : frameSamples * bytesPerSample * size_t(pf.frames);
    const uint8_t* bytes = nullptr;
    const size_t length = element->getLengthField();
    Uint16* words = nullptr;
    Uint8* octets = nullptr;
    // DCMTK keeps OW values in host byte order and OB values as bytes.
    if (element->getVR() == EVR_OW || element->getVR() == EVR_xs || element->getVR() == EVR_ox) {
        if (element->getUint16Array(words).good() && words)
            bytes = reinterpret_cast<const uint8_t*>(words);
    }
    if (!bytes && element->getUint8Array(octets).good() && octets) bytes = octets;
    if (!bytes && element->getUint16Array(words).good() && words)
        bytes = reinterpret_cast<const uint8_t*>(words);
    if (!bytes || length < needed)
        return makeError(ErrorCode::CorruptFile, "pixel data is " + std::to_string(length) +
                                                     " bytes, expected " + std::to_string(needed) +
                                                     " (truncated?) in file " + f.path);
    const bool bigEndianWords32 = pf.bitsAllocated == 32 && words && DcmXfer(f.xfer).isBigEndian();
    std::vector<uint32_t> swapped;
    const StoredValueDecoder decode(pf);
    for (int i = 0; i < pf.frames; ++i) {
        const FrameSink& sink = sinks[size_t(i)];
        if (!sink.i16 && !sink.f32) continue;
        const uint8_t* src = bytes + size_t(i) * frameSamples * bytesPerSample;
        if (pf.bitsAllocated == 1) {
            // PS3.5 8.1.1: bit-packed, least significant bit first, frames not byte aligned.
            std::vector<uint8_t> unpacked(frameSamples);
            const size_t firstBit = size_t(i) * frameSamples;
            for (size_t k = 0; k < frameSamples; ++k) {
                const size_t bit = firstBit + k;
                unpacked[k] = (bytes[bit >> 3] >> (bit & 7)) & 1;
            }
            convertFrame(unpacked.data(), frameSamples, decode, sink);
        } else if (pf.bitsAllocated == 8) {
            convertFrame(src, frameSamples, decode, sink);
        } else if (pf.bitsAllocated == 16) {
            convertFrame(reinterpret_cast<const uint16_t*>(src), frameSamples, decode, sink);
        } else if (bigEndianWords32) {
            // Big endian 32-bit samples were byte-swapped by DCMTK as 16-bit words: swap halves.
            swapped.resize(frameSamples);
            const auto* w = reinterpret_cast<const uint16_t*>(src);
            for (size_t k = 0; k < frameSamples; ++k)
                swapped[k] = (uint32_t(w[2 * k]) << 16) | w[2 * k + 1];
            convertFrame(swapped.data(), frameSamples, decode, sink);
        } else {
            convertFrame(reinterpret_cast<const uint32_t*>(src), frameSamples, decode, sink);
        }
    }
    return Status::success();
}

// Colour frames, decoded (and decompressed) by DCMTK's dcmimage, to luminance with the
// ITU-R BT.601 weights Y = 0.299 R + 0.587 G + 0.114 B. YBR data keep their own Y channel,
// which PS3.3 C.7.6.3.1.2 defines with the same weights (no round trip through RGB).
Status decodeColourPixels(ParsedFile& f, const std::vector<FrameSink>& sinks) {
    const PixelFormat& pf = f.format;
    // Partial-range YBR (Y in 16..235) goes through DCMTK's conversion to RGB instead.
    const bool fullYbr = pf.photometric == "YBR_FULL" || pf.photometric == "YBR_FULL_422";
    DicomImage image(f.dicom->getDataset(), f.xfer, fullYbr ? CIF_KeepYCbCrColorModel : 0);
    if (image.getStatus() != EIS_Normal)
        return makeError(ErrorCode::CorruptFile, std::string("cannot decode colour image (") +
                                                     DicomImage::getString(image.getStatus()) +
                                                     ") in file " + f.path);
    if (image.isMonochrome() || int(image.getWidth()) != pf.cols ||
        int(image.getHeight()) != pf.rows || int(image.getFrameCount()) < pf.frames)
        return makeError(ErrorCode::CorruptFile,
                         "colour image decodes to an unexpected size in file " + f.path);
    // A JPEG decoder may already have converted YBR to RGB (and said so in the data set).
    const bool ybr = fullYbr && (image.getPhotometricInterpretation() == EPI_YBR_Full ||
                                 image.getPhotometricInterpretation() == EPI_YBR_Full_422);
    const int bits = std::max(1, image.getDepth());
    const size_t count = size_t(pf.rows) * size_t(pf.cols);
    for (int i = 0; i < pf.frames; ++i) {
        const FrameSink& sink = sinks[size_t(i)];
        if (!sink.i16 && !sink.f32) continue;
        const void* data = image.getOutputData(bits, unsigned(i), 0);
        if (!data)
            return makeError(ErrorCode::CorruptFile, "cannot render colour frame " +
                                                         std::to_string(i) + " of file " + f.path);
        auto sample = [&](size_t k) -> double {
            if (bits <= 8) return static_cast<const uint8_t*>(data)[k];
            if (bits <= 16) return static_cast<const uint16_t*>(data)[k];
            return static_cast<const uint32_t*>(data)[k];
        };
        for (size_t k = 0; k < count; ++k) {
            const double y =
                ybr ? sample(3 * k)
                    : 0.299 * sample(3 * k) + 0.587 * sample(3 * k + 1) + 0.114 * sample(3 * k + 2);
            const double value = y * sink.slope + sink.intercept;
            if (sink.f32)
                sink.f32[k] = float(value);
            else
                sink.i16[k] = int16_t(std::lround(value));
        }
    }
    return Status::success();
}

// Phase 2: decode every frame of a file into its sinks (index = frame, null = unused).
Status decodePixels(ParsedFile& f, const std::vector<FrameSink>& sinks) {
    if (f.format.colour) return decodeColourPixels(f, sinks);
    DcmElement* element = nullptr;
    if (f.dicom->getDataset()->findAndGetElement(DCM_PixelData, element).bad() || !element)
        return makeError(ErrorCode::CorruptFile, "no Pixel Data in file " + f.path);
    if (isJpeg2000(f.xfer)) return decodeJpeg2000Pixels(f, element, sinks);
    if (f.xfer == EXS_JPEGLSLossless || f.xfer == EXS_JPEGLSLossy) {
        Status s = decodeJpegLsPixels(f, element, sinks);
        if (s) return s;
        // DCMTK's own JPEG-LS decoder gets a second chance (it accepts a few streams written
        // by old encoders that CharLS 2 refuses); when it fails too, CharLS's error is given.
        Status dcmtk = decodePixelsWithDcmtk(f, sinks);
        return dcmtk ? dcmtk : s;
    }
    return decodePixelsWithDcmtk(f, sinks);
}

// ---- Parallel execution ----------------------------------------------------------------

// Runs work(i) for i in [0, count) on worker threads; returns false when cancelled.
bool runParallel(size_t count, const LoadOptions& options, const char* phase,
                 const std::function<void(size_t)>& work) {
    if (count == 0) return true;
    int threads = options.threads > 0 ? options.threads : int(std::thread::hardware_concurrency());
    threads = std::max(1, std::min<int>(threads, int(count)));
    std::atomic<size_t> next{0};
    std::atomic<int> done{0};
    std::atomic<bool> cancelled{false};
    std::mutex m;
    std::condition_variable cv;
    auto stop = [&] { return cancelled.load() || (options.cancel && options.cancel->load()); };
    auto worker = [&] {
        for (;;) {
            if (stop()) break;
            const size_t i = next.fetch_add(1);
            if (i >= count) break;
            work(i);
            done.fetch_add(1);
        }
        std::lock_guard<std::mutex> lock(m);
        cv.notify_all();
    };
    std::vector<std::thread> pool;
    pool.reserve(size_t(threads));
    for (int t = 0; t < threads; ++t)
        pool.emplace_back(worker);
    {
        std::unique_lock<std::mutex> lock(m);
        while (size_t(done.load()) < count && !stop()) {
            cv.wait_for(lock, std::chrono::milliseconds(50));
            if (options.progress) {
                lock.unlock();
                if (!options.progress(LoadProgress{done.load(), int(count), phase}))
                    cancelled = true;
                lock.lock();
            }
        }
    }
    for (auto& t : pool)
        t.join();
    if (options.progress && !stop()) options.progress(LoadProgress{int(count), int(count), phase});
    return !stop();
}

// ---- File discovery --------------------------------------------------------------------

// Resolves a DICOMDIR ReferencedFileID ("DIR\SUB\FILE") below `root`, matching each
// component case-insensitively when the exact name does not exist.
fs::path resolveReference(const fs::path& root, const std::string& fileId) {
    fs::path current = root;
    size_t start = 0;
    while (start <= fileId.size()) {
        size_t end = fileId.find('\\', start);
        if (end == std::string::npos) end = fileId.size();
        const std::string part = trim(fileId.substr(start, end - start));
        start = end + 1;
        if (part.empty()) continue;
        fs::path exact = current / part;
        std::error_code ec;
        if (fs::exists(exact, ec)) {
            current = exact;
            continue;
        }
        bool found = false;
        for (const auto& entry : fs::directory_iterator(current, ec)) {
            const std::string name = entry.path().filename().string();
            if (name.size() == part.size() &&
                std::equal(name.begin(), name.end(), part.begin(), [](char a, char b) {
                    return std::tolower((unsigned char)a) == std::tolower((unsigned char)b);
                })) {
                current = entry.path();
                found = true;
                break;
            }
        }
        if (!found) return exact;
    }
    return current;
}

Result<std::vector<std::string>> filesOfDicomDir(const std::string& path) {
    DcmFileFormat dir;
    const OFCondition c = dir.loadFile(path.c_str());
    if (c.bad())
        return makeError(ErrorCode::CorruptFile,
                         std::string("unreadable DICOMDIR (") + c.text() + ") " + path);
    DcmSequenceOfItems* records = nullptr;
    if (dir.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, records).bad() ||
        !records)
        return makeError(ErrorCode::CorruptFile,
                         "DICOMDIR without Directory Record Sequence: " + path);
    std::vector<std::string> files;
    const fs::path root = fs::path(path).parent_path();
    for (unsigned long i = 0; i < records->card(); ++i) {
        const std::string id = getString(records->getItem(i), DCM_ReferencedFileID);
        if (!id.empty()) files.push_back(resolveReference(root, id).string());
    }
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    return files;
}

bool isDicomDirFile(const std::string& path) {
    if (fs::path(path).filename() == "DICOMDIR") return true;
    DcmFileFormat probe;
    if (probe.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 256, ERM_fileOnly).bad())
        return false;
    return trim(getString(probe.getMetaInfo(), DCM_MediaStorageSOPClassUID)) == kDicomDirSopClass;
}

// ---- Series assembly -------------------------------------------------------------------

struct FrameRef {
    size_t file;
    int frame;
    double key;  // position along the normal
};

Vec3 cross(const Vec3& a, const Vec3& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

std::string geometryKey(const ParsedFile& f) {
    const auto& o = f.frames[0].orientation;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%dx%d|%.3f %.3f %.3f %.3f %.3f %.3f", f.format.cols,
                  f.format.rows, o[0], o[1], o[2], o[3], o[4], o[5]);
    return buf;
}

// Builds the geometry of one series from its usable files; files that disagree with the
// majority's size or orientation are moved to `report`. Voxels are allocated, not filled.
bool assembleSeries(std::vector<ParsedFile>& files, const std::vector<size_t>& members,
                    SeriesInfo* series, std::vector<FrameRef>* order, LoadReport* report,
                    bool allocate) {
    // Majority size + orientation.
    std::map<std::string, int> votes;
    auto keyOf = geometryKey;
    for (size_t i : members)
        votes[keyOf(files[i])] += files[i].format.frames;
    const std::string majority = std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) {
                                     return a.second < b.second;
                                 })->first;
    std::vector<size_t> kept;
    int mixedSize = 0, mixedOrientation = 0;
    const ParsedFile* ref = nullptr;
    for (size_t i : members)
        if (keyOf(files[i]) == majority) ref = &files[i];
    for (size_t i : members) {
        ParsedFile& f = files[i];
        if (keyOf(f) == majority) {
            kept.push_back(i);
            continue;
        }
        const bool sizeDiffers =
            f.format.cols != ref->format.cols || f.format.rows != ref->format.rows;
        (sizeDiffers ? mixedSize : mixedOrientation)++;
        report->skipped.push_back(
            skipped(f.path, ErrorCode::InvalidArgument,
                    sizeDiffers ? "image size " + std::to_string(f.format.cols) + "x" +
                                      std::to_string(f.format.rows) +
                                      " differs from the rest of series " + f.seriesUid
                                : "orientation differs from the rest of series " + f.seriesUid));
        f.usable = false;
        f.dicom.reset();
    }
    if (mixedSize)
        series->warnings.push_back("mixed image sizes: " + std::to_string(mixedSize) +
                                   " file(s) left out");
    if (mixedOrientation)
        series->warnings.push_back("mixed orientations: " + std::to_string(mixedOrientation) +
                                   " file(s) left out");

    const ParsedFile& first = files[kept[0]];
    const auto& o = first.frames[0].orientation;
    const Vec3 rowDir{o[0], o[1], o[2]};
    const Vec3 colDir{o[3], o[4], o[5]};
    Vec3 normal = cross(rowDir, colDir);
    const double nlen = std::sqrt(dot(normal, normal));
    bool geometry = nlen > 0.5;
    if (geometry)
        for (auto& v : normal)
            v /= nlen;
    for (size_t i : kept)
        for (const auto& g : files[i].frames)
            geometry = geometry && g.hasPosition && g.hasOrientation;
    if (std::fabs(dot(rowDir, colDir)) > 1e-3 && geometry)
        series->warnings.push_back("ImageOrientationPatient is not orthogonal");

    order->clear();
    for (size_t i : kept)
        for (int k = 0; k < files[i].format.frames; ++k)
            order->push_back(
                {i, k, geometry ? dot(files[i].frames[size_t(k)].position, normal) : 0.0});
    if (geometry) {
        std::stable_sort(order->begin(), order->end(),
                         [](const FrameRef& a, const FrameRef& b) { return a.key < b.key; });
    } else {
        series->warnings.push_back(
            "no ImagePositionPatient/ImageOrientationPatient: slices stacked in InstanceNumber and "
            "frame order");
        std::stable_sort(order->begin(), order->end(), [&](const FrameRef& a, const FrameRef& b) {
            const int ia = files[a.file].instanceNumber, ib = files[b.file].instanceNumber;
            return ia != ib ? ia < ib : a.frame < b.frame;
        });
    }
    series->hasPatientGeometry = geometry;

    Volume& v = series->volume;
    v.dims = {first.format.cols, first.format.rows, int(order->size())};
    v.spacing = {first.frames[0].colSpacing, first.frames[0].rowSpacing,
                 first.sliceSpacingHint > 0 ? first.sliceSpacingHint : 1.0};
    if (!first.frames[0].hasSpacing) series->warnings.push_back("no PixelSpacing: 1 mm assumed");
    v.direction = {rowDir[0], rowDir[1], rowDir[2], colDir[0], colDir[1],
                   colDir[2], normal[0], normal[1], normal[2]};
    if (!geometry) v.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    v.origin = geometry ? files[(*order)[0].file].frames[size_t((*order)[0].frame)].position
                        : Vec3{0, 0, 0};
    v.modality = first.modality;
    v.invertedDisplay = first.format.monochrome1;

    if (geometry && order->size() >= 2) {
        std::vector<double> gaps;
        for (size_t k = 1; k < order->size(); ++k)
            gaps.push_back((*order)[k].key - (*order)[k - 1].key);
        std::vector<double> sorted = gaps;
        std::nth_element(sorted.begin(), sorted.begin() + long(sorted.size() / 2), sorted.end());
        const double median = sorted[sorted.size() / 2];
        if (median <= 1e-4) {
            series->warnings.push_back("all slices share one position");
        } else {
            v.spacing[2] = median;
            int duplicates = 0, missing = 0, uneven = 0;
            double lo = median, hi = median;
            for (double g : gaps) {
                if (g < 0.01 * median) {
                    ++duplicates;
                } else if (g > 1.5 * median) {
                    missing += int(std::lround(g / median)) - 1;
                } else if (std::fabs(g - median) > std::max(0.01, 0.01 * median)) {
                    ++uneven;
                    lo = std::min(lo, g);
                    hi = std::max(hi, g);
                }
            }
            if (duplicates)
                series->warnings.push_back(std::to_string(duplicates) +
                                           " duplicate slice position(s)");
            if (missing)
                series->warnings.push_back("missing slices: about " + std::to_string(missing) +
                                           " slice(s) absent (gaps larger than " + fmt(median) +
                                           " mm)");
            if (uneven)
                series->warnings.push_back("uneven slice spacing: " + fmt(lo) + " to " + fmt(hi) +
                                           " mm (median " + fmt(median) + " mm)");
            // Gantry tilt: positions that do not advance along the normal.
            const Vec3& p0 =
                files[order->front().file].frames[size_t(order->front().frame)].position;
            const Vec3& p1 = files[order->back().file].frames[size_t(order->back().frame)].position;
            const Vec3 d{p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]};
            const double along = dot(d, normal);
            const double total = std::sqrt(dot(d, d));
            if (total > 0 && along / total < 0.999)
                series->warnings.push_back(
                    "slice positions do not follow the slice normal (gantry tilt?)");
        }
    }

    // Int16 when every slice's values fit exactly, else Float32 (always for colour: the
    // luminance of integer samples is not an integer).
    bool fitsInt16 = first.format.bitsAllocated <= 16;
    for (size_t i : kept)
        fitsInt16 = fitsInt16 && !files[i].format.colour;
    for (size_t i : kept) {
        const auto& f = files[i];
        const double lo = f.format.isSigned ? -std::ldexp(1.0, f.format.bitsStored - 1) : 0.0;
        const double hi = f.format.isSigned ? std::ldexp(1.0, f.format.bitsStored - 1) - 1
                                            : std::ldexp(1.0, f.format.bitsStored) - 1;
        for (const auto& g : f.frames) {
            const double a = lo * g.slope + g.intercept, b = hi * g.slope + g.intercept;
            fitsInt16 = fitsInt16 && g.slope == std::floor(g.slope) &&
                        g.intercept == std::floor(g.intercept) && std::min(a, b) >= -32768.0 &&
                        std::max(a, b) <= 32767.0;
        }
    }
    if (first.format.colour)
        series->warnings.push_back("colour image (" + first.format.photometric +
                                   ") converted to luminance (ITU-R BT.601 weights)");
    v.type = fitsInt16 ? VoxelType::Int16 : VoxelType::Float32;
    v.units = (first.modality == "CT" && !first.format.colour) ? "HU" : "";
    v.slices.clear();
    for (const auto& r : *order) {
        const ParsedFile& f = files[r.file];
        const FrameGeometry& g = f.frames[size_t(r.frame)];
        v.slices.push_back(SliceInfo{f.sopUid, f.path, r.frame, g.position, g.slope, g.intercept});
    }
    if (allocate) {
        if (fitsInt16)
            v.voxelsI16.resize(v.voxelCount());
        else
            v.voxelsF32.resize(v.voxelCount());
    }
    std::set<std::string> names, uids;
    for (size_t i : kept) {
        if (names.insert(files[i].transferSyntaxName).second)
            series->transferSyntaxes.push_back(files[i].transferSyntaxName);
        if (uids.insert(files[i].transferSyntaxUid).second)
            series->transferSyntaxUids.push_back(files[i].transferSyntaxUid);
    }
    return true;
}

// Removes slices whose file failed to decode (listed in `failedFiles`).
void dropFailedSlices(SeriesInfo* series, const std::set<std::string>& failedFiles) {
    Volume& v = series->volume;
    const size_t plane = size_t(v.dims[0]) * size_t(v.dims[1]);
    size_t write = 0;
    std::vector<SliceInfo> kept;
    for (size_t z = 0; z < v.slices.size(); ++z) {
        if (failedFiles.count(v.slices[z].file)) continue;
        if (write != z) {
            if (v.type == VoxelType::Int16)
                std::memmove(&v.voxelsI16[write * plane], &v.voxelsI16[z * plane],
                             plane * sizeof(int16_t));
            else
                std::memmove(&v.voxelsF32[write * plane], &v.voxelsF32[z * plane],
                             plane * sizeof(float));
        }
        kept.push_back(v.slices[z]);
        ++write;
    }
    const size_t dropped = v.slices.size() - write;
    if (dropped == 0) return;
    v.slices = std::move(kept);
    v.dims[2] = int(write);
    if (v.type == VoxelType::Int16)
        v.voxelsI16.resize(write * plane);
    else
        v.voxelsF32.resize(write * plane);
    if (!v.slices.empty()) v.origin = v.slices.front().position;
    series->warnings.push_back(std::to_string(dropped) +
                               " slice(s) left out: their pixel data could not be decoded");
}

}  // namespace

Result<LoadedStudies> loadStudies(const std::string& path, const LoadOptions& options) {
    detail::ensureDcmtkInitialized();
    std::error_code ec;
    if (!fs::exists(path, ec))
        return makeError(ErrorCode::NotFound, "no such file or folder: " + path);

    std::vector<std::string> paths;
    if (fs::is_directory(path, ec)) {
        for (auto it = fs::recursive_directory_iterator(
                 path, fs::directory_options::skip_permission_denied, ec);
             it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (ec) break;
            if (it->is_regular_file(ec)) paths.push_back(it->path().string());
        }
        std::sort(paths.begin(), paths.end());
    } else if (isDicomDirFile(path)) {
        auto refs = filesOfDicomDir(path);
        if (!refs) return refs.error();
        paths = std::move(refs.value());
    } else {
        paths.push_back(path);
    }

    LoadedStudies result;
    result.report.filesFound = int(paths.size());
    std::vector<ParsedFile> files(paths.size());
    for (size_t i = 0; i < paths.size(); ++i)
        files[i].path = paths[i];

    const bool headersDone = runParallel(files.size(), options, "scanning", [&](size_t i) {
        ParsedFile& f = files[i];
        try {
            std::error_code e;
            if (!fs::exists(f.path, e))
                f.skip = skipped(f.path, ErrorCode::IoError, "referenced file does not exist");
            else
                parseHeader(f);
        } catch (const std::exception& ex) {
            f.usable = false;
            f.dicom.reset();
            f.skip = skipped(f.path, ErrorCode::CorruptFile,
                             std::string("unreadable (") + ex.what() + ")");
        }
        if (!f.usable) f.dicom.reset();
    });
    if (!headersDone) return makeError(ErrorCode::Cancelled, "loading " + path + " was cancelled");

    // Group by series (keeping first-seen patient/study attributes).
    // A series whose images differ in size or orientation (e.g. a three-plane localizer)
    // becomes one stack per geometry.
    std::map<std::string, std::vector<size_t>> bySeries;
    std::map<std::string, std::set<std::string>> stacksOf;
    for (size_t i = 0; i < files.size(); ++i) {
        if (files[i].usable) {
            const std::string key = files[i].seriesUid + "|" + geometryKey(files[i]);
            bySeries[key].push_back(i);
            stacksOf[files[i].seriesUid].insert(key);
        } else if (!files[i].isDicomDir) {
            result.report.skipped.push_back(files[i].skip);
        }
    }

    struct Pending {
        SeriesInfo info;
        std::vector<FrameRef> order;
        std::string patientKey, studyUid;
    };
    std::vector<Pending> pending;
    for (auto& [key, members] : bySeries) {
        Pending p;
        const ParsedFile& f = files[members[0]];
        const auto& stacks = stacksOf[f.seriesUid];
        p.info.seriesInstanceUid = f.seriesUid;
        p.info.stack = int(std::distance(stacks.begin(), stacks.find(key)));
        if (stacks.size() > 1)
            p.info.warnings.push_back(
                "series has " + std::to_string(stacks.size()) +
                " stacks with different image sizes or orientations; this is stack " +
                std::to_string(p.info.stack + 1));
        p.info.description = f.seriesDescription;
        p.info.modality = f.modality;
        p.info.seriesNumber = f.seriesNumber;
        p.info.frameOfReferenceUid = f.frameOfReference;
        p.patientKey = f.patientId + "\x1f" + f.patientName;
        p.studyUid = f.studyUid;
        try {
            assembleSeries(files, members, &p.info, &p.order, &result.report, options.loadPixels);
        } catch (const std::bad_alloc&) {
            for (size_t i : members) {
                result.report.skipped.push_back(
                    skipped(files[i].path, ErrorCode::OutOfMemory,
                            "not enough memory for the volume of series " + files[i].seriesUid));
                files[i].usable = false;
                files[i].dicom.reset();
            }
            continue;
        }
        // Burned-in text (names, dates, measurements) and screenshots are shown, never fed to
        // the model: it would read pixels that are not anatomy.
        int burnedIn = 0, captures = 0;
        for (size_t i : members) {
            burnedIn += files[i].burnedInAnnotation;
            captures += files[i].secondaryCapture;
        }
        if (burnedIn || captures) {
            p.info.modelExclusion =
                burnedIn ? "burned-in annotation (BurnedInAnnotation YES in " +
                               std::to_string(burnedIn) + " of " + std::to_string(members.size()) +
                               " files)"
                         : std::string("secondary capture (screenshot or scanned image)");
            p.info.warnings.push_back(p.info.modelExclusion + ": excluded from model input");
            result.report.notes.push_back(p.info.modelExclusion +
                                          ": excluded from model input, series " + f.seriesUid);
        }
        if (f.format.colour)
            result.report.notes.push_back("colour image (" + f.format.photometric +
                                          ") converted to luminance (ITU-R BT.601 weights) in "
                                          "series " +
                                          f.seriesUid);
        pending.push_back(std::move(p));
    }

    if (options.loadPixels) {
        // file -> sinks of its frames
        std::vector<std::vector<FrameSink>> sinks(files.size());
        std::vector<size_t> work;
        for (auto& p : pending) {
            Volume& v = p.info.volume;
            const size_t plane = size_t(v.dims[0]) * size_t(v.dims[1]);
            for (size_t z = 0; z < p.order.size(); ++z) {
                const FrameRef& r = p.order[z];
                auto& s = sinks[r.file];
                if (s.empty()) {
                    s.resize(size_t(files[r.file].format.frames));
                    work.push_back(r.file);
                }
                const FrameGeometry& g = files[r.file].frames[size_t(r.frame)];
                FrameSink& sink = s[size_t(r.frame)];
                sink.slope = g.slope;
                sink.intercept = g.intercept;
                if (v.type == VoxelType::Int16)
                    sink.i16 = v.voxelsI16.data() + z * plane;
                else
                    sink.f32 = v.voxelsF32.data() + z * plane;
            }
        }
        std::vector<std::optional<Error>> failures(files.size());
        const bool pixelsDone = runParallel(work.size(), options, "decoding", [&](size_t w) {
            ParsedFile& f = files[work[w]];
            try {
                Status s = decodePixels(f, sinks[work[w]]);
                if (!s) failures[work[w]] = s.error();
            } catch (const std::exception& ex) {
                failures[work[w]] =
                    makeError(ErrorCode::CorruptFile,
                              std::string("cannot decode (") + ex.what() + ") in file " + f.path);
            }
            f.dicom.reset();
        });
        if (!pixelsDone)
            return makeError(ErrorCode::Cancelled, "loading " + path + " was cancelled");
        std::set<std::string> failed;
        for (size_t i = 0; i < files.size(); ++i) {
            if (!failures[i]) continue;
            failed.insert(files[i].path);
            result.report.skipped.push_back(
                SkippedFile{files[i].path, failures[i]->code, failures[i]->message});
        }
        if (!failed.empty())
            for (auto& p : pending)
                dropFailedSlices(&p.info, failed);
    }

    // Patients -> studies -> series.
    std::map<std::string, size_t> patientIndex;
    std::set<std::string> contributing;
    for (auto& p : pending) {
        if (p.info.volume.dims[2] == 0) continue;
        for (const auto& s : p.info.volume.slices)
            contributing.insert(s.file);
        const ParsedFile* f = nullptr;
        for (const auto& file : files)
            if (file.usable && file.seriesUid == p.info.seriesInstanceUid) {
                f = &file;
                break;
            }
        auto [it, isNew] = patientIndex.emplace(p.patientKey, result.patients.size());
        if (isNew)
            result.patients.push_back(
                PatientInfo{f->patientName, f->patientId, f->birthDate, f->sex, {}});
        PatientInfo& patient = result.patients[it->second];
        auto study =
            std::find_if(patient.studies.begin(), patient.studies.end(),
                         [&](const StudyInfo& s) { return s.studyInstanceUid == p.studyUid; });
        if (study == patient.studies.end()) {
            patient.studies.push_back(
                StudyInfo{p.studyUid, f->studyDescription, f->studyDate, f->accession, {}});
            study = patient.studies.end() - 1;
        }
        study->series.push_back(std::move(p.info));
    }
    for (auto& patient : result.patients) {
        std::sort(patient.studies.begin(), patient.studies.end(),
                  [](const StudyInfo& a, const StudyInfo& b) {
                      return std::tie(a.date, a.studyInstanceUid) <
                             std::tie(b.date, b.studyInstanceUid);
                  });
        for (auto& study : patient.studies)
            std::sort(study.series.begin(), study.series.end(),
                      [](const SeriesInfo& a, const SeriesInfo& b) {
                          return std::tie(a.seriesNumber, a.seriesInstanceUid, a.stack) <
                                 std::tie(b.seriesNumber, b.seriesInstanceUid, b.stack);
                      });
    }
    std::sort(result.report.skipped.begin(), result.report.skipped.end(),
              [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
    result.report.filesLoaded = int(contributing.size());
    return result;
}

Result<Volume> loadVolume(const std::string& path, const LoadOptions& options) {
    auto loaded = loadStudies(path, options);
    if (!loaded) return loaded.error();
    for (auto& patient : loaded->patients)
        for (auto& study : patient.studies)
            for (auto& series : study.series)
                return std::move(series.volume);
    if (!loaded->report.skipped.empty()) {
        const SkippedFile& s = loaded->report.skipped.front();
        return makeError(s.code, s.reason);
    }
    return makeError(ErrorCode::NotFound, "no DICOM image found in " + path);
}

std::string seriesLabel(const SeriesInfo& s) {
    std::string n = "series " + std::to_string(s.seriesNumber);
    if (!s.description.empty()) n += " (" + s.description + ")";
    return n;
}

const SeriesInfo* chooseModelSeries(const LoadedStudies& studies, const std::string& seriesUid,
                                    std::string* why) {
    const SeriesInfo* best = nullptr;
    bool seen = false;
    std::string excluded;
    auto name = [](const SeriesInfo& s) { return seriesLabel(s); };
    auto score = [](const SeriesInfo& s) {
        return (s.modality == "CT" ? int64_t(1) << 32 : 0) + int64_t(s.volume.dims[2]);
    };
    for (const auto& patient : studies.patients)
        for (const auto& study : patient.studies)
            for (const auto& series : study.series) {
                if (!seriesUid.empty() && series.seriesInstanceUid != seriesUid) continue;
                seen = true;
                if (!series.modelExclusion.empty()) {
                    if (excluded.find(name(series)) == std::string::npos)
                        excluded += (excluded.empty() ? "" : "; ") + name(series) + ": " +
                                    series.modelExclusion;
                    continue;
                }
                if (!best || score(series) > score(*best)) best = &series;
            }
    if (!best && why) {
        if (!seriesUid.empty() && !seen)
            *why = "the requested series is not in this study";
        else if (!excluded.empty())
            *why = "no series usable as model input: " + excluded;
        else
            *why = "no image series loaded";
    }
    return best;
}

Result<FileSummary> readFileSummary(const std::string& path) {
    detail::ensureDcmtkInitialized();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return makeError(ErrorCode::NotFound, "no such file: " + path);
    std::string why;
    if (!looksLikeDicom(path, &why))
        return makeError(ErrorCode::CorruptFile, why + " in file " + path);
    DcmFileFormat dicom;
    const OFCondition cond =
        dicom.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 1024, ERM_autoDetect);
    const std::string metaTs = trim(getString(dicom.getMetaInfo(), DCM_TransferSyntaxUID));
    if (!metaTs.empty() && DcmXfer(metaTs.c_str()).getXfer() == EXS_Unknown)
        return makeError(ErrorCode::UnsupportedTransferSyntax,
                         "unsupported transfer syntax " + unknownTransferSyntaxName(metaTs) +
                             " in file " + path);
    if (cond.bad())
        return makeError(ErrorCode::CorruptFile,
                         std::string("unreadable DICOM (") + cond.text() + ") in file " + path);
    DcmDataset* ds = dicom.getDataset();
    FileSummary s;
    s.path = path;
    s.sopClassUid = trim(getString(ds, DCM_SOPClassUID));
    s.sopInstanceUid = trim(getString(ds, DCM_SOPInstanceUID));
    s.modality = trim(getString(ds, DCM_Modality));
    const DcmXfer xfer(ds->getOriginalXfer());
    s.transferSyntaxUid = metaTs.empty() ? std::string(xfer.getXferID()) : metaTs;
    s.transferSyntaxName = xfer.getXferName();
    s.specificCharacterSet = trim(getString(ds, DCM_SpecificCharacterSet));
    DcmSpecificCharacterSet cs;
    const bool csOk = cs.selectCharacterSet(*ds).good();
    const std::string charset = getString(ds, DCM_SpecificCharacterSet);
    s.patientName = convertText(&cs, csOk, trim(getString(ds, DCM_PatientName)), "\\^=", charset);
    s.patientId = convertText(&cs, csOk, trim(getString(ds, DCM_PatientID)), "\\", charset);
    s.studyDescription =
        convertText(&cs, csOk, trim(getString(ds, DCM_StudyDescription)), "\\", charset);
    s.seriesDescription =
        convertText(&cs, csOk, trim(getString(ds, DCM_SeriesDescription)), "\\", charset);
    s.hasPixelData = ds->tagExists(DCM_PixelData);
    return s;
}

const SeriesInfo* findSeries(const LoadedStudies& studies, const std::string& seriesUid) {
    for (const auto& patient : studies.patients)
        for (const auto& study : patient.studies)
            for (const auto& series : study.series)
                if (series.seriesInstanceUid == seriesUid) return &series;
    return nullptr;
}

}  // namespace consilium::imaging
