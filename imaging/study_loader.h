// Reading DICOM studies from disk: a folder (searched recursively; any file names, no
// extensions needed), a single file, or a DICOMDIR. Files are grouped patient → study →
// series by their UIDs and every image series is assembled into a Volume in patient space
// (see imaging/volume.h): slices are sorted by ImagePositionPatient projected on the normal
// of ImageOrientationPatient (DICOM PS3.3 C.7.6.2.1.1), never by InstanceNumber or name.
//
// Pixels: 8/16/32 bits allocated, any BitsStored, signed or unsigned, MONOCHROME1/2, single
// and multi-frame (including enhanced CT/MR per-frame functional groups), rescale applied.
// Colour images (RGB, YBR_FULL, YBR_FULL_422, YBR_PARTIAL_422/420, PALETTE COLOR; e.g.
// secondary captures) load as a Float32 luminance volume, Y = 0.299 R + 0.587 G + 0.114 B
// (ITU-R BT.601; for YBR_FULL* the stored Y, which PS3.3 C.7.6.3.1.2 defines so), noted in
// SeriesInfo::warnings and LoadReport::notes. Colour JPEG 2000 is refused.
// Transfer syntaxes: implicit/explicit VR little endian, explicit big endian, deflated,
// RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000 (lossless and lossy).
// Text is returned as UTF-8, decoded from SpecificCharacterSet.
//
// Files that cannot be used (not DICOM, truncated, no pixel data, unsupported colour, unsupported
// transfer syntax, inconsistent with their series) are listed in LoadReport::skipped with
// the path and the reason; everything else still loads.
//
// Threads: loadStudies() decodes files on `threads` worker threads and returns when done.
// It is reentrant (concurrent calls on different paths are fine). The progress callback
// runs on the calling thread, at most ~20 times a second.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "imaging/volume.h"
#include "kernels/status.h"

namespace consilium::imaging {

struct LoadProgress {
    int filesDone = 0;
    int filesTotal = 0;
    const char* phase = "";  // "scanning" (reading headers) or "decoding" (pixels)
};

struct LoadOptions {
    int threads = 0;         // worker threads; 0 = one per hardware thread
    bool loadPixels = true;  // false: headers and geometry only (volumes stay empty)
    // Called on the calling thread; return false to cancel (loadStudies then returns
    // ErrorCode::Cancelled).
    std::function<bool(const LoadProgress&)> progress;
    // Checked between files; set from any thread to cancel.
    const std::atomic<bool>* cancel = nullptr;
};

// A file that was not used, and why.
struct SkippedFile {
    std::string path;
    ErrorCode code = ErrorCode::CorruptFile;  // CorruptFile, UnsupportedTransferSyntax,
                                              // InvalidArgument (usable DICOM but not an
                                              // image we load), IoError
    std::string reason;                       // one line naming the file and the problem
};

struct LoadReport {
    int filesFound = 0;                // regular files considered
    int filesLoaded = 0;               // files that contributed to a series
    std::vector<SkippedFile> skipped;  // in path order
    // What a reader should know that is not an error, one line each naming the series, e.g.
    // "colour image (RGB) converted to luminance (ITU-R BT.601 weights) in series 1.2.3",
    // "secondary capture (screenshot or scanned image): excluded from model input, series
    // 1.2.4".
    std::vector<std::string> notes;
};

// One series. `warnings` name geometry problems found while assembling (missing slices,
// uneven spacing, mixed orientation or size, duplicate positions, no position at all).
struct SeriesInfo {
    std::string seriesInstanceUid;
    int stack = 0;            // index among the volumes of one series that differ in image
                              // size or orientation (e.g. three-plane localizers); usually 0
    std::string description;  // UTF-8
    std::string modality;
    int seriesNumber = 0;
    std::string frameOfReferenceUid;
    std::vector<std::string> transferSyntaxes;  // distinct names, e.g. "JPEG-LS Lossless"
    std::vector<std::string> transferSyntaxUids;
    std::vector<std::string> warnings;
    bool hasPatientGeometry = true;  // false when slices had no ImagePositionPatient
    // Why this series must not be model input, empty when it may be: "burned-in annotation
    // (BurnedInAnnotation YES in 3 of 40 files)" or "secondary capture (screenshot or scanned
    // image)". Such series still load for display; the reason is also in `warnings` and in
    // LoadReport::notes.
    std::string modelExclusion;
    Volume volume;  // geometry always; voxels when LoadOptions::loadPixels
};

struct StudyInfo {
    std::string studyInstanceUid;
    std::string description;  // UTF-8
    std::string date;         // DICOM DA, "YYYYMMDD"
    std::string accessionNumber;
    std::vector<SeriesInfo> series;  // by SeriesNumber, then UID
};

struct PatientInfo {
    std::string name;  // UTF-8, DICOM PN ("Family^Given")
    std::string id;
    std::string birthDate;
    std::string sex;
    std::vector<StudyInfo> studies;
};

struct LoadedStudies {
    std::vector<PatientInfo> patients;
    LoadReport report;
};

// Loads everything under `path` (a folder, a file, or a DICOMDIR file).
// Errors: NotFound (path does not exist), Cancelled. A folder with no loadable image is
// not an error: patients is empty and report.skipped says why each file was not used.
Result<LoadedStudies> loadStudies(const std::string& path, const LoadOptions& options = {});

// Convenience: the first series' volume under `path`. When no series loads, the error of
// the first skipped file (e.g. UnsupportedTransferSyntax "unsupported transfer syntax
// JPEG XL (1.2.840.10008.1.2.4.110) in file x.dcm"), or NotFound when there was none.
Result<Volume> loadVolume(const std::string& path, const LoadOptions& options = {});

// The series a model should read. With `seriesUid` empty: a CT series (else any modality)
// that is not excluded from model input (SeriesInfo::modelExclusion), with the most slices;
// ties go to the first in load order. With `seriesUid`: that series (its largest stack).
// Null when there is none; `why` then says why, naming each excluded series and its reason,
// e.g. "series 3 (Scout): burned-in annotation (BurnedInAnnotation YES in 1 of 2 files)"
// (series are named by number and description: UIDs stay out of messages and logs).
const SeriesInfo* chooseModelSeries(const LoadedStudies& studies, const std::string& seriesUid = {},
                                    std::string* why = nullptr);
inline SeriesInfo* chooseModelSeries(LoadedStudies& studies, const std::string& seriesUid = {},
                                     std::string* why = nullptr) {
    return const_cast<SeriesInfo*>(
        chooseModelSeries(static_cast<const LoadedStudies&>(studies), seriesUid, why));
}
// "series 3 (Chest 1.25 mm)": how messages name a series.
std::string seriesLabel(const SeriesInfo& series);

// Identity and text of one DICOM file (any SOP class), strings decoded to UTF-8.
struct FileSummary {
    std::string path;
    std::string sopClassUid;
    std::string sopInstanceUid;
    std::string modality;
    std::string transferSyntaxUid;
    std::string transferSyntaxName;
    std::string specificCharacterSet;  // as written in the file
    std::string patientName;           // UTF-8, DICOM PN with ^ and = separators
    std::string patientId;
    std::string studyDescription;
    std::string seriesDescription;
    bool hasPixelData = false;
};

// Reads only the header of `path`. Errors: NotFound, CorruptFile (not DICOM / unreadable),
// UnsupportedTransferSyntax (transfer syntax UID this build does not know).
Result<FileSummary> readFileSummary(const std::string& path);

// The series with this UID in `studies`, or nullptr.
const SeriesInfo* findSeries(const LoadedStudies& studies, const std::string& seriesUid);

}  // namespace consilium::imaging
