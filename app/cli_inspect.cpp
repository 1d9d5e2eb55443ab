// consilium-cli inspect --study DIR [--json] [--threads N]
// Every series found under DIR (a folder, a file or a DICOMDIR): dimensions, spacing,
// origin, orientation, value range, transfer syntaxes and geometry warnings, then every
// file that was skipped with the reason.
#include <QCommandLineParser>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

#include "app/cli_commands.h"
#include "imaging/study_loader.h"

namespace consilium::app {

namespace {

QJsonArray toArray(const double* v, int n) {
    QJsonArray a;
    for (int i = 0; i < n; ++i)
        a.append(v[i]);
    return a;
}

QJsonArray toArray(const std::vector<std::string>& v) {
    QJsonArray a;
    for (const auto& s : v)
        a.append(QString::fromStdString(s));
    return a;
}

}  // namespace

int runInspect(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "List the series of a DICOM study and the files that could not be used.");
    parser.addHelpOption();
    QCommandLineOption study("study", "Folder, file or DICOMDIR to read.", "DIR");
    QCommandLineOption json("json", "Print one JSON object instead of text.");
    QCommandLineOption threads("threads", "Decoder threads (default: all cores).", "N", "0");
    parser.addOptions({study, json, threads});
    const char* cmd = "consilium-cli inspect";
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.isSet(study)) {
        std::fprintf(stderr, "%s: --study DIR is required\n", cmd);
        return 2;
    }
    imaging::LoadOptions options;
    options.threads = parser.value(threads).toInt();
    auto loaded = imaging::loadStudies(parser.value(study).toStdString(), options);
    if (!loaded) {
        std::fprintf(stderr, "%s: %s\n", cmd, loaded.error().message.c_str());
        return loaded.error().code == ErrorCode::NotFound ? 2 : 1;
    }
    QJsonArray seriesList;
    std::string text;
    int count = 0;
    // The series `ask` reads by default (imaging::chooseModelSeries).
    const imaging::SeriesInfo* modelSeries = imaging::chooseModelSeries(loaded.value());
    for (const auto& patient : loaded->patients)
        for (const auto& st : patient.studies)
            for (const auto& se : st.series) {
                ++count;
                const auto& v = se.volume;
                const auto range = v.valueRange();
                QJsonObject o;
                o["patient_name"] = QString::fromStdString(patient.name);
                o["patient_id"] = QString::fromStdString(patient.id);
                o["study_instance_uid"] = QString::fromStdString(st.studyInstanceUid);
                o["study_date"] = QString::fromStdString(st.date);
                o["series_instance_uid"] = QString::fromStdString(se.seriesInstanceUid);
                o["stack"] = se.stack;
                o["series_number"] = se.seriesNumber;
                o["description"] = QString::fromStdString(se.description);
                o["modality"] = QString::fromStdString(se.modality);
                o["dims"] = QJsonArray{v.dims[0], v.dims[1], v.dims[2]};
                o["spacing_mm"] = toArray(v.spacing.data(), 3);
                o["origin_lps_mm"] = toArray(v.origin.data(), 3);
                o["direction"] = toArray(v.direction.data(), 9);
                o["value_range"] = QJsonArray{double(range[0]), double(range[1])};
                o["units"] = QString::fromStdString(v.units);
                o["voxel_type"] = v.type == imaging::VoxelType::Int16 ? "int16" : "float32";
                o["patient_geometry"] = se.hasPatientGeometry;
                o["transfer_syntaxes"] = toArray(se.transferSyntaxes);
                o["transfer_syntax_uids"] = toArray(se.transferSyntaxUids);
                o["warnings"] = toArray(se.warnings);
                o["model_exclusion"] = se.modelExclusion.empty()
                                           ? QJsonValue()
                                           : QJsonValue(QString::fromStdString(se.modelExclusion));
                o["model_input"] = &se == modelSeries;
                seriesList.append(o);
                char line[1024];
                std::snprintf(line, sizeof line,
                              "series %s%s (#%d %s \"%s\")\n  %d x %d x %d voxels, spacing %.4g x "
                              "%.4g x %.4g mm\n"
                              "  origin (%.2f, %.2f, %.2f) mm LPS, rows along (%.3g, %.3g, %.3g), "
                              "columns along "
                              "(%.3g, %.3g, %.3g)\n  values %.1f .. %.1f %s\n",
                              se.seriesInstanceUid.c_str(),
                              se.stack ? (" stack " + std::to_string(se.stack)).c_str() : "",
                              se.seriesNumber, se.modality.c_str(), se.description.c_str(),
                              v.dims[0], v.dims[1], v.dims[2], v.spacing[0], v.spacing[1],
                              v.spacing[2], v.origin[0], v.origin[1], v.origin[2], v.direction[0],
                              v.direction[1], v.direction[2], v.direction[3], v.direction[4],
                              v.direction[5], double(range[0]), double(range[1]), v.units.c_str());
                text += line;
                for (const auto& ts : se.transferSyntaxes)
                    text += "  transfer syntax: " + ts + "\n";
                for (const auto& w : se.warnings)
                    text += "  warning: " + w + "\n";
                if (&se == modelSeries) text += "  model input: this series is what ask reads\n";
            }
    QJsonArray skipped;
    for (const auto& s : loaded->report.skipped) {
        skipped.append(QJsonObject{{"path", QString::fromStdString(s.path)},
                                   {"code", errorCodeName(s.code)},
                                   {"reason", QString::fromStdString(s.reason)}});
        text += std::string("skipped ") + s.path + ": " + errorCodeName(s.code) + ": " + s.reason +
                "\n";
    }
    if (parser.isSet(json)) {
        QJsonObject root{{"study", parser.value(study)},
                         {"files_found", loaded->report.filesFound},
                         {"files_loaded", loaded->report.filesLoaded},
                         {"series", seriesList},
                         {"skipped", skipped}};
        std::printf("%s", QJsonDocument(root).toJson(QJsonDocument::Indented).constData());
    } else {
        text += std::to_string(count) + " series from " +
                std::to_string(loaded->report.filesLoaded) + " of " +
                std::to_string(loaded->report.filesFound) + " files, " +
                std::to_string(loaded->report.skipped.size()) + " skipped\n";
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return count > 0 ? 0 : 1;
}

}  // namespace consilium::app
