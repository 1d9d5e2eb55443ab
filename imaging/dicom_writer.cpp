#include "imaging/dicom_writer.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "imaging/dicom_common.h"

namespace consilium::imaging {
namespace fs = std::filesystem;

namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s, uint64_t basis) {
    uint64_t h = basis;
    for (unsigned char c : s)
        h = (h ^ c) * 0x100000001B3ull;
    return h;
}

E_TransferSyntax toXfer(DicomEncoding e) {
    switch (e) {
        case DicomEncoding::ExplicitLittleEndian:
            return EXS_LittleEndianExplicit;
        case DicomEncoding::ImplicitLittleEndian:
            return EXS_LittleEndianImplicit;
        case DicomEncoding::ExplicitBigEndian:
            return EXS_BigEndianExplicit;
        case DicomEncoding::DeflatedLittleEndian:
            return EXS_DeflatedLittleEndianExplicit;
        case DicomEncoding::RleLossless:
            return EXS_RLELossless;
        case DicomEncoding::JpegLsLossless:
            return EXS_JPEGLSLossless;
    }
    return EXS_LittleEndianExplicit;
}

std::string decimal(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string triple(const double* v) {
    return decimal(v[0]) + "\\" + decimal(v[1]) + "\\" + decimal(v[2]);
}

struct StoredFormat {
    bool isSigned = false;
    int bitsStored = 12;
    double intercept = -1024.0;
};

StoredFormat chooseFormat(const Volume& v) {
    const auto range = v.valueRange();
    StoredFormat f;
    if (range[0] >= -1024.f && range[1] <= 3071.f) return f;
    if (range[0] >= -1024.f && range[1] <= 64511.f) {
        f.bitsStored = 16;
        return f;
    }
    f.isSigned = true;
    f.bitsStored = 16;
    f.intercept = 0.0;
    return f;
}

// Stored values of slice z (modality value - intercept), clamped to the stored range.
void storedSlice(const Volume& v, int z, const StoredFormat& f, std::vector<Uint16>* out) {
    const size_t plane = size_t(v.dims[0]) * size_t(v.dims[1]);
    out->resize(plane);
    const double lo = f.isSigned ? -32768.0 : 0.0;
    const double hi = f.isSigned ? 32767.0 : std::ldexp(1.0, f.bitsStored) - 1.0;
    for (size_t i = 0; i < plane; ++i) {
        const double s =
            std::clamp(std::nearbyint(double(v.at(size_t(z) * plane + i)) - f.intercept), lo, hi);
        (*out)[i] = f.isSigned ? Uint16(int16_t(s)) : Uint16(s);
    }
}

void putCommon(DcmItem* ds, const Volume& v, const CtSeriesMetadata& m, const StoredFormat& f) {
    ds->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    ds->putAndInsertString(DCM_StudyDate, m.studyDate.c_str());
    ds->putAndInsertString(DCM_SeriesDate, m.studyDate.c_str());
    ds->putAndInsertString(DCM_ContentDate, m.studyDate.c_str());
    ds->putAndInsertString(DCM_StudyTime, m.studyTime.c_str());
    ds->putAndInsertString(DCM_SeriesTime, m.studyTime.c_str());
    ds->putAndInsertString(DCM_ContentTime, m.studyTime.c_str());
    ds->putAndInsertString(DCM_AccessionNumber, m.accessionNumber.c_str());
    ds->putAndInsertString(DCM_Modality, "CT");
    ds->putAndInsertString(DCM_Manufacturer, m.manufacturer.c_str());
    ds->putAndInsertString(DCM_ReferringPhysicianName, "");
    ds->putAndInsertString(DCM_StudyDescription, m.studyDescription.c_str());
    ds->putAndInsertString(DCM_SeriesDescription, m.seriesDescription.c_str());
    ds->putAndInsertString(DCM_PatientName, m.patientName.c_str());
    ds->putAndInsertString(DCM_PatientID, m.patientId.c_str());
    ds->putAndInsertString(DCM_PatientBirthDate, m.patientBirthDate.c_str());
    ds->putAndInsertString(DCM_PatientSex, m.patientSex.c_str());
    if (!m.patientAge.empty()) ds->putAndInsertString(DCM_PatientAge, m.patientAge.c_str());
    ds->putAndInsertString(DCM_BodyPartExamined, m.bodyPart.c_str());
    ds->putAndInsertString(DCM_KVP, decimal(m.kvp).c_str());
    ds->putAndInsertString(DCM_PatientPosition, "FFS");
    ds->putAndInsertString(DCM_StudyInstanceUID, m.studyInstanceUid.c_str());
    ds->putAndInsertString(DCM_SeriesInstanceUID, m.seriesInstanceUid.c_str());
    ds->putAndInsertString(DCM_StudyID, "1");
    ds->putAndInsertString(DCM_SeriesNumber, std::to_string(m.seriesNumber).c_str());
    ds->putAndInsertString(DCM_FrameOfReferenceUID, m.frameOfReferenceUid.c_str());
    ds->putAndInsertString(DCM_PositionReferenceIndicator, "");
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_Rows, Uint16(v.dims[1]));
    ds->putAndInsertUint16(DCM_Columns, Uint16(v.dims[0]));
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, Uint16(f.bitsStored));
    ds->putAndInsertUint16(DCM_HighBit, Uint16(f.bitsStored - 1));
    ds->putAndInsertUint16(DCM_PixelRepresentation, f.isSigned ? 1 : 0);
    ds->putAndInsertString(DCM_WindowCenter, "-600");
    ds->putAndInsertString(DCM_WindowWidth, "1500");
}

void putPosition(DcmItem* item, const Volume& v, int z) {
    item->putAndInsertString(DCM_ImagePositionPatient,
                             triple(v.slices[size_t(z)].position.data()).c_str());
}

Status saveDataset(DcmFileFormat& file, const std::string& path, E_TransferSyntax xfer) {
    DcmDataset* ds = file.getDataset();
    if (DcmXfer(xfer).isEncapsulated()) {
        const OFCondition c = ds->chooseRepresentation(xfer, nullptr);
        if (c.bad() || !ds->canWriteXfer(xfer))
            return makeError(ErrorCode::Internal, std::string("cannot encode ") +
                                                      DcmXfer(xfer).getXferName() + " (" +
                                                      c.text() + ") for file " + path);
    }
    const OFCondition c = file.saveFile(path.c_str(), xfer);
    if (c.bad())
        return makeError(ErrorCode::IoError,
                         std::string("cannot write ") + path + " (" + c.text() + ")");
    return Status::success();
}

}  // namespace

std::string deterministicUid(const std::string& key) {
    const uint64_t hi = splitmix64(fnv1a(key, 0xCBF29CE484222325ull)) & 0x7FFFFFFFFFFFFFFFull;
    const uint64_t lo = splitmix64(fnv1a(key, 0x84222325CBF29CE4ull) ^ 0x5851F42D4C957F2Dull);
    unsigned __int128 value = (static_cast<unsigned __int128>(hi) << 64) | lo;
    std::string digits;
    do {
        digits.push_back(char('0' + int(value % 10)));
        value /= 10;
    } while (value != 0);
    std::reverse(digits.begin(), digits.end());
    return "2.25." + digits;
}

Status writeCtSeries(const Volume& volume, const CtSeriesMetadata& m, const std::string& dir,
                     const DicomWriteOptions& options, std::vector<std::string>* files) {
    detail::ensureDcmtkInitialized();
    if (volume.empty() || int(volume.slices.size()) != volume.dims[2])
        return makeError(ErrorCode::InvalidArgument,
                         "cannot write an empty volume (or one without slice positions) to " + dir);
    const size_t expectedUids = options.multiFrame ? 1 : size_t(volume.dims[2]);
    if (m.sopInstanceUids.size() != expectedUids)
        return makeError(ErrorCode::InvalidArgument, "need " + std::to_string(expectedUids) +
                                                         " SOP Instance UIDs to write " + dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        return makeError(ErrorCode::IoError,
                         "cannot create folder " + dir + " (" + ec.message() + ")");

    const StoredFormat f = chooseFormat(volume);
    const E_TransferSyntax xfer = toXfer(options.encoding);
    const double thickness = m.sliceThickness > 0 ? m.sliceThickness : volume.spacing[2];
    const std::string orientation =
        triple(&volume.direction[0]) + "\\" + triple(&volume.direction[3]);
    const std::string spacing = decimal(volume.spacing[1]) + "\\" + decimal(volume.spacing[0]);
    const size_t plane = size_t(volume.dims[0]) * size_t(volume.dims[1]);
    auto nameOf = [&](int index) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%05d", index + 1);
        return (fs::path(dir) / (options.filePrefix + buf)).string();
    };

    if (options.multiFrame) {
        // Enhanced CT Image IOD (PS3.3 A.38) with the functional groups of C.7.6.16.
        auto file = std::make_unique<DcmFileFormat>();
        DcmDataset* ds = file->getDataset();
        putCommon(ds, volume, m, f);
        ds->putAndInsertString(DCM_SOPClassUID, UID_EnhancedCTImageStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID, m.sopInstanceUids[0].c_str());
        ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL\\NONE");
        ds->putAndInsertString(DCM_InstanceNumber, "1");
        ds->putAndInsertString(DCM_NumberOfFrames, std::to_string(volume.dims[2]).c_str());
        ds->putAndInsertString(DCM_ContentQualification, "RESEARCH");
        ds->putAndInsertString(DCM_PixelPresentation, "MONOCHROME");
        ds->putAndInsertString(DCM_VolumetricProperties, "VOLUME");
        ds->putAndInsertString(DCM_VolumeBasedCalculationTechnique, "NONE");
        DcmItem* shared = nullptr;
        ds->findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0);
        DcmItem* measures = nullptr;
        shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, measures, 0);
        measures->putAndInsertString(DCM_PixelSpacing, spacing.c_str());
        measures->putAndInsertString(DCM_SliceThickness, decimal(thickness).c_str());
        DcmItem* orient = nullptr;
        shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, orient, 0);
        orient->putAndInsertString(DCM_ImageOrientationPatient, orientation.c_str());
        DcmItem* transform = nullptr;
        shared->findOrCreateSequenceItem(DCM_PixelValueTransformationSequence, transform, 0);
        transform->putAndInsertString(DCM_RescaleIntercept, decimal(f.intercept).c_str());
        transform->putAndInsertString(DCM_RescaleSlope, "1");
        transform->putAndInsertString(DCM_RescaleType, "HU");
        std::vector<Uint16> all(plane * size_t(volume.dims[2]));
        std::vector<Uint16> slice;
        for (int z = 0; z < volume.dims[2]; ++z) {
            DcmItem* frame = nullptr;
            ds->findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, z);
            DcmItem* position = nullptr;
            frame->findOrCreateSequenceItem(DCM_PlanePositionSequence, position, 0);
            putPosition(position, volume, z);
            DcmItem* content = nullptr;
            frame->findOrCreateSequenceItem(DCM_FrameContentSequence, content, 0);
            content->putAndInsertUint32(DCM_InStackPositionNumber, Uint32(z + 1));
            storedSlice(volume, z, f, &slice);
            std::copy(slice.begin(), slice.end(), all.begin() + long(size_t(z) * plane));
        }
        ds->putAndInsertUint16Array(DCM_PixelData, all.data(),
                                    static_cast<unsigned long>(all.size()));
        const std::string path = nameOf(0);
        if (Status s = saveDataset(*file, path, xfer); !s) return s;
        if (files) files->push_back(path);
        return Status::success();
    }

    std::atomic<int> next{0};
    std::mutex errorMutex;
    std::optional<Error> firstError;
    auto worker = [&] {
        std::vector<Uint16> stored;
        for (;;) {
            const int z = next.fetch_add(1);
            if (z >= volume.dims[2]) break;
            {
                std::lock_guard<std::mutex> lock(errorMutex);
                if (firstError) break;
            }
            auto file = std::make_unique<DcmFileFormat>();
            DcmDataset* ds = file->getDataset();
            putCommon(ds, volume, m, f);
            ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
            ds->putAndInsertString(DCM_SOPInstanceUID, m.sopInstanceUids[size_t(z)].c_str());
            ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
            ds->putAndInsertString(DCM_InstanceNumber, std::to_string(z + 1).c_str());
            putPosition(ds, volume, z);
            ds->putAndInsertString(DCM_ImageOrientationPatient, orientation.c_str());
            ds->putAndInsertString(DCM_SliceLocation,
                                   decimal(volume.slices[size_t(z)].position[2]).c_str());
            ds->putAndInsertString(DCM_SliceThickness, decimal(thickness).c_str());
            ds->putAndInsertString(DCM_PixelSpacing, spacing.c_str());
            ds->putAndInsertString(DCM_RescaleIntercept, decimal(f.intercept).c_str());
            ds->putAndInsertString(DCM_RescaleSlope, "1");
            ds->putAndInsertString(DCM_RescaleType, "HU");
            storedSlice(volume, z, f, &stored);
            ds->putAndInsertUint16Array(DCM_PixelData, stored.data(),
                                        static_cast<unsigned long>(stored.size()));
            Status s = saveDataset(*file, nameOf(z), xfer);
            if (!s) {
                std::lock_guard<std::mutex> lock(errorMutex);
                if (!firstError) firstError = s.error();
            }
        }
    };
    const int threads = std::max(1, std::min(options.threads, volume.dims[2]));
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t)
        pool.emplace_back(worker);
    worker();
    for (auto& t : pool)
        t.join();
    if (firstError) return *firstError;
    if (files)
        for (int z = 0; z < volume.dims[2]; ++z)
            files->push_back(nameOf(z));
    return Status::success();
}

}  // namespace consilium::imaging
