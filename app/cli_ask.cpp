// consilium-cli ask: one question about a CT study (with an optional record and audio) to the
// consilium model; prints the JSON object of the issue-8 contract (app/ask_service.h).
// Exit codes: 0 answered, 2 bad input (one line on stderr naming the file and the problem),
// 1 anything else (out of memory, cancelled, internal).
#include <QCommandLineParser>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

#include "app/ask_service.h"
#include "app/cli_commands.h"

namespace consilium::app {

int runAsk(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Ask the consilium model a question about a CT study, optionally with a patient record "
        "and spoken audio.");
    parser.addHelpOption();
    QCommandLineOption study("study", "DICOM study folder (required).", "DIR");
    QCommandLineOption series("series",
                              "Series Instance UID to read (default: the CT series with the most "
                              "slices that is not excluded from model input).",
                              "UID");
    QCommandLineOption record("record", "Patient record, UTF-8 text.", "FILE");
    QCommandLineOption audioOpt("audio", "Spoken question (WAV, FLAC, OGG).", "FILE");
    QCommandLineOption question("question", "Typed question.", "TEXT");
    QCommandLineOption model("model", "consilium GGUF model (default: the bundled one).", "FILE");
    QCommandLineOption device("device", "auto, cpu or cuda (default auto).", "NAME", "auto");
    QCommandLineOption threads("threads", "CPU threads (default: all).", "N", "0");
    QCommandLineOption json("json", "Print the answer as one JSON object.");
    parser.addOptions({study, series, record, audioOpt, question, model, device, threads, json});
    const char* cmd = "consilium-cli ask";
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.isSet(study)) {
        std::fprintf(stderr, "%s: --study DIR is required\n", cmd);
        return 2;
    }
    bool ok = false;
    AskRequest req;
    req.studyDir = parser.value(study);
    req.seriesUid = parser.value(series);
    req.recordFile = parser.value(record);
    req.audioFile = parser.value(audioOpt);
    req.question = parser.value(question);
    req.modelFile = parser.value(model);
    req.device = parser.value(device);
    req.threads = parser.value(threads).toInt(&ok);
    if (!ok || req.threads < 0) {
        std::fprintf(stderr, "%s: --threads must be a number >= 0, got '%s'\n", cmd,
                     qPrintable(parser.value(threads)));
        return 2;
    }
    auto outcome = askQuestion(req);
    if (!outcome) {
        const Error& e = outcome.error();
        const bool badInput = e.code != ErrorCode::OutOfMemory && e.code != ErrorCode::Cancelled &&
                              e.code != ErrorCode::Internal;
        std::fprintf(stderr, "%s: %s\n", cmd, e.message.c_str());
        return badInput ? 2 : 1;
    }
    for (const QString& note : outcome.value().notes)
        std::fprintf(stderr, "%s: note: %s\n", cmd, qPrintable(note));
    const QJsonObject& j = outcome.value().json;
    if (parser.isSet(json)) {
        std::printf("%s\n", QJsonDocument(j).toJson(QJsonDocument::Indented).constData());
    } else {
        std::printf("Answer: %s\n", qPrintable(j["answer"].toString()));
        std::printf("Lung-RADS: %s\n", qPrintable(j["lung_rads"].toString()));
        std::printf("Findings: %lld\n", static_cast<long long>(j["findings"].toArray().size()));
        const QJsonObject w = j["modality_weights"].toObject();
        std::printf("Modality weights: image %.3f, record %.3f, voice %.3f, question %.3f\n",
                    w["image"].toDouble(), w["record"].toDouble(), w["voice"].toDouble(),
                    w["question"].toDouble());
    }
    return 0;
}

}  // namespace consilium::app
