// Serving benchmarks of issue 6, each a ratio measured in one run (bench/README.md):
//
//   consilium-bench-serving throughput --model FILE [--jobs 64] [--studies 8] [--threads N]
//       The same jobs (studies x questions, with records) through a ConsiliumBatcher with
//       --max-batch 64 against 1, with encodings reused and without; answers must be
//       identical. Reports jobs/s, decoder rows/s, where the time went, and the ratios.
//   consilium-bench-serving followup --study DIR --record FILE [--model FILE] [--repeat 5]
//       Time to first token of a cold question (fresh AskContext: model, study, encoders)
//       against a follow-up on the same study and record (same context). Median of repeats.
//   consilium-bench-serving record --model FILE --tokens N
//       Encodes an N-token record (median of 5 after a warm-up): milliseconds and peak RSS.
//   consilium-bench-serving record-scaling --model FILE
//       Runs `record` for 4K, 8K, 16K and 32K tokens, each in a fresh process, and the
//       ratio per doubling.
// Prints one JSON object.
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "app/ask_service.h"
#include "inference/consilium_batcher.h"
#include "inference/consilium_engine.h"
#include "inference/synthetic_inputs.h"

using namespace consilium;
using namespace consilium::inference;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

long peakRssKiB() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

QString arg(const QStringList& a, const QString& name, const QString& def = {}) {
    const int i = a.indexOf(name);
    return i >= 0 && i + 1 < a.size() ? a[i + 1] : def;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "consilium-bench-serving: %s\n", what.c_str());
    return 2;
}

const char* kRecords[] = {
    "67-year-old male, current smoker, 40 pack-years. Chronic cough. No prior cancer.",
    "患者资料：女性，58岁。既往吸烟，已戒烟8年，累计30包年。无肿瘤病史。",
    "72 year old woman, quit smoking 20 years ago, 15 pack-years. Prior breast cancer in 2010.",
    "Male, 55. Never smoked. Referred for a nodule seen on a cardiac CT.",
};
const char* kQuestions[] = {
    "Is there a nodule?",           "How old is the patient?", "What is the Lung-RADS category?",
    "Where is the largest nodule?", "Does the patient smoke?", "What is the next step?",
    "How many nodules are there?",  "Summarise the findings.",
};

int throughput(const QStringList& a) {
    auto engine = ConsiliumEngine::open(arg(a, "--model").toStdString());
    if (!engine) return fail(engine.error().toString());
    const int jobs = arg(a, "--jobs", "64").toInt(), studies = arg(a, "--studies", "8").toInt();
    const int threads = arg(a, "--threads", "2").toInt();
    const ConsiliumConfig& c = engine.value()->model().config();
    std::vector<std::vector<float>> grids;
    for (int s = 0; s < studies; ++s)
        grids.push_back(syntheticChestGrid(c, s));
    std::vector<ConsiliumInputs> inputs;
    for (int j = 0; j < jobs; ++j) {
        ConsiliumInputs in;
        in.ctHu = grids[size_t(j % studies)];
        in.ctSpacingYxMm = syntheticGridSpacingYxMm(c);
        in.recordIds = engine.value()->tokenizer().encodeWithBos(kRecords[(j % studies) % 4]);
        in.questionIds = engine.value()->tokenizer().encodeWithBos(kQuestions[(j / studies) % 8]);
        inputs.push_back(std::move(in));
    }
    QJsonObject out;
    out["jobs"] = jobs;
    out["studies"] = studies;
    out["threads"] = threads;
    std::map<std::string, std::vector<std::vector<int32_t>>> answers;
    std::map<std::string, double> seconds;
    for (bool reuse : {false, true}) {
        for (int maxBatch : {1, 64}) {
            const std::string key =
                std::string(reuse ? "reuse" : "cold") + "_batch" + std::to_string(maxBatch);
            engine.value()->cache().clear();
            ConsiliumBatcherOptions o;
            o.cpu.threads = threads;
            o.maxBatch = maxBatch;
            o.reuseEncodings = reuse;
            auto b = ConsiliumBatcher::create(engine.value(), o);
            if (!b) return fail(b.error().toString());
            std::vector<std::vector<int32_t>> ids(static_cast<size_t>(jobs));
            int failed = 0;
            for (int j = 0; j < jobs; ++j) {
                ConsiliumRequest r;
                r.inputs = inputs[size_t(j)];
                r.onDone = [&, j](Result<ConsiliumAnswer> ans) {
                    if (ans.ok())
                        ids[size_t(j)] = ans.value().ids;
                    else
                        ++failed;
                };
                b.value()->add(std::move(r));
            }
            const auto t0 = Clock::now();
            b.value()->drain();
            const double s = msSince(t0) / 1000.0;
            if (failed) return fail(key + ": " + std::to_string(failed) + " jobs failed");
            const auto st = b.value()->stats();
            int64_t tokens = 0;
            for (const auto& v : ids)
                tokens += int64_t(v.size());
            QJsonObject m;
            m["seconds"] = s;
            m["jobs_per_s"] = jobs / s;
            m["answer_tokens"] = qint64(tokens);
            m["prefill_ms"] = st.prefillMs;
            m["decode_ms"] = st.decodeMs;
            m["decoder_rows_per_s"] = st.decodeMs > 0 ? st.decodedRows / (st.decodeMs / 1000.0) : 0;
            m["max_running"] = qint64(st.maxRunning);
            m["steps"] = qint64(st.steps);
            m["kv_blocks_peak"] = qint64(st.kvBlocksPeak);
            out[QString::fromStdString(key)] = m;
            answers[key] = ids;
            seconds[key] = s;
        }
    }
    bool same = true;
    for (const auto& [k, v] : answers)
        same = same && v == answers.begin()->second;
    out["answers_identical"] = same;
    out["ratio_batch64_vs_1_cold"] = seconds["cold_batch1"] / seconds["cold_batch64"];
    out["ratio_batch64_vs_1_reuse"] = seconds["reuse_batch1"] / seconds["reuse_batch64"];
    const auto dm = [&](const char* k) {
        return out[k].toObject()["decoder_rows_per_s"].toDouble();
    };
    out["decode_rows_per_s_ratio_batch64_vs_1"] = dm("cold_batch64") / dm("cold_batch1");
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Indented).constData());
    return same ? 0 : 1;
}

int followup(const QStringList& a) {
    app::AskRequest req;
    req.studyDir = arg(a, "--study");
    req.recordFile = arg(a, "--record");
    req.modelFile = arg(a, "--model");
    req.threads = arg(a, "--threads", "2").toInt();
    const int repeat = arg(a, "--repeat", "5").toInt();
    std::vector<double> cold, warm;
    QJsonObject timings[2];
    for (int r = 0; r < repeat; ++r) {
        app::AskContext ctx;
        for (int k = 0; k < 2; ++k) {
            req.question = k == 0 ? "How many nodules are there?" : "What is the next step?";
            const auto t0 = Clock::now();
            double first = -1;
            auto o = app::askQuestion(
                req,
                [&](const QString&) {
                    if (first < 0) first = msSince(t0);
                    return true;
                },
                nullptr, &ctx);
            if (!o) return fail(o.error().toString());
            (k == 0 ? cold : warm).push_back(first);
            timings[k] = o.value().json["timings_ms"].toObject();
        }
    }
    QJsonObject out;
    out["cold_ttft_ms_median"] = median(cold);
    out["followup_ttft_ms_median"] = median(warm);
    out["ratio_followup_vs_cold"] = median(warm) / median(cold);
    out["repeats"] = repeat;
    out["cold_timings_ms"] = timings[0];
    out["followup_timings_ms"] = timings[1];
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Indented).constData());
    return 0;
}

int record(const QStringList& a) {
    auto engine = ConsiliumEngine::open(arg(a, "--model").toStdString());
    if (!engine) return fail(engine.error().toString());
    const int64_t n = arg(a, "--tokens", "4096").toLongLong();
    const ConsiliumConfig& c = engine.value()->model().config();
    // A long record: the phrasings of kRecords repeated, cut to n tokens.
    std::vector<int32_t> ids = {c.bosId};
    for (int i = 0; int64_t(ids.size()) < n; ++i) {
        const auto piece = engine.value()->tokenizer().encodeWithBos(kRecords[i % 4]);
        ids.insert(ids.end(), piece.begin() + 1, piece.end());
    }
    ids.resize(size_t(n));
    ConsiliumLimits lim;
    lim.maxRecordTokens = n;
    CpuBackendOptions cpu;
    cpu.threads = arg(a, "--threads", "2").toInt();
    const long rssBefore = peakRssKiB();
    auto g = ConsiliumGraph::create(engine.value()->modelPtr(), lim, cpu);
    if (!g) return fail(g.error().toString());
    std::vector<double> ms;
    for (int r = 0; r < 6; ++r) {
        const auto t0 = Clock::now();
        Status s = g.value()->encodeRecord(ids.data(), n);
        if (!s) return fail(s.error().toString());
        if (r > 0) ms.push_back(msSince(t0));  // the first run touches fresh pages
    }
    QJsonObject out;
    out["tokens"] = qint64(n);
    out["window"] = qint64(c.slidingWindow);
    out["encode_ms_median"] = median(ms);
    out["peak_rss_mib"] = double(peakRssKiB()) / 1024.0;
    out["rss_growth_mib"] = double(peakRssKiB() - rssBefore) / 1024.0;
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
    return 0;
}

int recordScaling(const QStringList& a) {
    QJsonArray runs;
    double prev = 0, worst = 0;
    for (int n : {4096, 8192, 16384, 32768}) {
        QProcess p;
        p.start(QCoreApplication::applicationFilePath(),
                {"record", "--model", arg(a, "--model"), "--tokens", QString::number(n),
                 "--threads", arg(a, "--threads", "2")});
        if (!p.waitForFinished(600000) || p.exitCode() != 0)
            return fail("record --tokens " + std::to_string(n) + ": " +
                        p.readAllStandardError().toStdString());
        QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        const double ms = o["encode_ms_median"].toDouble();
        if (prev > 0) {
            o["ratio_to_half"] = ms / prev;
            worst = std::max(worst, ms / prev);
        }
        prev = ms;
        runs.append(o);
    }
    QJsonObject out;
    out["runs"] = runs;
    out["worst_ratio_per_doubling"] = worst;
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Indented).constData());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    const QStringList a = app.arguments();
    const QString cmd = a.size() > 1 ? a[1] : QString();
    if (cmd == "throughput") return throughput(a);
    if (cmd == "followup") return followup(a);
    if (cmd == "record") return record(a);
    if (cmd == "record-scaling") return recordScaling(a);
    std::fprintf(stderr,
                 "usage: consilium-bench-serving throughput|followup|record|record-scaling ...\n"
                 "(see bench/serving_bench.cpp)\n");
    return 2;
}
