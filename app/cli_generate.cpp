// consilium-cli generate --model FILE --prompt TEXT -n N [--temp T] [--top-k K] [--top-p P]
//                        [--seed S] [--threads T] [--ctx N]
// Streams the generated text to stdout as tokens arrive; timings go to stderr.
#include <QCommandLineParser>

#include <cstdio>
#include <thread>

#include "app/cli_commands.h"
#include "inference/generate.h"

namespace consilium::app {

namespace {

int fail(const char* what) {
    std::fprintf(stderr, "consilium-cli generate: %s\n", what);
    return 2;
}

}  // namespace

int runGenerate(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription("Generate text with a llama-architecture GGUF model.");
    parser.addHelpOption();
    QCommandLineOption model("model", "GGUF model file.", "FILE");
    QCommandLineOption prompt("prompt", "Prompt text.", "TEXT");
    QCommandLineOption count(QStringList{"n", "n-predict"}, "Tokens to generate (default 128).",
                             "N", "128");
    QCommandLineOption temp("temp", "Sampling temperature; 0 = greedy (default 0.8).", "T", "0.8");
    QCommandLineOption topK("top-k", "Keep the K most likely tokens; 0 = all (default 40).", "K",
                            "40");
    QCommandLineOption topP("top-p", "Nucleus probability mass (default 0.95).", "P", "0.95");
    QCommandLineOption seed("seed", "Random seed (default 0).", "S", "0");
    QCommandLineOption threads(QStringList{"t", "threads"}, "Worker threads (default: all cores).",
                               "T");
    QCommandLineOption ctx(QStringList{"c", "ctx"}, "Context positions (default 2048).", "N",
                           "2048");
    parser.addOptions({model, prompt, count, temp, topK, topP, seed, threads, ctx});
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.positionalArguments().isEmpty()) return fail("unexpected positional argument");
    if (!parser.isSet(model)) return fail("--model FILE is required");
    bool okN = false, okT = false, okK = false, okP = false, okS = false, okTh = true, okC = false;
    const int n = parser.value(count).toInt(&okN);
    const float t = parser.value(temp).toFloat(&okT);
    const int k = parser.value(topK).toInt(&okK);
    const float p = parser.value(topP).toFloat(&okP);
    const qulonglong s = parser.value(seed).toULongLong(&okS);
    const int c = parser.value(ctx).toInt(&okC);
    int th = int(std::max(1u, std::thread::hardware_concurrency()));
    if (parser.isSet(threads)) th = parser.value(threads).toInt(&okTh);
    if (!okN || n < 0) return fail("-n must be a non-negative integer");
    if (!okT || !okK || !okP || !okS || p <= 0.0f || p > 1.0f || k < 0)
        return fail("bad sampling option");
    if (!okTh || th < 1 || th > 256) return fail("--threads must be 1..256");
    if (!okC || c < 8) return fail("--ctx must be >= 8");

    const std::string path = parser.value(model).toStdString();
    auto bundle = inference::openLlamaFile(path);
    if (!bundle) return fail(bundle.error().toString().c_str());
    inference::SessionOptions so;
    so.maxContext = c;
    so.maxBatch = 512;
    so.cpu.threads = th;
    auto session = inference::LlamaSession::create(bundle->model, so);
    if (!session) {
        std::fprintf(stderr, "consilium-cli generate: %s\n", session.error().toString().c_str());
        return 1;
    }
    inference::GenerateOptions go;
    go.maxNewTokens = n;
    go.sampling = {t, k, p, s};
    go.onToken = [](int32_t, const std::string& piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
    };
    auto r = inference::generate(*session.value(), *bundle->tokenizer,
                                 parser.value(prompt).toStdString(), go);
    std::printf("\n");
    if (!r) {
        std::fprintf(stderr, "consilium-cli generate: %s\n", r.error().toString().c_str());
        return r.error().code == ErrorCode::InvalidArgument ? 2 : 1;
    }
    std::fprintf(stderr,
                 "prompt: %zu tokens in %.3f s (%.2f tokens/s); generated: %zu tokens in %.3f s "
                 "(%.2f tokens/s); "
                 "stop: %s; backend: %s\n",
                 r->promptTokens.size(), r->promptSeconds,
                 double(r->promptTokens.size()) / std::max(1e-9, r->promptSeconds),
                 r->tokens.size(), r->generateSeconds,
                 double(r->tokens.size()) / std::max(1e-9, r->generateSeconds),
                 r->stopReason.c_str(), session.value()->backend().name().c_str());
    return 0;
}

}  // namespace consilium::app
