// consilium-cli batch --jobs FILE.jsonl --out FILE.jsonl [--max-batch N] [--model FILE]
//                     [--device NAME] [--threads N]
// Answers a queue of questions (issue 6, "Scheduler", the batch half). Each input line is a
// JSON object with an `id` and the fields of `ask`'s flags (`study`, `record`, `audio`,
// `question`); each output line is `ask`'s JSON object plus that `id`, appended and flushed
// as soon as the job finishes, so a killed run loses at most the job in flight. Run again
// with the same --out and it resumes: ids already answered (or failed) are skipped, and a
// torn last line left by a kill is cut away first. A bad line (not JSON, no id, a missing
// study, any error of `ask`) yields {"id": ..., "error": "..."} for that line (a line without
// an id gets the id "line:N") and the run goes on: no job is dropped silently. An id that
// appears twice is one job, answered once.
//
// Jobs are prepared (study loaded and resampled, record tokenised, audio to log-mel) on one
// thread, in order, and answered by one ConsiliumScheduler with up to --max-batch answers
// decoding together (continuous batching); studies, records and audio shared by several
// jobs are loaded and encoded once (AskContext, the engine's EncodingCache). Output lines
// come in the order jobs finish. Greedy decoding: --max-batch changes speed, never answers.
// Exit codes: 0 every job answered, 1 some jobs wrote error lines, 2 bad arguments.
#include <QCommandLineParser>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QThread>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "app/ask_service.h"
#include "app/cli_commands.h"
#include "app/resource_paths.h"
#include "inference/consilium_scheduler.h"

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
    QCommandLineOption maxBatchOpt(
        "max-batch", "Answers decoded together, 1..256 (default 64; 1 = one at a time).", "N",
        "64");
    parser.addOptions({jobsOpt, outOpt, model, device, threads, maxBatchOpt});
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
    const int maxBatch = parser.value(maxBatchOpt).toInt(&ok);
    if (!ok || maxBatch < 1 || maxBatch > 256) {
        std::fprintf(stderr, "%s: --max-batch must be a number in 1..256, got '%s'\n", cmd,
                     qPrintable(parser.value(maxBatchOpt)));
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

    // Read every job line first: bad lines become error lines at once.
    struct Job {
        QString id;
        QJsonValue idValue;
        int line = 0;
        AskRequest request;
    };
    std::vector<Job> pending;
    int lineNo = 0, answered = 0, failed = 0, skipped = 0;
    QSet<QString> queued;
    auto fail = [&](const QJsonValue& idValue, const QString& id, int line, const QString& why) {
        QJsonObject result;
        result["id"] = idValue;
        result["error"] = why;
        writeLine(result);
        done.insert(id);
        ++failed;
        std::fprintf(stderr, "%s: %s line %d (id %s): %s\n", cmd, qPrintable(jobs.fileName()), line,
                     qPrintable(id), qPrintable(why));
    };
    while (!jobs.atEnd()) {
        const QByteArray line = jobs.readLine().trimmed();
        ++lineNo;
        if (line.isEmpty()) continue;
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &pe);
        // A line without a usable id is answered under "line:N", so it is never lost.
        const QJsonObject job = doc.object();
        const QString id = job.contains("id") ? idText(job["id"]) : QString("line:%1").arg(lineNo);
        if (done.contains(id) || queued.contains(id)) {
            if (done.contains(id)) ++skipped;
            continue;
        }
        const QJsonValue idValue = job.contains("id") ? job["id"] : QJsonValue(id);
        if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
            fail(idValue, id, lineNo, "not a JSON object: " + pe.errorString());
            continue;
        }
        if (!job.contains("id")) {
            fail(idValue, id, lineNo, "no \"id\"");
            continue;
        }
        Job jb;
        jb.id = id;
        jb.idValue = idValue;
        jb.line = lineNo;
        jb.request.studyDir = job["study"].toString();
        jb.request.seriesUid = job["series"].toString();
        jb.request.recordFile = job["record"].toString();
        jb.request.audioFile = job["audio"].toString();
        jb.request.question = job["question"].toString();
        jb.request.modelFile = parser.value(model);
        jb.request.device = parser.value(device);
        jb.request.threads = nThreads;
        if (jb.request.studyDir.isEmpty()) {
            fail(idValue, id, lineNo, "no \"study\"");
            continue;
        }
        queued.insert(id);
        pending.push_back(std::move(jb));
    }

    if (!pending.empty()) {
        // One engine for every job: the model named (or found) once.
        std::vector<std::string> searched;
        const std::string modelPath = locateModel(parser.value(model).toStdString(), &searched);
        AskContext context(4);
        auto engine = modelPath.empty()
                          ? Result<std::shared_ptr<inference::ConsiliumEngine>>(
                                makeError(ErrorCode::NotFound, "no consilium model found"))
                          : context.engine(modelPath);
        if (!engine) {
            std::fprintf(stderr, "%s: %s: %s\n", cmd,
                         qPrintable(parser.value(model).isEmpty() ? QString("--model")
                                                                  : parser.value(model)),
                         engine.error().message.c_str());
            return 2;
        }
        const inference::ConsiliumConfig& c = engine.value()->model().config();
        inference::ConsiliumBatcherOptions bo;
        bo.cpu.threads = nThreads > 0 ? nThreads : std::max(1, QThread::idealThreadCount());
        bo.maxBatch = maxBatch;
        bo.limits.maxRecordTokens = c.textMaxTokens;  // any record the model takes
        auto scheduler = inference::ConsiliumScheduler::create(engine.value(), bo);
        if (!scheduler) {
            std::fprintf(stderr, "%s: %s\n", cmd, scheduler.error().message.c_str());
            return 2;
        }
        const QString deviceDetail = QString::fromStdString(scheduler.value()->deviceName());

        // Results reach this thread through one queue: prepared jobs with their answer, or
        // an error. At most max(2, maxBatch + 1) jobs are prepared and unfinished at a time.
        struct Finished {
            size_t job = 0;
            std::optional<PreparedAsk> prepared;
            std::optional<Result<inference::ConsiliumAnswer>> answer;
            Error error;
        };
        std::mutex mu;
        std::condition_variable cv;
        std::deque<Finished> results;
        size_t inFlight = 0;
        const size_t window = size_t(std::max(2, maxBatch + 1));
        auto post = [&](Finished f) {
            std::lock_guard<std::mutex> lock(mu);
            results.push_back(std::move(f));
            cv.notify_all();
        };
        std::thread producer([&] {
            for (size_t k = 0; k < pending.size(); ++k) {
                {
                    std::unique_lock<std::mutex> lock(mu);
                    cv.wait(lock, [&] { return inFlight < window; });
                    ++inFlight;
                }
                auto prepared = prepareAsk(pending[k].request, &context);
                if (!prepared) {
                    Finished f;
                    f.job = k;
                    f.error = prepared.error();
                    post(std::move(f));
                    continue;
                }
                auto shared = std::make_shared<PreparedAsk>(std::move(prepared.value()));
                inference::ConsiliumRequest r;
                r.inputs = std::move(shared->inputs);
                keepGeometryOnly(shared.get());
                r.priority = 1;
                r.onDone = [&, k, shared](Result<inference::ConsiliumAnswer> a) {
                    Finished f;
                    f.job = k;
                    f.prepared = std::move(*shared);
                    f.answer = std::move(a);
                    post(std::move(f));
                };
                scheduler.value()->submit(std::move(r));
            }
        });
        for (size_t seen = 0; seen < pending.size(); ++seen) {
            Finished f;
            {
                std::unique_lock<std::mutex> lock(mu);
                cv.wait(lock, [&] { return !results.empty(); });
                f = std::move(results.front());
                results.pop_front();
                --inFlight;
                cv.notify_all();
            }
            const Job& jb = pending[f.job];
            if (!f.prepared) {
                fail(jb.idValue, jb.id, jb.line, QString::fromStdString(f.error.message));
                continue;
            }
            if (!f.answer->ok()) {
                fail(jb.idValue, jb.id, jb.line, QString::fromStdString(f.answer->error().message));
                continue;
            }
            QJsonObject j = finishAsk(*f.prepared, f.answer->value(), deviceDetail, &context).json;
            j["id"] = jb.idValue;
            writeLine(j);
            done.insert(jb.id);
            ++answered;
            std::fprintf(stderr, "%s: %s answered\n", cmd, qPrintable(jb.id));
        }
        producer.join();
        const auto st = scheduler.value()->stats();
        std::fprintf(stderr,
                     "%s: up to %lld answers decoded together in %lld steps; KV pool %lld of %lld "
                     "blocks at peak (%.1f MiB), %lld preemptions\n",
                     cmd, (long long)st.maxRunning, (long long)st.steps, (long long)st.kvBlocksPeak,
                     (long long)st.kvBlocks, double(st.kvBytes) / (1 << 20),
                     (long long)st.preemptions);
    }
    std::fprintf(stderr, "%s: %d answered, %d failed, %d already in %s\n", cmd, answered, failed,
                 skipped, qPrintable(out.fileName()));
    return failed ? 1 : 0;
}

}  // namespace consilium::app
