// One consilium query (all four modalities, greedy answer) timed on the engine, from raw
// inputs written by bench/consilium_vs_torch.py: ct.f32 [D,H,W] lung-windowed values,
// mel.f32 [80,T], record.i32, question.i32 (little-endian). Prints one JSON object.
//   bench_consilium_query --model FILE --inputs DIR [--threads N] [--max-ids M] [--repeat R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "inference/consilium_session.h"
#include "inference/synthetic_inputs.h"

using namespace consilium;
using namespace consilium::inference;

namespace {

template <typename T>
std::vector<T> readRaw(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) return {};
    const std::streamsize n = f.tellg();
    f.seekg(0);
    std::vector<T> v(size_t(n) / sizeof(T));
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(T)));
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model, inputs;
    int threads = 2, repeat = 3;
    int64_t maxIds = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--model")
            model = argv[i + 1];
        else if (a == "--inputs")
            inputs = argv[i + 1];
        else if (a == "--threads")
            threads = std::atoi(argv[i + 1]);
        else if (a == "--max-ids")
            maxIds = std::atoll(argv[i + 1]);
        else if (a == "--repeat")
            repeat = std::atoi(argv[i + 1]);
    }
    if (model.empty() || inputs.empty()) {
        std::fprintf(stderr, "usage: %s --model FILE --inputs DIR [--threads N] [--max-ids M]\n",
                     argv[0]);
        return 2;
    }
    auto engine = ConsiliumEngine::open(model);
    if (!engine) {
        std::fprintf(stderr, "%s\n", engine.error().toString().c_str());
        return 2;
    }
    const ConsiliumConfig& c = engine.value()->model().config();
    ConsiliumInputs in;
    const float lo = c.windowCenter - c.windowWidth / 2;
    for (float v : readRaw<float>(inputs + "/ct.f32"))
        in.ctHu.push_back(v * c.windowWidth + lo);
    in.ctSpacingYxMm = syntheticGridSpacingYxMm(c);
    in.mel = readRaw<float>(inputs + "/mel.f32");
    in.melFrames = int64_t(in.mel.size()) / c.nMels;
    in.recordIds = readRaw<int32_t>(inputs + "/record.i32");
    in.questionIds = readRaw<int32_t>(inputs + "/question.i32");
    ConsiliumSessionOptions so;
    so.reuseEncodings = false;  // every repeat a cold query
    so.cpu.threads = threads;
    so.maxAnswerTokens = maxIds;
    so.limits.maxRecordTokens = int64_t(in.recordIds.size());
    so.limits.maxQuestionTokens = int64_t(in.questionIds.size());
    so.limits.maxAudioFrames = in.melFrames;
    auto session = ConsiliumSession::create(engine.value(), so);
    if (!session) {
        std::fprintf(stderr, "%s\n", session.error().toString().c_str());
        return 1;
    }
    double best = 1e30;
    ConsiliumAnswer last;
    for (int r = 0; r < repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        auto a = session.value()->ask(in);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        if (!a) {
            std::fprintf(stderr, "%s\n", a.error().toString().c_str());
            return 1;
        }
        if (ms < best) {
            best = ms;
            last = a.value();
        }
    }
    std::printf(
        "{\"engine_ms\": %.3f, \"encode_ms\": %.3f, \"fuse_ms\": %.3f, \"decode_ms\": %.3f, "
        "\"generated_ids\": %zu, \"threads\": %d, \"precision\": \"%s\", \"ids\": [",
        best, last.encodeMs, last.fuseMs, last.decodeMs, last.ids.size(), threads,
        engine.value()->model().precision().c_str());
    for (size_t i = 0; i < last.ids.size(); ++i)
        std::printf("%s%d", i ? ", " : "", last.ids[i]);
    std::printf("]}\n");
    return 0;
}
