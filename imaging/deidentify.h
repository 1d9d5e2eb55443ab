// De-identification of DICOM files for export, following DICOM PS3.15 Annex E, Basic
// Application Level Confidentiality Profile (Table E.1-1, no options retained):
//   - attributes of the profile are removed (X), emptied (Z) or replaced by dummies (D),
//     in the data set and in every nested sequence item;
//   - every UID that is not a DICOM-defined UID (SOP classes, transfer syntaxes, coding
//     schemes) is replaced (U) by a new 2.25 UID derived from a secret, the same input UID
//     always giving the same output within one UidRemapper (so series, studies and
//     references stay consistent across files);
//   - all private attributes, curves (50xx) and overlay comments/data (60xx,3000/4000) are
//     removed;
//   - Patient Identity Removed (0012,0062) = YES, De-identification Method (0012,0063) and
//     the code 113100 "Basic Application Confidentiality Profile" (0012,0064) are added.
// Pixel data are copied unchanged (burned-in text is not detected).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/status.h"

namespace consilium::imaging {

// Consistent UID replacement. Thread-safe.
class UidRemapper {
  public:
    // `secret` makes the mapping unguessable from the original UIDs; keep it per export job.
    explicit UidRemapper(std::string secret);
    std::string map(const std::string& uid);
    size_t size() const;  // distinct UIDs mapped so far

  private:
    std::string m_secret;
    mutable std::mutex m_mutex;
    std::map<std::string, std::string> m_map;
};

struct DeidentifyOptions {
    std::string patientName = "ANONYMOUS";  // replaces Patient's Name
    std::string patientId = "ANON";         // replaces Patient ID
};

// Reads `input`, de-identifies it and writes `output` in the input's transfer syntax (the
// output's folder must exist). Errors: NotFound, CorruptFile (unreadable DICOM), IoError.
Status deidentifyFile(const std::string& input, const std::string& output, UidRemapper& uids,
                      const DeidentifyOptions& options = {});

// `text` with every occurrence of each non-empty identifier (and of its DICOM PN components,
// e.g. "Doe" and "John" of "Doe^John") replaced by "[redacted]": for reports and log lines.
std::string redactIdentifiers(const std::string& text, const std::vector<std::string>& identifiers);

}  // namespace consilium::imaging
