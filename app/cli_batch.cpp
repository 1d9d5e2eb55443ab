// consilium-cli batch --jobs FILE.jsonl --out FILE.jsonl [--model FILE] [--device NAME]
//                     [--threads N]
// Answers a queue of questions (issue 6, "Scheduler", the batch half). Each input line is a
// JSON object with an `id` and the fields of `ask`'s flags (`study`, `record`, `audio`,
// `question`); each output line is `ask`'s JSON object plus that `id`, appended and flushed
// as soon as the job finishes, so a killed run loses at most the job in flight. Run again
// with the same --out and it resumes: ids already answered (or failed) are skipped, and a
// torn last line left by a kill is cut away first. A bad line (not JSON, no id, a missing
// study, any error of `ask`) yields {"id": ..., "error": "..."} for that line (a line without
// an id gets the id "line:N") and the run goes on: no job is dropped silently. An id that
// appears twice is one job, answered once. Jobs run one after another here (the continuous batching
// scheduler of issue 6 is not built yet).
// Exit codes: 0 every job answered, 1 some jobs wrote error lines, 2 bad arguments.
#include <QCommandLineParser>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>

#include <cstdio>

#include "app/ask_service.h"
#include "app/cli_commands.h"

namespace consilium::app {

namespace {

// Ids present in an earlier output file; cuts a torn (unterminated or unparsable) last line.
bool readDone(const QString& path, QSet<QString>* done, QString* error) {
    QFile f(path);
    if (!f.exists()) return true;
    if (!f.open(QIODevice::ReadWrite)) {
        *error = path + ": cannot open for appending (" + f.errorString() + ")";
        return false;
    }
    const QByteArray all = f.readAll();
    qint64 keep = 0;
    for (qint64 start = 0; start < all.size();) {
        const qint64 nl = all.indexOf('\n', start);
        if (nl < 0) break;  // torn last line: cut below
        const QJsonObject o = QJsonDocument::fromJson(all.mid(start, nl - start)).object();
        if (o.isEmpty() || !o.contains("id")) break;
        done->insert(o["id"].toVariant().toString());
        keep = nl + 1;
        start = nl + 1;
    }
    if (keep < all.size() && !f.resize(keep)) {
        *error = path + ": cannot cut the torn last line (" + f.errorString() + ")";
        return false;
    }
    return true;
}

QString idText(const QJsonValue& v) {
    return v.isString() ? v.toString() : v.toVariant().toString();
}

}  // namespace

int runBatch(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Answer a queue of questions (JSON lines) with the consilium model, resumably.");
    parser.addHelpOption();
    QCommandLineOption jobsOpt(
        "jobs", "Jobs, one JSON object per line: id, study, record, audio, question.",
        "FILE.jsonl");
    QCommandLineOption outOpt("out", "Answers, appended one JSON line per job (resumes).",
                              "FILE.jsonl");
    QCommandLineOption model("model", "consilium GGUF model (default: the bundled one).", "FILE");
    QCommandLineOption device("device", "auto, cpu or cuda (default auto).", "NAME", "auto");
    QCommandLineOption threads("threads", "CPU threads (default: all).", "N", "0");
    parser.addOptions({jobsOpt, outOpt, model, device, threads});
    const char* cmd = "consilium-cli batch";
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.isSet(jobsOpt) || !parser.isSet(outOpt)) {
        std::fprintf(stderr, "%s: --jobs FILE and --out FILE are required\n", cmd);
        return 2;
    }
    bool ok = false;
    const int nThreads = parser.value(threads).toInt(&ok);
    if (!ok || nThreads < 0) {
        std::fprintf(stderr, "%s: --threads must be a number >= 0, got '%s'\n", cmd,
                     qPrintable(parser.value(threads)));
        return 2;
    }
    QFile jobs(parser.value(jobsOpt));
    if (!jobs.open(QIODevice::ReadOnly)) {
        std::fprintf(stderr, "%s: %s: %s\n", cmd, qPrintable(jobs.fileName()),
                     qPrintable(jobs.errorString()));
        return 2;
    }
    QSet<QString> done;
    QString error;
    if (!readDone(parser.value(outOpt), &done, &error)) {
        std::fprintf(stderr, "%s: %s\n", cmd, qPrintable(error));
        return 2;
    }
    QFile out(parser.value(outOpt));
    if (!out.open(QIODevice::WriteOnly | QIODevice::Append)) {
        std::fprintf(stderr, "%s: %s: %s\n", cmd, qPrintable(out.fileName()),
                     qPrintable(out.errorString()));
        return 2;
    }
    auto writeLine = [&out](const QJsonObject& o) {
        out.write(QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n');
        out.flush();
    };

    int lineNo = 0, answered = 0, failed = 0, skipped = 0;
    while (!jobs.atEnd()) {
        const QByteArray line = jobs.readLine().trimmed();
        ++lineNo;
        if (line.isEmpty()) continue;
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &pe);
        // A line without a usable id is answered under "line:N", so it is never lost.
        const QJsonObject job = doc.object();
        const QString id = job.contains("id") ? idText(job["id"]) : QString("line:%1").arg(lineNo);
        if (done.contains(id)) {
            ++skipped;
            continue;
        }
        QJsonObject result;
        result["id"] = job.contains("id") ? job["id"] : QJsonValue(id);
        auto fail = [&](const QString& why) {
            result["error"] = why;
            writeLine(result);
            done.insert(id);
            ++failed;
            std::fprintf(stderr, "%s: %s line %d (id %s): %s\n", cmd, qPrintable(jobs.fileName()),
                         lineNo, qPrintable(id), qPrintable(why));
        };
        if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
            fail("not a JSON object: " + pe.errorString());
            continue;
        }
        if (!job.contains("id")) {
            fail("no \"id\"");
            continue;
        }
        AskRequest req;
        req.studyDir = job["study"].toString();
        req.recordFile = job["record"].toString();
        req.audioFile = job["audio"].toString();
        req.question = job["question"].toString();
        req.modelFile = parser.value(model);
        req.device = parser.value(device);
        req.threads = nThreads;
        if (req.studyDir.isEmpty()) {
            fail("no \"study\"");
            continue;
        }
        auto outcome = askQuestion(req);
        if (!outcome) {
            fail(QString::fromStdString(outcome.error().message));
            continue;
        }
        QJsonObject j = outcome.value().json;
        j["id"] = result["id"];
        writeLine(j);
        done.insert(id);
        ++answered;
        std::fprintf(stderr, "%s: %s answered\n", cmd, qPrintable(id));
    }
    std::fprintf(stderr, "%s: %d answered, %d failed, %d already in %s\n", cmd, answered, failed,
                 skipped, qPrintable(out.fileName()));
    return failed ? 1 : 0;
}

}  // namespace consilium::app
