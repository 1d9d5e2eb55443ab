#include "imaging/deidentify.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <filesystem>
#include <set>

#include "imaging/dicom_common.h"
#include "imaging/dicom_writer.h"

namespace consilium::imaging {

namespace {

enum class Action { Remove, Empty, Dummy };

struct Rule {
    DcmTagKey tag;
    Action action;
};

// PS3.15 Table E.1-1 (non-UID rows). Where the table allows X/Z/D, the action matching the
// attribute's type in the IODs Consilium reads is used (Z for type 2, X for type 3).
const Rule kRules[] = {
    {DCM_AccessionNumber, Action::Empty},
    {DCM_InstitutionName, Action::Remove},
    {DCM_InstitutionAddress, Action::Remove},
    {DCM_InstitutionalDepartmentName, Action::Remove},
    {DCM_ReferringPhysicianName, Action::Empty},
    {DCM_ReferringPhysicianAddress, Action::Remove},
    {DCM_ReferringPhysicianTelephoneNumbers, Action::Remove},
    {DCM_ReferringPhysicianIdentificationSequence, Action::Remove},
    {DCM_StationName, Action::Remove},
    {DCM_StudyDescription, Action::Remove},
    {DCM_SeriesDescription, Action::Remove},
    {DCM_PhysiciansOfRecord, Action::Remove},
    {DCM_PhysiciansOfRecordIdentificationSequence, Action::Remove},
    {DCM_PerformingPhysicianName, Action::Remove},
    {DCM_PerformingPhysicianIdentificationSequence, Action::Remove},
    {DCM_NameOfPhysiciansReadingStudy, Action::Remove},
    {DCM_PhysiciansReadingStudyIdentificationSequence, Action::Remove},
    {DCM_OperatorsName, Action::Remove},
    {DCM_OperatorIdentificationSequence, Action::Remove},
    {DCM_AdmittingDiagnosesDescription, Action::Remove},
    {DCM_AdmittingDiagnosesCodeSequence, Action::Remove},
    {DCM_DerivationDescription, Action::Remove},
    {DCM_StudyDate, Action::Empty},
    {DCM_SeriesDate, Action::Remove},
    {DCM_AcquisitionDate, Action::Remove},
    {DCM_ContentDate, Action::Empty},
    {DCM_StudyTime, Action::Empty},
    {DCM_SeriesTime, Action::Remove},
    {DCM_AcquisitionTime, Action::Remove},
    {DCM_ContentTime, Action::Empty},
    {DCM_AcquisitionDateTime, Action::Remove},
    {DCM_InstanceCreationDate, Action::Remove},
    {DCM_InstanceCreationTime, Action::Remove},
    {DCM_RETIRED_OverlayDate, Action::Remove},
    {DCM_RETIRED_OverlayTime, Action::Remove},
    {DCM_RETIRED_CurveDate, Action::Remove},
    {DCM_RETIRED_CurveTime, Action::Remove},
    {DCM_PatientName, Action::Dummy},
    {DCM_PatientID, Action::Dummy},
    {DCM_IssuerOfPatientID, Action::Remove},
    {DCM_PatientBirthDate, Action::Empty},
    {DCM_PatientBirthTime, Action::Remove},
    {DCM_PatientSex, Action::Empty},
    {DCM_RETIRED_OtherPatientIDs, Action::Remove},
    {DCM_OtherPatientNames, Action::Remove},
    {DCM_OtherPatientIDsSequence, Action::Remove},
    {DCM_PatientBirthName, Action::Remove},
    {DCM_PatientAge, Action::Remove},
    {DCM_PatientSize, Action::Remove},
    {DCM_PatientWeight, Action::Remove},
    {DCM_PatientAddress, Action::Remove},
    {DCM_PatientMotherBirthName, Action::Remove},
    {DCM_RETIRED_MedicalRecordLocator, Action::Remove},
    {DCM_PatientTelephoneNumbers, Action::Remove},
    {DCM_EthnicGroup, Action::Remove},
    {DCM_Occupation, Action::Remove},
    {DCM_AdditionalPatientHistory, Action::Remove},
    {DCM_PatientReligiousPreference, Action::Remove},
    {DCM_PatientComments, Action::Remove},
    {DCM_MilitaryRank, Action::Remove},
    {DCM_BranchOfService, Action::Remove},
    {DCM_CountryOfResidence, Action::Remove},
    {DCM_RegionOfResidence, Action::Remove},
    {DCM_PregnancyStatus, Action::Remove},
    {DCM_SmokingStatus, Action::Remove},
    {DCM_MedicalAlerts, Action::Remove},
    {DCM_Allergies, Action::Remove},
    {DCM_ResponsiblePerson, Action::Remove},
    {DCM_ResponsibleOrganization, Action::Remove},
    {DCM_DeviceSerialNumber, Action::Remove},
    {DCM_ProtocolName, Action::Remove},
    {DCM_DetectorID, Action::Remove},
    {DCM_StudyID, Action::Empty},
    {DCM_ImageComments, Action::Remove},
    {DCM_FrameComments, Action::Remove},
    {DCM_RequestingPhysician, Action::Remove},
    {DCM_RequestingService, Action::Remove},
    {DCM_RequestedProcedureDescription, Action::Remove},
    {DCM_RETIRED_StudyComments, Action::Remove},
    {DCM_AdmissionID, Action::Remove},
    {DCM_CurrentPatientLocation, Action::Remove},
    {DCM_PatientInstitutionResidence, Action::Remove},
    {DCM_PerformedProcedureStepStartDate, Action::Remove},
    {DCM_PerformedProcedureStepStartTime, Action::Remove},
    {DCM_PerformedProcedureStepEndDate, Action::Remove},
    {DCM_PerformedProcedureStepEndTime, Action::Remove},
    {DCM_PerformedProcedureStepID, Action::Remove},
    {DCM_PerformedProcedureStepDescription, Action::Remove},
    {DCM_RequestAttributesSequence, Action::Remove},
    {DCM_RequestedProcedureID, Action::Remove},
    {DCM_PlacerOrderNumberImagingServiceRequest, Action::Remove},
    {DCM_FillerOrderNumberImagingServiceRequest, Action::Remove},
    {DCM_ScheduledProcedureStepDescription, Action::Remove},
    {DCM_ContentSequence, Action::Remove},
    {DCM_OriginalAttributesSequence, Action::Remove},
    {DCM_RETIRED_TextComments, Action::Remove},
    {DCM_ReferencedPatientSequence, Action::Remove},
    {DCM_ReferencedStudySequence, Action::Remove},
    {DCM_ReferencedPerformedProcedureStepSequence, Action::Remove},
    {DCM_SourceApplicationEntityTitle, Action::Remove},
};

bool isCurveOrOverlayText(const DcmTagKey& t) {
    const Uint16 g = t.getGroup();
    if (g >= 0x5000 && g <= 0x50FF && (g % 2) == 0) return true;  // retired curves
    if (g >= 0x6000 && g <= 0x60FF && (g % 2) == 0)
        return t.getElement() == 0x4000 || t.getElement() == 0x3000;  // overlay comments / data
    return false;
}

void clean(DcmItem* item, UidRemapper& uids, const DeidentifyOptions& options) {
    std::vector<DcmTagKey> toRemove;
    for (unsigned long i = 0; i < item->card(); ++i) {
        DcmElement* e = item->getElement(i);
        const DcmTagKey key = e->getTag();
        if (key.isPrivate() || isCurveOrOverlayText(key)) {
            toRemove.push_back(key);
            continue;
        }
        if (e->ident() == EVR_SQ) {
            auto* seq = static_cast<DcmSequenceOfItems*>(e);
            for (unsigned long k = 0; k < seq->card(); ++k)
                clean(seq->getItem(k), uids, options);
            continue;
        }
        if (e->getVR() == EVR_UI) {
            OFString value;
            if (e->getOFStringArray(value).good() && !value.empty()) {
                // Several values (e.g. Failed SOP Instance UID List) are mapped one by one.
                std::vector<std::string> values(1);
                for (char ch : std::string(value.c_str())) {
                    if (ch == '\\')
                        values.emplace_back();
                    else if (ch != ' ' && ch != '\0')
                        values.back() += ch;
                }
                std::string out;
                for (size_t v = 0; v < values.size(); ++v) {
                    const std::string& uid = values[v];
                    const bool standard = dcmFindNameOfUID(uid.c_str(), nullptr) != nullptr ||
                                          uid.rfind("1.2.840.10008.", 0) == 0;
                    if (v) out += "\\";
                    out += standard || uid.empty() ? uid : uids.map(uid);
                }
                e->putString(out.c_str());
            }
        }
    }
    for (const auto& key : toRemove)
        delete item->remove(key);
    for (const Rule& r : kRules) {
        if (!item->tagExists(r.tag)) continue;
        switch (r.action) {
            case Action::Remove:
                item->findAndDeleteElement(r.tag);
                break;
            case Action::Empty:
                item->putAndInsertString(r.tag, "");
                break;
            case Action::Dummy:
                item->putAndInsertString(r.tag, r.tag == DCM_PatientName
                                                    ? options.patientName.c_str()
                                                    : options.patientId.c_str());
                break;
        }
    }
}

}  // namespace

UidRemapper::UidRemapper(std::string secret) : m_secret(std::move(secret)) {}

std::string UidRemapper::map(const std::string& uid) {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_map.find(uid);
    if (it != m_map.end()) return it->second;
    const std::string mapped = deterministicUid(m_secret + "\x1f" + uid);
    m_map.emplace(uid, mapped);
    return mapped;
}

size_t UidRemapper::size() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_map.size();
}

Status deidentifyFile(const std::string& input, const std::string& output, UidRemapper& uids,
                      const DeidentifyOptions& options) {
    detail::ensureDcmtkInitialized();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(input, ec))
        return makeError(ErrorCode::NotFound, "no such file: " + input);
    auto file = std::make_unique<DcmFileFormat>();
    const OFCondition c = file->loadFile(input.c_str());
    if (c.bad())
        return makeError(ErrorCode::CorruptFile,
                         std::string("unreadable DICOM (") + c.text() + ") in file " + input);
    DcmDataset* ds = file->getDataset();
    const E_TransferSyntax xfer = ds->getOriginalXfer();
    clean(ds, uids, options);
    ds->putAndInsertString(DCM_PatientIdentityRemoved, "YES");
    ds->putAndInsertString(DCM_DeidentificationMethod,
                           "PS3.15 E.1 Basic Application Level Confidentiality Profile");
    ds->findAndDeleteElement(DCM_DeidentificationMethodCodeSequence);
    DcmItem* code = nullptr;
    if (ds->findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, code, 0).good() &&
        code) {
        code->putAndInsertString(DCM_CodeValue, "113100");
        code->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
        code->putAndInsertString(DCM_CodeMeaning, "Basic Application Confidentiality Profile");
    }
    // A fresh meta header carries the new SOP Instance UID.
    const OFCondition w = file->saveFile(output.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL,
                                         EPD_noChange, 0, 0, EWM_createNewMeta);
    if (w.bad())
        return makeError(ErrorCode::IoError,
                         std::string("cannot write ") + output + " (" + w.text() + ")");
    return Status::success();
}

std::string redactIdentifiers(const std::string& text,
                              const std::vector<std::string>& identifiers) {
    std::set<std::string, std::greater<>> needles;  // longest first for equal prefixes
    for (const auto& id : identifiers) {
        if (id.empty()) continue;
        needles.insert(id);
        std::string part;
        for (char ch : id + "^") {
            if (ch == '^' || ch == '=') {
                if (part.size() >= 2) needles.insert(part);
                part.clear();
            } else {
                part += ch;
            }
        }
    }
    std::vector<std::string> ordered(needles.begin(), needles.end());
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
    std::string out = text;
    for (const auto& n : ordered) {
        size_t pos = 0;
        while ((pos = out.find(n, pos)) != std::string::npos) {
            out.replace(pos, n.size(), "[redacted]");
            pos += 10;
        }
    }
    return out;
}

}  // namespace consilium::imaging
