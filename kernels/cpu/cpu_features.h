// What the CPU advertises and what the operating system really lets us use.
//
// A feature is *usable* only when CPUID reports it AND the OS saves its register state
// (XCR0 via XGETBV) AND, for AMX, Linux granted the tile-data permission
// (arch_prctl ARCH_REQ_XCOMP_PERM) AND a trial instruction did not fault. Build machines
// of this project advertise AMX that faults, so kernels dispatch on `usable`, never on
// `advertised`, and nothing is compiled with -march=native.
//
// Thread safety: cpuFeatures() computes once (thread-safe static) and is then read-only.
#pragma once

#include <string>
#include <vector>

namespace consilium::kernels {

struct CpuFeature {
    std::string name;         // "avx2", "avx512f", "amx-tile", ...
    bool advertised = false;  // CPUID says the core has it
    bool usable = false;      // the OS enabled it (and a trial ran, where one is needed)
    std::string note;         // why an advertised feature is not usable
};

struct CpuFeatures {
    std::string vendor;    // "GenuineIntel"
    std::string brand;     // "Intel(R) Xeon(R) ..."
    int logicalCores = 1;  // std::thread::hardware_concurrency()

    bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512dq = false, avx512bw = false, avx512vl = false, avx512vnni = false,
         avx512bf16 = false, avxvnni = false;
    bool amxTile = false, amxBf16 = false, amxInt8 = false;

    std::vector<CpuFeature> all;  // every feature above, for reports

    // Best SIMD level kernels will use: "avx512", "avx2", "sse4.2" or "scalar".
    std::string simdLevel() const;
};

const CpuFeatures& cpuFeatures();

}  // namespace consilium::kernels
