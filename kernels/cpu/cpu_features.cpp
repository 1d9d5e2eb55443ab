#include "kernels/cpu/cpu_features.h"

#include <algorithm>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CONSILIUM_X86 1
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace consilium::kernels {
namespace {

#ifdef CONSILIUM_X86
struct Regs {
    unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub = 0) {
    Regs r;
    __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
    return r;
}

uint64_t xgetbv0() {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t(hi) << 32) | lo;
}

bool bit(unsigned v, int n) {
    return (v >> n) & 1u;
}

// Linux keeps AMX tile data disabled per process until it is requested.
bool requestAmxPermission(std::string* note) {
#if defined(__linux__)
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
        *note = "kernel refused AMX tile permission (arch_prctl)";
        return false;
    }
    return true;
#else
    *note = "AMX permission is only requested on Linux";
    return false;
#endif
}

sigjmp_buf g_probeJump;
void onProbeFault(int) {
    siglongjmp(g_probeJump, 1);
}

// Executes TILERELEASE under a SIGILL/SIGSEGV guard: some hypervisors advertise AMX and
// enable the XCR0 bits, then fault on the first tile instruction.
bool amxTrialRuns() {
    struct sigaction act {
    }, oldIll{}, oldSegv{};
    act.sa_handler = onProbeFault;
    sigemptyset(&act.sa_mask);
    sigaction(SIGILL, &act, &oldIll);
    sigaction(SIGSEGV, &act, &oldSegv);
    bool ran = false;
    if (sigsetjmp(g_probeJump, 1) == 0) {
        __asm__ volatile(".byte 0xc4, 0xe2, 0x78, 0x49, 0xc0");  // tilerelease
        ran = true;
    }
    sigaction(SIGILL, &oldIll, nullptr);
    sigaction(SIGSEGV, &oldSegv, nullptr);
    return ran;
}
#endif

CpuFeatures detect() {
    CpuFeatures f;
    f.logicalCores = std::max(1u, std::thread::hardware_concurrency());
#ifdef CONSILIUM_X86
    Regs v = cpuid(0);
    char vendor[13] = {};
    std::memcpy(vendor + 0, &v.b, 4);
    std::memcpy(vendor + 4, &v.d, 4);
    std::memcpy(vendor + 8, &v.c, 4);
    f.vendor = vendor;
    const unsigned maxLeaf = v.a;

    if (cpuid(0x80000000).a >= 0x80000004) {
        char brand[49] = {};
        for (unsigned i = 0; i < 3; ++i) {
            Regs r = cpuid(0x80000002 + i);
            std::memcpy(brand + 16 * i + 0, &r.a, 4);
            std::memcpy(brand + 16 * i + 4, &r.b, 4);
            std::memcpy(brand + 16 * i + 8, &r.c, 4);
            std::memcpy(brand + 16 * i + 12, &r.d, 4);
        }
        f.brand = brand;
        const auto first = f.brand.find_first_not_of(' ');
        const auto last = f.brand.find_last_not_of(' ');
        f.brand = first == std::string::npos ? "" : f.brand.substr(first, last - first + 1);
    }

    Regs l1 = cpuid(1);
    Regs l7 = maxLeaf >= 7 ? cpuid(7, 0) : Regs{};
    Regs l71 = maxLeaf >= 7 ? cpuid(7, 1) : Regs{};
    const bool osxsave = bit(l1.c, 27);
    const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool osYmm = (xcr0 & 0x6) == 0x6;                     // SSE + AVX state
    const bool osZmm = osYmm && (xcr0 & 0xE0) == 0xE0;          // opmask + ZMM_Hi256 + Hi16_ZMM
    const bool osTile = (xcr0 & (3ull << 17)) == (3ull << 17);  // XTILECFG + XTILEDATA

    auto add = [&](const char* name, bool adv, bool osOk, const char* why, bool* out) {
        CpuFeature feat{name, adv, adv && osOk, ""};
        if (adv && !osOk) feat.note = why;
        *out = feat.usable;
        f.all.push_back(feat);
    };
    const char* noYmm = "OS does not save AVX state (XCR0)";
    const char* noZmm = "OS does not save AVX-512 state (XCR0)";
    add("sse4.2", bit(l1.c, 20), true, "", &f.sse42);
    add("avx", bit(l1.c, 28), osYmm, noYmm, &f.avx);
    add("avx2", bit(l7.b, 5), osYmm, noYmm, &f.avx2);
    add("fma", bit(l1.c, 12), osYmm, noYmm, &f.fma);
    add("f16c", bit(l1.c, 29), osYmm, noYmm, &f.f16c);
    add("avx-vnni", bit(l71.a, 4), osYmm, noYmm, &f.avxvnni);
    add("avx512f", bit(l7.b, 16), osZmm, noZmm, &f.avx512f);
    add("avx512dq", bit(l7.b, 17), osZmm, noZmm, &f.avx512dq);
    add("avx512bw", bit(l7.b, 30), osZmm, noZmm, &f.avx512bw);
    add("avx512vl", bit(l7.b, 31), osZmm, noZmm, &f.avx512vl);
    add("avx512vnni", bit(l7.c, 11), osZmm, noZmm, &f.avx512vnni);
    add("avx512bf16", bit(l71.a, 5), osZmm, noZmm, &f.avx512bf16);

    // AMX: CPUID, XCR0, kernel permission and a trial instruction must all agree.
    const bool amxAdv = bit(l7.d, 24);
    std::string amxNote;
    bool amxOk = false;
    if (amxAdv) {
        if (!osTile) {
            amxNote = "OS does not save AMX tile state (XCR0)";
        } else if (requestAmxPermission(&amxNote)) {
            amxOk = amxTrialRuns();
            if (!amxOk) amxNote = "trial tile instruction faulted";
        }
    }
    f.all.push_back({"amx-tile", amxAdv, amxOk, amxNote});
    f.all.push_back({"amx-bf16", bit(l7.d, 22), amxOk && bit(l7.d, 22), amxNote});
    f.all.push_back({"amx-int8", bit(l7.d, 25), amxOk && bit(l7.d, 25), amxNote});
    f.amxTile = amxOk;
    f.amxBf16 = amxOk && bit(l7.d, 22);
    f.amxInt8 = amxOk && bit(l7.d, 25);
#endif
    return f;
}

}  // namespace

std::string CpuFeatures::simdLevel() const {
    if (avx512f && avx512bw && avx512vl) return "avx512";
    if (avx2 && fma && f16c) return "avx2";
    if (sse42) return "sse4.2";
    return "scalar";
}

const CpuFeatures& cpuFeatures() {
    static const CpuFeatures features = detect();
    return features;
}

}  // namespace consilium::kernels
