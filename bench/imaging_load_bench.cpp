// Series loading benchmark (not part of ctest): a 300-slice 512x512 CT series, written once
// uncompressed and once JPEG-LS lossless, loaded by imaging::loadStudies (all cores and one
// core), compared in the same run with (a) reading the same bytes from disk and (b) pydicom +
// numpy (bench/imaging_load_baseline.py under /usr/bin/python3). Best of N runs each; the
// files sit in the page cache for every contender. Besides wall time, the CPU time the load
// used (all threads, CLOCK_PROCESS_CPUTIME_ID) is reported: on a shared machine it varies
// far less than wall time. JSON on stdout (and --out FILE).
//
// usage: bench_imaging_load [--data DIR] [--slices N] [--matrix N] [--repeats N] [--out FILE]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "imaging/phantom.h"
#include "imaging/study_loader.h"

using namespace consilium;
using namespace consilium::imaging;
namespace fs = std::filesystem;

namespace {

double processCpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Best of `repeats` runs; the CPU time of the fastest run goes to *cpu when given.
double bestOf(int repeats, const std::function<bool()>& run, double* cpu = nullptr) {
    double best = 1e30;
    for (int i = 0; i < repeats; ++i) {
        const double c0 = processCpuSeconds();
        const auto t0 = std::chrono::steady_clock::now();
        if (!run()) return -1;
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (wall < best && cpu) *cpu = processCpuSeconds() - c0;
        best = std::min(best, wall);
    }
    return best;
}

std::string runCommand(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    pclose(p);
    return out;
}

// Reads every file completely (the "same bytes from disk" bound). With `fresh`, into one
// newly allocated buffer of the total size, so it pays the same first-touch page faults as
// any loader producing a new volume; otherwise into one reused, already mapped buffer.
bool readAll(const std::string& dir, bool fresh, size_t* bytes) {
    std::vector<fs::path> files;
    size_t total = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        files.push_back(e.path());
        total += size_t(e.file_size());
    }
    static std::vector<char> reused;
    std::unique_ptr<char[]> buffer;
    if (fresh) buffer.reset(new char[total]);
    size_t offset = 0;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary | std::ios::ate);
        const auto size = size_t(in.tellg());
        in.seekg(0);
        char* dst;
        if (fresh) {
            dst = buffer.get() + offset;
        } else {
            if (reused.size() < size) reused.resize(size);
            dst = reused.data();
        }
        in.read(dst, std::streamsize(size));
        if (!in) return false;
        offset += size;
    }
    *bytes = offset;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::string data = (fs::temp_directory_path() / "consilium-bench-imaging").string();
    std::string outFile;
    int slices = 300, matrix = 512, repeats = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--data")
            data = argv[i + 1];
        else if (a == "--slices")
            slices = std::atoi(argv[i + 1]);
        else if (a == "--matrix")
            matrix = std::atoi(argv[i + 1]);
        else if (a == "--repeats")
            repeats = std::atoi(argv[i + 1]);
        else if (a == "--out")
            outFile = argv[i + 1];
        else {
            std::fprintf(stderr, "bench_imaging_load: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    const int threads = int(std::max(1u, std::thread::hardware_concurrency()));
    struct Case {
        const char* name;
        DicomEncoding encoding;
    };
    const Case cases[] = {{"explicit-vr-little-endian", DicomEncoding::ExplicitLittleEndian},
                          {"jpeg-ls-lossless", DicomEncoding::JpegLsLossless}};
    PhantomOptions po;
    po.seed = 300512;
    po.matrix = matrix;
    po.slices = slices;
    po.pixelSpacing = 0.7;
    po.sliceSpacing = 1.0;
    po.nodules = 2;
    std::string json =
        "{\n  \"benchmark\": \"imaging series load\",\n  \"threads\": " + std::to_string(threads) +
        ",\n  \"matrix\": " + std::to_string(matrix) +
        ",\n  \"slices\": " + std::to_string(slices) +
        ",\n  \"repeats\": " + std::to_string(repeats) + ",\n  \"series\": [";
    bool first = true;
    std::optional<PhantomCase> phantom;
    for (const Case& c : cases) {
        const std::string dir =
            (fs::path(data) /
             (std::string(c.name) + "-" + std::to_string(matrix) + "x" + std::to_string(slices)))
                .string();
        if (!fs::exists(fs::path(dir) / "IM00001")) {
            if (!phantom) {
                std::fprintf(stderr, "generating a %dx%dx%d phantom...\n", matrix, matrix, slices);
                auto p = generatePhantom(po);
                if (!p) {
                    std::fprintf(stderr, "%s\n", p.error().message.c_str());
                    return 1;
                }
                phantom = std::move(p.value());
            }
            std::fprintf(stderr, "writing %s...\n", dir.c_str());
            DicomWriteOptions w;
            w.encoding = c.encoding;
            w.threads = threads;
            if (Status s = writeCtSeries(phantom->volume, phantom->metadata, dir, w); !s) {
                std::fprintf(stderr, "%s\n", s.error().message.c_str());
                return 1;
            }
        }
        size_t bytes = 0;
        const double rawCached = bestOf(repeats, [&] { return readAll(dir, false, &bytes); });
        const double raw = bestOf(repeats, [&] { return readAll(dir, true, &bytes); });
        double checksum = 0, oursCpu = 0, ours1Cpu = 0;
        LoadOptions all;
        all.threads = threads;
        const double ours = bestOf(
            repeats,
            [&] {
                auto v = loadVolume(dir, all);
                return v.ok() && v->dims[2] == slices;
            },
            &oursCpu);
        // The checksum (identical values whatever the decoder) is taken outside the timing.
        if (auto v = loadVolume(dir, all); v.ok())
            for (size_t i = 0; i < v->voxelCount(); ++i)
                checksum += v->at(i);
        LoadOptions one;
        one.threads = 1;
        const double ours1 = bestOf(
            repeats, [&] { return loadVolume(dir, one).ok(); }, &ours1Cpu);
        std::fprintf(stderr,
                     "%s: consilium %.3f s (%d threads, %.3f s CPU), %.3f s (1 thread, %.3f s "
                     "CPU), raw read %.3f s; running pydicom...\n",
                     c.name, ours, threads, oursCpu, ours1, ours1Cpu, raw);
        const std::string py = runCommand("/usr/bin/python3 " CONSILIUM_SOURCE_DIR
                                          "/bench/imaging_load_baseline.py '" +
                                          dir + "' " + std::to_string(repeats));
        double pySeconds = -1;
        const auto pos = py.find("\"seconds\": ");
        if (pos != std::string::npos) pySeconds = std::atof(py.c_str() + pos + 11);
        if (pos != std::string::npos && py.compare(pos + 11, 4, "null") == 0) pySeconds = -1;
        char entry[2048];
        std::snprintf(
            entry, sizeof entry,
            "%s\n    {\"encoding\": \"%s\", \"files\": %d, \"bytes\": %zu, \"consilium_s\": %.4f, "
            "\"consilium_1thread_s\": %.4f, \"consilium_cpu_s\": %.4f, "
            "\"consilium_1thread_cpu_s\": %.4f, \"raw_read_s\": %.4f, "
            "\"raw_read_reused_buffer_s\": "
            "%.4f, \"pydicom_s\": %s, "
            "\"speedup_vs_pydicom\": %s, \"speedup_vs_pydicom_1thread\": %s, "
            "\"ratio_to_raw_read\": %.2f, "
            "\"consilium_checksum\": %.1f,\n     \"pydicom_result\": %s}",
            first ? "" : ",", c.name, slices, bytes, ours, ours1, oursCpu, ours1Cpu, raw, rawCached,
            pySeconds > 0 ? std::to_string(pySeconds).c_str() : "null",
            pySeconds > 0 ? std::to_string(pySeconds / ours).c_str() : "null",
            pySeconds > 0 ? std::to_string(pySeconds / ours1).c_str() : "null", ours / raw,
            checksum, py.empty() ? "null" : py.c_str());
        json += entry;
        first = false;
    }
    json += "\n  ]\n}\n";
    std::fwrite(json.data(), 1, json.size(), stdout);
    if (!outFile.empty()) std::ofstream(outFile) << json;
    return 0;
}
