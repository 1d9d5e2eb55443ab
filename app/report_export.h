// A finding report of one answer, for the record or a colleague: a PDF (QPdfWriter) with the
// question, the answer, the findings, Lung-RADS, the modality weights, the experts and the
// CT view with its heatmap as shown; the same as JSON; and the view as PNG beside them.
//
// De-identified (DICOM PS3.15 Basic Application Level Confidentiality Profile, as far as a
// report goes): the JSON is built from an allow-list of the answer's fields, never copied;
// patient identifiers given in `identifiers` (name, ID, birth date) are redacted from every
// free text (question, answer, record evidence) with imaging::redactIdentifiers; SOP
// Instance UIDs are replaced by new 2.25 UIDs (imaging::UidRemapper, a random secret per
// report); the model file is named without its folder. The view image must not show
// identifiers (CtViewer draws none).
//
// Thread safety: call from one thread at a time (QPdfWriter); no GUI needed.
#pragma once

#include <QImage>
#include <QJsonObject>
#include <QStringList>

#include "kernels/status.h"

namespace consilium::app {

struct FindingReport {
    QJsonObject answer;       // consilium-cli ask's JSON of the answer
    QImage view;              // the CT slice with the heatmap, as the viewer shows it
    QString viewCaption;      // e.g. "Axial slice 44 of 128"
    QStringList identifiers;  // the patient's name, ID and birth date: never written
};

// Writes `pdfPath` and, beside it, the same name with .json and .png. Returns the three
// paths. Errors: IoError naming the file that cannot be written.
Result<QStringList> exportFindingReport(const FindingReport& report, const QString& pdfPath);

// The de-identified JSON object written by exportFindingReport (`pngName`: the view's file).
QJsonObject findingReportJson(const FindingReport& report, const QString& pngName);

}  // namespace consilium::app
