// Writing a Volume as a DICOM CT series (PS3.3 A.3 CT Image IOD, one file per slice, or
// A.38 Enhanced CT Image IOD, one multi-frame file with per-frame functional groups).
// Used by the phantom generator, the benchmarks and exports.
//
// Pixels are written as 16-bit stored values with RescaleIntercept -1024 / slope 1 when the
// volume's values fit [-1024, 64511] (unsigned, BitsStored 12 or 16), else signed with
// intercept 0. Float volumes are rounded. Geometry (ImagePositionPatient per slice,
// ImageOrientationPatient, PixelSpacing, SliceThickness) comes from the Volume.
// Thread-safe (no shared state besides DCMTK's one-time codec registration).
#pragma once

#include <string>
#include <vector>

#include "imaging/volume.h"
#include "kernels/status.h"

namespace consilium::imaging {

enum class DicomEncoding {
    ExplicitLittleEndian,  // 1.2.840.10008.1.2.1
    ImplicitLittleEndian,  // 1.2.840.10008.1.2
    ExplicitBigEndian,     // 1.2.840.10008.1.2.2 (retired, still read)
    DeflatedLittleEndian,  // 1.2.840.10008.1.2.1.99
    RleLossless,           // 1.2.840.10008.1.2.5
    JpegLsLossless,        // 1.2.840.10008.1.2.4.80
};

struct CtSeriesMetadata {
    std::string patientName;  // PN, UTF-8 (written with SpecificCharacterSet ISO_IR 192)
    std::string patientId;
    std::string patientSex;        // "M", "F", "O"
    std::string patientAge;        // AS, e.g. "063Y"
    std::string patientBirthDate;  // DA
    std::string studyInstanceUid;
    std::string seriesInstanceUid;
    std::string frameOfReferenceUid;
    std::vector<std::string> sopInstanceUids;  // one per slice (or one for multi-frame)
    std::string studyDate = "20260101";
    std::string studyTime = "120000";
    std::string studyDescription;
    std::string seriesDescription;
    std::string accessionNumber;
    std::string manufacturer = "Consilium";
    std::string bodyPart = "CHEST";
    int seriesNumber = 1;
    double sliceThickness = 0.0;  // mm; 0 = spacing[2]
    double kvp = 120.0;
};

struct DicomWriteOptions {
    DicomEncoding encoding = DicomEncoding::ExplicitLittleEndian;
    bool multiFrame = false;        // one Enhanced CT file instead of one file per slice
    std::string filePrefix = "IM";  // files are <prefix><5-digit index>, no extension
    int threads = 1;                // files written in parallel
};

// Writes `volume` into `dir` (created if missing). Errors: InvalidArgument (empty volume,
// wrong number of SOP Instance UIDs), IoError (cannot create or write a file), Internal
// (DCMTK could not encode). On success *files (if given) lists the written paths.
Status writeCtSeries(const Volume& volume, const CtSeriesMetadata& metadata, const std::string& dir,
                     const DicomWriteOptions& options = {},
                     std::vector<std::string>* files = nullptr);

// A DICOM UID under the 2.25 root (PS3.5 B.2) derived from `key`: equal keys give equal UIDs,
// so generated data are reproducible.
std::string deterministicUid(const std::string& key);

}  // namespace consilium::imaging
