#include "inference/device.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cuda/plugin_api.h"

namespace consilium::inference {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPluginFile = "libconsilium_cuda.so";

fs::path executableDir() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe.parent_path();
}

std::vector<std::string> pluginCandidates() {
    std::vector<std::string> out;
    const fs::path dir = executableDir();
    if (!dir.empty()) {
        out.push_back((dir / "../lib/consilium" / kPluginFile).lexically_normal().string());
        out.push_back((dir / ".." / CONSILIUM_INSTALL_LIBDIR / "consilium" / kPluginFile)
                          .lexically_normal()
                          .string());
        out.push_back((dir / kPluginFile).string());
    }
    out.push_back(std::string(CONSILIUM_INSTALL_PREFIX "/" CONSILIUM_INSTALL_LIBDIR "/consilium/") +
                  kPluginFile);
    std::vector<std::string> unique;
    for (auto& p : out) {
        bool seen = false;
        for (auto& u : unique)
            seen = seen || u == p;
        if (!seen) unique.push_back(p);
    }
    return unique;
}

CudaProbe load(const std::string& overridePath) {
    CudaProbe probe;
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
    probe.pluginBuilt = true;
#endif
    probe.searched = overridePath.empty() ? pluginCandidates() : std::vector{overridePath};

    void* handle = nullptr;
    for (const auto& path : probe.searched) {
        probe.pluginPath = path;
        std::error_code ec;
        if (!fs::exists(path, ec)) {
            probe.loadError = "not found: " + path;
            continue;
        }
        handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle) break;
        const char* why = dlerror();
        probe.loadError = why ? why : ("dlopen failed: " + path);
        break;  // the plugin exists but cannot load (missing CUDA libraries): say so
    }
    if (!handle) return probe;

    auto entry =
        reinterpret_cast<ConsiliumCudaPluginEntry>(dlsym(handle, CONSILIUM_CUDA_PLUGIN_ENTRY));
    const ConsiliumCudaPlugin* api = entry ? entry() : nullptr;
    if (!api) {
        probe.loadError = std::string("no entry point ") + CONSILIUM_CUDA_PLUGIN_ENTRY + " in " +
                          probe.pluginPath;
        return probe;  // handle intentionally kept: unloading CUDA runtimes is unsafe
    }
    if (api->abi_version != CONSILIUM_CUDA_PLUGIN_ABI) {
        probe.loadError = "plugin ABI " + std::to_string(api->abi_version) + ", expected " +
                          std::to_string(CONSILIUM_CUDA_PLUGIN_ABI) + ": " + probe.pluginPath;
        return probe;
    }
    probe.pluginLoaded = true;
    probe.api = api;
    probe.loadError.clear();
    probe.buildInfo = api->build_info();
    probe.runtimeVersion = api->runtime_version();
    probe.driverVersion = api->driver_version();
    probe.cublasVersion = api->cublas_version();

    ConsiliumGpuInfo infos[16];
    char err[512] = {};
    const int n = api->enumerate(infos, 16, err, sizeof err);
    if (n < 0) {
        probe.gpuError = err;
    } else {
        for (int i = 0; i < n && i < 16; ++i) {
            GpuDevice g;
            g.name = infos[i].name;
            g.computeMajor = infos[i].compute_major;
            g.computeMinor = infos[i].compute_minor;
            g.multiprocessors = infos[i].multiprocessors;
            g.totalBytes = infos[i].total_bytes;
            g.freeBytes = infos[i].free_bytes;
            probe.gpus.push_back(std::move(g));
        }
        if (n == 0) probe.gpuError = "no CUDA device found";
    }
    return probe;
}

}  // namespace

const CudaProbe& probeCuda(const std::string& overridePath) {
    static std::once_flag once;
    static CudaProbe probe;
    std::call_once(once, [&] { probe = load(overridePath); });
    return probe;
}

Error cudaPluginError(int status, const std::string& message) {
    ErrorCode code = ErrorCode::Internal;
    switch (status) {
        case CONSILIUM_CUDA_ERR_INVALID_ARGUMENT:
            code = ErrorCode::InvalidArgument;
            break;
        case CONSILIUM_CUDA_ERR_OUT_OF_MEMORY:
            code = ErrorCode::OutOfDeviceMemory;
            break;
        case CONSILIUM_CUDA_ERR_NO_DEVICE:
            code = ErrorCode::NoGpu;
            break;
        case CONSILIUM_CUDA_ERR_UNSUPPORTED:
            code = ErrorCode::UnsupportedModel;
            break;
        default:
            break;
    }
    return makeError(code, "CUDA: " + message);
}

std::string formatCudaVersion(int version) {
    if (version <= 0) return "none";
    return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

DeviceChoice chooseDevice(DevicePreference preference, const CudaProbe& probe) {
    DeviceChoice choice;
    const auto& cpu = kernels::cpuFeatures();
    const std::string cpuText =
        "CPU (" + cpu.simdLevel() + ", " + std::to_string(cpu.logicalCores) + " threads)";
    if (preference == DevicePreference::Cpu) {
        choice.description = cpuText;
        return choice;
    }
    if (probe.pluginLoaded && !probe.gpus.empty()) {
        choice.useCuda = true;
        choice.description =
            probe.gpus.front().name + " (CUDA " + formatCudaVersion(probe.runtimeVersion) + ")";
        return choice;
    }
    choice.description = cpuText;
    std::string why;
    if (!probe.pluginBuilt) {
        why = "this build has no CUDA backend";
    } else if (!probe.pluginLoaded) {
        why = "the CUDA plugin did not load (" + probe.loadError + ")";
    } else {
        // The first clause of the plugin's message; the CUDA error detail is for `doctor`.
        why = probe.gpuError.empty() ? "no CUDA device found"
                                     : probe.gpuError.substr(0, probe.gpuError.find(" ("));
    }
    choice.notice = "No usable GPU: " + why + ". Running on the " + cpuText + ".";
    return choice;
}

}  // namespace consilium::inference
