// consilium-cli bench-llm --model FILE [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]
//   Prompt processing (pp: p tokens in one batch from an empty cache) and text generation
//   (tg: n tokens one at a time from an empty cache), tokens/s averaged over repetitions
//   after one warm-up, as llama.cpp's llama-bench measures them.
// consilium-cli make-test-model --arch llama --params 0.5B --type q4_0 --out FILE
//   Writes a random-weight llama GGUF (for benchmarks; also runs in llama.cpp).
#include <QCommandLineParser>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "app/cli_commands.h"
#include "inference/generate.h"
#include "inference/test_model.h"
#include "kernels/cpu/cpu_features.h"

namespace consilium::app {

namespace {

struct Stats {
    double mean = 0, sd = 0;
    std::vector<double> samples;
};

Stats summarise(const std::vector<double>& v) {
    Stats s;
    s.samples = v;
    for (double x : v)
        s.mean += x;
    s.mean /= double(v.size());
    for (double x : v)
        s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0.0;
    return s;
}

int benchFail(const char* what) {
    std::fprintf(stderr, "consilium-cli bench-llm: %s\n", what);
    return 2;
}

}  // namespace

int runBenchLlm(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Measure prompt-processing and generation speed (as llama-bench).");
    parser.addHelpOption();
    QCommandLineOption model(QStringList{"m", "model"}, "GGUF model file.", "FILE");
    QCommandLineOption pp(QStringList{"p", "n-prompt"}, "Prompt tokens (default 512; 0 = skip).",
                          "N", "512");
    QCommandLineOption tg(QStringList{"n", "n-gen"}, "Generated tokens (default 128; 0 = skip).",
                          "N", "128");
    QCommandLineOption threads(QStringList{"t", "threads"}, "Threads (default: all cores).", "T");
    QCommandLineOption reps(QStringList{"r", "repetitions"}, "Repetitions (default 3).", "R", "3");
    QCommandLineOption json("json", "Print one JSON object.");
    parser.addOptions({model, pp, tg, threads, reps, json});
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.isSet(model)) return benchFail("--model FILE is required");
    bool ok1 = false, ok2 = false, ok3 = true, ok4 = false;
    const int p = parser.value(pp).toInt(&ok1);
    const int n = parser.value(tg).toInt(&ok2);
    int th = int(std::max(1u, std::thread::hardware_concurrency()));
    if (parser.isSet(threads)) th = parser.value(threads).toInt(&ok3);
    const int r = parser.value(reps).toInt(&ok4);
    if (!ok1 || !ok2 || p < 0 || n < 0 || (p == 0 && n == 0))
        return benchFail("-p and -n must be >= 0, not both 0");
    if (!ok3 || th < 1 || th > 256) return benchFail("-t must be 1..256");
    if (!ok4 || r < 1) return benchFail("-r must be >= 1");

    const std::string path = parser.value(model).toStdString();
    auto bundle = inference::openLlamaFile(path);
    if (!bundle) return benchFail(bundle.error().toString().c_str());
    const auto& cfg = bundle->model->config();
    inference::SessionOptions so;
    so.maxContext = std::max<int64_t>(p + n, 16);
    so.maxBatch = std::max(p, 1);
    so.cpu.threads = th;
    auto session = inference::LlamaSession::create(bundle->model, so);
    if (!session) {
        std::fprintf(stderr, "consilium-cli bench-llm: %s\n", session.error().toString().c_str());
        return 1;
    }
    inference::LlamaSession& s = *session.value();
    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> anyToken(0, int32_t(cfg.vocab - 1));
    using Clock = std::chrono::steady_clock;

    auto runPp = [&]() -> double {
        std::vector<int32_t> toks(static_cast<size_t>(p));
        for (auto& t : toks)
            t = anyToken(rng);
        s.reset();
        const auto t0 = Clock::now();
        Status st = s.forward(toks.data(), p);
        const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
        return st.ok() ? double(p) / sec : -1.0;
    };
    auto runTg = [&]() -> double {
        s.reset();
        int32_t tok = bundle->tokenizer->bos() >= 0 ? bundle->tokenizer->bos() : 0;
        const auto t0 = Clock::now();
        for (int i = 0; i < n; ++i) {
            if (!s.forward(&tok, 1).ok()) return -1.0;
            const float* lg = s.logits();
            tok = int32_t(std::max_element(lg, lg + cfg.vocab) - lg);
        }
        return double(n) / std::chrono::duration<double>(Clock::now() - t0).count();
    };
    Stats ppStats, tgStats;
    if (p > 0) {
        runPp();  // warm-up
        std::vector<double> v;
        for (int i = 0; i < r; ++i)
            v.push_back(runPp());
        ppStats = summarise(v);
    }
    if (n > 0) {
        runTg();
        std::vector<double> v;
        for (int i = 0; i < r; ++i)
            v.push_back(runTg());
        tgStats = summarise(v);
    }
    const double gib = double(bundle->store->bytes()) / double(1ull << 30);
    const double params = double(bundle->model->parameterCount());
    const std::string backend = s.backend().name();
    if (parser.isSet(json)) {
        QJsonObject o;
        o["model"] = QString::fromStdString(path);
        o["model_size_bytes"] = double(bundle->store->bytes());
        o["model_params"] = params;
        o["backend"] = QString::fromStdString(backend);
        o["cpu"] = QString::fromStdString(kernels::cpuFeatures().brand);
        o["threads"] = th;
        o["n_prompt"] = p;
        o["n_gen"] = n;
        o["repetitions"] = r;
        if (p > 0) {
            o["pp_tokens_per_s"] = ppStats.mean;
            o["pp_tokens_per_s_stddev"] = ppStats.sd;
        }
        if (n > 0) {
            o["tg_tokens_per_s"] = tgStats.mean;
            o["tg_tokens_per_s_stddev"] = tgStats.sd;
        }
        std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
        return 0;
    }
    std::printf("| model | size | params | backend | threads | test | t/s |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    auto row = [&](const char* name, int count, const Stats& st) {
        std::printf("| llama %s | %.2f GiB | %.2f M | %s | %d | %s%d | %.2f ± %.2f |\n",
                    kernels::dtypeName(bundle->model->layers()[0].wq.type), gib, params / 1e6,
                    backend.c_str(), th, name, count, st.mean, st.sd);
    };
    if (p > 0) row("pp", p, ppStats);
    if (n > 0) row("tg", n, tgStats);
    return 0;
}

int runMakeTestModel(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription("Write a random-weight GGUF model for tests and benchmarks.");
    parser.addHelpOption();
    QCommandLineOption arch("arch", "Architecture (llama).", "NAME", "llama");
    QCommandLineOption params(
        "params", "Approximate parameter count, e.g. 0.5B, 100M (default 0.5B).", "N", "0.5B");
    QCommandLineOption type("type", "Weight type: f32, f16, bf16, q8_0, q4_0 (default q4_0).",
                            "TYPE", "q4_0");
    QCommandLineOption experts("experts", "MoE experts per layer (0 = dense).", "E", "0");
    QCommandLineOption seed("seed", "Random seed.", "S", "1");
    QCommandLineOption out("out", "Output file.", "FILE");
    parser.addOptions({arch, params, type, experts, seed, out});
    auto failMake = [](const QString& what) {
        std::fprintf(stderr, "consilium-cli make-test-model: %s\n", qPrintable(what));
        return 2;
    };
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (parser.value(arch) != "llama") return failMake("only --arch llama is supported");
    if (!parser.isSet(out)) return failMake("--out FILE is required");
    QString ps = parser.value(params).trimmed().toUpper();
    double scale = 1;
    if (ps.endsWith('B')) scale = 1e9;
    if (ps.endsWith('M')) scale = 1e6;
    if (scale != 1) ps.chop(1);
    bool ok = false;
    const double count = ps.toDouble(&ok) * scale;
    if (!ok || count < 1e5 || count > 20e9) return failMake("bad --params (e.g. 0.5B or 100M)");
    const QString t = parser.value(type).toLower();
    inference::RandomLlamaSpec spec = inference::llamaSpecForParams(count);
    if (t == "f32")
        spec.type = kernels::DType::F32;
    else if (t == "f16")
        spec.type = kernels::DType::F16;
    else if (t == "bf16")
        spec.type = kernels::DType::BF16;
    else if (t == "q8_0")
        spec.type = kernels::DType::Q8_0;
    else if (t == "q4_0")
        spec.type = kernels::DType::Q4_0;
    else
        return failMake("bad --type " + t);
    const int e = parser.value(experts).toInt(&ok);
    if (!ok || e < 0 || e == 1 || e > 64) return failMake("--experts must be 0 or 2..64");
    spec.experts = e;
    spec.expertsUsed = e > 0 ? 2 : 0;
    spec.seed = parser.value(seed).toULongLong();
    Status st = inference::writeRandomLlama(spec, parser.value(out).toStdString());
    if (!st) {
        std::fprintf(stderr, "consilium-cli make-test-model: %s\n", st.error().toString().c_str());
        return 1;
    }
    std::printf(
        "wrote %s: llama, %.1f M parameters, dim %lld, %lld layers, %lld heads (%lld KV), FFN "
        "%lld, vocab %lld, %s\n",
        qPrintable(parser.value(out)), double(inference::llamaParameterCount(spec)) / 1e6,
        (long long)spec.dim, (long long)spec.layers, (long long)spec.heads, (long long)spec.kvHeads,
        (long long)spec.ffnDim, (long long)spec.vocab, kernels::dtypeName(spec.type));
    return 0;
}

}  // namespace consilium::app
