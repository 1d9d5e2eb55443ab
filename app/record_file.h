// Patient records as text files (.txt, .md): reading with encoding detection, and finding
// the record that ships beside a study (the synthetic cases keep patient_record.txt next
// to their DICOM folder).
#pragma once

#include <QString>

namespace consilium::app {

struct RecordText {
    QString text;
    QString encoding;  // "UTF-8" or "GB18030" (legacy Chinese files)
};

// Reads a record of at most `maxBytes`. UTF-8 (with or without BOM) first; bytes that are
// not valid UTF-8 are decoded as GB18030 when that decodes cleanly. Errors (as text for
// the GUI): the file is missing, unreadable, too large, or binary.
struct RecordRead {
    bool ok = false;
    RecordText record;
    QString error;  // names the file and the problem
};
RecordRead readRecordFile(const QString& path, qint64 maxBytes = 8 * 1024 * 1024);

// The one record file (patient_record.txt / *.md) inside `studyPath` or one folder below;
// empty when there is none or more than one (the user then opens it by hand).
QString findStudyRecord(const QString& studyPath);

}  // namespace consilium::app
