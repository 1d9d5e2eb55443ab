// Q4_0 / Q8_0 GEMV bandwidth: GB/s of weights read by kernels/cpu matmul (one token)
// over >= 1 GiB of weights (far beyond the caches), against this machine's memory-copy
// bandwidth measured in the same run (memcpy of a 1 GiB buffer: 2 bytes moved per byte
// copied, reported as read+write GB/s and as read GB/s).
//
// consilium-bench-gemv [--gib 1.0] [--threads N] [--reps 5] [--path auto|reference|avx2|avx512]
// Prints one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"

using namespace consilium::kernels;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Best of reps (the least disturbed run), as memory benchmarks such as STREAM report.
template <typename F>
double bestSeconds(int reps, F&& f) {
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        f();
        best = std::min(best, seconds(t0, Clock::now()));
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    double gib = 1.0;
    int threads = int(std::max(1u, std::thread::hardware_concurrency()));
    int reps = 5;
    KernelPath path = KernelPath::Auto;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--gib" && v) {
            gib = std::atof(v), ++i;
        } else if (a == "--threads" && v) {
            threads = std::atoi(v), ++i;
        } else if (a == "--reps" && v) {
            reps = std::atoi(v), ++i;
        } else if (a == "--path" && v) {
            const std::string p = v;
            ++i;
            path = p == "reference" ? KernelPath::Reference
                   : p == "avx2"    ? KernelPath::Avx2
                   : p == "avx512"  ? KernelPath::Avx512
                                    : KernelPath::Auto;
        } else {
            std::fprintf(stderr,
                         "usage: %s [--gib G] [--threads N] [--reps R] [--path "
                         "auto|reference|avx2|avx512]\n",
                         argv[0]);
            return 2;
        }
    }
    if (gib <= 0 || threads < 1 || reps < 1) {
        std::fprintf(stderr, "consilium-bench-gemv: bad arguments\n");
        return 2;
    }
    const size_t bytes = size_t(gib * double(1ull << 30));
    ThreadPool pool(threads);

    // Memory-copy baseline: the same thread count copying halves of a buffer.
    std::vector<uint8_t> src(bytes), dst(bytes);
    std::memset(src.data(), 1, bytes);
    std::memset(dst.data(), 2, bytes);
    const double copySec = bestSeconds(reps, [&] {
        const int tasks = threads;
        const size_t chunk = (bytes + size_t(tasks) - 1) / size_t(tasks);
        pool.parallelFor(tasks, [&](int t) {
            const size_t b = size_t(t) * chunk, e = std::min(bytes, b + chunk);
            if (b < e) std::memcpy(dst.data() + b, src.data() + b, e - b);
        });
    });
    const double copyReadGBs = double(bytes) / copySec / 1e9;
    std::vector<uint8_t>().swap(dst);
    std::vector<uint8_t>().swap(src);

    std::string json = "{\"bench\":\"gemv_bandwidth\",\"cpu\":\"" + cpuFeatures().brand +
                       "\",\"threads\":" + std::to_string(threads) + ",\"path\":\"" +
                       kernelPathName(path == KernelPath::Auto ? bestKernelPath() : path) +
                       "\",\"memcpy_read_GBps\":" + std::to_string(copyReadGBs) +
                       ",\"memcpy_read_write_GBps\":" + std::to_string(2 * copyReadGBs) +
                       ",\"results\":[";
    bool first = true;
    for (DType t : {DType::Q4_0, DType::Q8_0}) {
        const int64_t cols = 4096;
        const size_t rowBytes = dtypeRowBytes(t, cols);
        const int64_t rows = int64_t(bytes / rowBytes);
        std::vector<uint8_t> w(size_t(rows) * rowBytes);
        std::mt19937 rng(1);
        for (size_t i = 0; i < w.size(); i += 4) {
            const uint32_t r = rng();
            std::memcpy(w.data() + i, &r, std::min<size_t>(4, w.size() - i));
        }
        // Sane fp16 scales (0x2000 ~ 0.0078) so the sums stay finite.
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t b = 0; b < cols / 32; ++b) {
                uint8_t* blk =
                    w.data() + size_t(r) * rowBytes + size_t(b) * size_t(dtypeBlockBytes(t));
                blk[0] = 0x00;
                blk[1] = 0x20;
            }
        }
        std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
        for (auto& v : x)
            v = float(rng() % 1000) / 500.0f - 1.0f;
        std::vector<uint8_t> scratch(matmulScratchBytes(t, cols, 1));
        const MatrixView m{t, w.data(), rows, cols, rowBytes};
        const double sec = bestSeconds(reps, [&] {
            matmul(m, x.data(), 1, cols, y.data(), rows, scratch.data(), &pool, path);
        });
        const double gbs = double(w.size()) / sec / 1e9;
        char buf[512];
        std::snprintf(
            buf, sizeof buf,
            "%s{\"type\":\"%s\",\"rows\":%lld,\"cols\":%lld,\"weight_bytes\":%zu,\"seconds\":%.6f,"
            "\"weights_GBps\":%.3f,\"fraction_of_memcpy_read\":%.3f}",
            first ? "" : ",", dtypeName(t), (long long)rows, (long long)cols, w.size(), sec, gbs,
            gbs / copyReadGBs);
        json += buf;
        first = false;
    }
    json += "]}";
    std::printf("%s\n", json.c_str());
    return 0;
}
