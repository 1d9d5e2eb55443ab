// Compute devices: probing the CUDA plugin and choosing where a model runs.
//
// The CUDA backend is a plugin (libconsilium_cuda.so) loaded at run time; when it is
// missing, cannot be loaded (no CUDA libraries), or finds no GPU, the engine runs on the
// CPU and `DeviceChoice::notice` says why, once, in words a user can act on.
//
// Thread safety: probeCuda() may be called from any thread; the plugin stays loaded for
// the life of the process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/status.h"

struct ConsiliumCudaPlugin;  // kernels/cuda/plugin_api.h (plain C)

namespace consilium::inference {

struct GpuDevice {
    std::string name;
    int computeMajor = 0, computeMinor = 0;
    int multiprocessors = 0;
    uint64_t totalBytes = 0, freeBytes = 0;
};

struct CudaProbe {
    bool pluginBuilt = false;           // this build has a CUDA plugin to look for
    bool pluginLoaded = false;          // dlopen() and the ABI check succeeded
    std::string pluginPath;             // the file loaded, or the last one tried
    std::vector<std::string> searched;  // every path tried, in order
    std::string loadError;              // dlerror() text or ABI mismatch, when not loaded
    std::string buildInfo;              // "CUDA 13.0; sm 75 80 ..."
    int runtimeVersion = 0;             // 13000 = 13.0
    int driverVersion = 0;              // 0 = no driver
    int cublasVersion = 0;              // 130100 = 13.1.0
    std::vector<GpuDevice> gpus;
    std::string gpuError;  // why enumeration failed (e.g. no driver, error 35)
    // The plugin's function table (ABI CONSILIUM_CUDA_PLUGIN_ABI) when pluginLoaded, else
    // null. Owned by the plugin, valid for the life of the process.
    const ConsiliumCudaPlugin* api = nullptr;
};

// Loads the plugin (once; later calls return the same result). `overridePath`, when not
// empty, is the only file tried (the CLI's --cuda-plugin, used by tests).
const CudaProbe& probeCuda(const std::string& overridePath = {});

enum class DevicePreference { Auto, Cpu, Cuda };

struct DeviceChoice {
    bool useCuda = false;
    std::string description;  // "NVIDIA H200 (CUDA 13.0)" or "CPU (avx512, 2 threads)"
    std::string notice;       // non-empty when the CPU is used although a GPU was wanted
};

DeviceChoice chooseDevice(DevicePreference preference, const CudaProbe& probe);

// The engine's error for a CONSILIUM_CUDA_* status of the plugin (OUT_OF_MEMORY becomes
// OutOfDeviceMemory, NO_DEVICE NoGpu, ...), with the plugin's message.
Error cudaPluginError(int status, const std::string& message);

// "13.0" from 13000.
std::string formatCudaVersion(int version);

}  // namespace consilium::inference
