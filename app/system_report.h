// A snapshot of what this machine offers Consilium: CPU features, the CUDA plugin and
// GPUs, audio inputs, the model file, library versions. Used by `consilium-cli doctor`
// and the About dialog. Plain value types only, so ui/ can include this header.
//
// Thread safety: collectSystemReport() may run on any thread; it loads the CUDA plugin
// once per process and opens PortAudio briefly.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace consilium::app {

struct ReportGpu {
    std::string name;
    std::string computeCapability;  // "9.0"
    double totalGiB = 0, freeGiB = 0;
};

struct ReportCpuFeature {
    std::string name;
    bool advertised = false, usable = false;
    std::string note;
};

struct ReportAudioDevice {
    std::string name, hostApi;
    int channels = 0;
    double sampleRate = 0;
    bool isDefault = false;
};

struct SystemReport {
    std::string consiliumVersion;
    std::vector<std::pair<std::string, std::string>> libraries;  // name -> version, in order

    std::string cpuBrand, cpuVendor, simdLevel;
    int logicalCores = 0;
    std::vector<ReportCpuFeature> cpuFeatures;

    bool cudaPluginBuilt = false, cudaPluginLoaded = false;
    std::string cudaPluginPath, cudaPluginError, cudaBuildInfo;
    std::vector<std::string> cudaPluginSearched;
    std::string cudaRuntime, cudaDriver, cublas;  // "13.0", "none"
    std::vector<ReportGpu> gpus;
    std::string gpuError;
    std::string device;        // what a query would run on now
    std::string deviceNotice;  // why not the GPU, when relevant

    std::vector<ReportAudioDevice> audioInputs;
    std::string audioError;

    std::string modelPath;  // empty when none was found
    std::vector<std::string> modelSearched;
    bool modelValid = false;
    std::string modelSummary;  // architecture, tensors, size — or the validation error
};

struct ReportOptions {
    std::string cudaPluginOverride;  // try only this plugin file (tests)
    std::string modelOverride;       // validate this model instead of searching
    bool probeAudio = true;
};

SystemReport collectSystemReport(const ReportOptions& options = {});

// The model part of the report alone: explicitPath (must exist), or the shipped demo model
// searched where it is installed. Validates the whole header and tensor table; maps nothing.
struct ModelCheck {
    std::string path;  // empty when none was found
    std::vector<std::string> searched;
    bool valid = false;
    std::string summary;  // architecture, tensors, size — or the validation error
};
ModelCheck checkModel(const std::string& explicitPath);

// This process's resident memory in bytes (/proc/self/statm), 0 when unknown. Cheap: the
// status bar polls it.
uint64_t residentBytes();

// Human-readable, one fact per line.
std::string formatReportText(const SystemReport& report);
// Machine-readable (stable keys, documented in README's CLI section).
std::string formatReportJson(const SystemReport& report);

}  // namespace consilium::app
