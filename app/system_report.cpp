#include "app/system_report.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtGlobal>

#include <cstdio>
#include <sstream>

#include <unistd.h>

#include "app/resource_paths.h"
#include "audio/audio_devices.h"
#include "imaging/library_info.h"
#include "inference/device.h"
#include "inference/model_file.h"
#include "kernels/cpu/cpu_features.h"

namespace consilium::app {
namespace {

QString q(const std::string& s) {
    return QString::fromStdString(s);
}

QJsonArray stringArray(const std::vector<std::string>& v) {
    QJsonArray a;
    for (const auto& s : v)
        a.append(q(s));
    return a;
}

}  // namespace

ModelCheck checkModel(const std::string& explicitPath) {
    ModelCheck m;
    m.path = locateModel(explicitPath, &m.searched);
    if (m.path.empty()) {
        m.summary = explicitPath.empty() ? "no model file found" : "no such file: " + explicitPath;
        return m;
    }
    auto summary = inference::inspectModelFile(m.path);
    m.valid = summary.ok();
    if (summary.ok()) {
        const auto& s = summary.value();
        std::ostringstream os;
        os << "GGUF v" << s.ggufVersion << ", "
           << (s.architecture.empty() ? std::string("?") : s.architecture) << ", " << s.tensorCount
           << " tensors, " << s.fileBytes / 1e6 << " MB";
        m.summary = os.str();
    } else {
        m.summary = summary.error().toString();
    }
    return m;
}

SystemReport collectSystemReport(const ReportOptions& options) {
    SystemReport r;
    r.consiliumVersion = CONSILIUM_VERSION;

    const auto& cpu = kernels::cpuFeatures();
    r.cpuBrand = cpu.brand;
    r.cpuVendor = cpu.vendor;
    r.simdLevel = cpu.simdLevel();
    r.logicalCores = cpu.logicalCores;
    for (const auto& f : cpu.all)
        r.cpuFeatures.push_back({f.name, f.advertised, f.usable, f.note});

    const auto& probe = inference::probeCuda(options.cudaPluginOverride);
    r.cudaPluginBuilt = probe.pluginBuilt;
    r.cudaPluginLoaded = probe.pluginLoaded;
    r.cudaPluginPath = probe.pluginPath;
    r.cudaPluginSearched = probe.searched;
    r.cudaPluginError = probe.loadError;
    r.cudaBuildInfo = probe.buildInfo;
    r.cudaRuntime = inference::formatCudaVersion(probe.runtimeVersion);
    r.cudaDriver = inference::formatCudaVersion(probe.driverVersion);
    r.cublas = probe.cublasVersion > 0 ? std::to_string(probe.cublasVersion / 10000) + "." +
                                             std::to_string(probe.cublasVersion / 100 % 100) + "." +
                                             std::to_string(probe.cublasVersion % 100)
                                       : "none";
    for (const auto& g : probe.gpus) {
        r.gpus.push_back({g.name,
                          std::to_string(g.computeMajor) + "." + std::to_string(g.computeMinor),
                          g.totalBytes / double(1ull << 30), g.freeBytes / double(1ull << 30)});
    }
    r.gpuError = probe.gpuError;
    const auto choice = inference::chooseDevice(inference::DevicePreference::Auto, probe);
    r.device = choice.description;
    r.deviceNotice = choice.notice;

    if (options.probeAudio) {
        auto devices = audio::listInputDevices();
        if (devices.ok()) {
            for (const auto& d : devices.value()) {
                r.audioInputs.push_back(
                    {d.name, d.hostApi, d.maxInputChannels, d.defaultSampleRate, d.isDefault});
            }
        } else {
            r.audioError = devices.error().message;
        }
    }

    ModelCheck m = checkModel(options.modelOverride);
    r.modelPath = std::move(m.path);
    r.modelSearched = std::move(m.searched);
    r.modelValid = m.valid;
    r.modelSummary = std::move(m.summary);

    r.libraries = {
        {"Qt", qVersion()},
        {"DCMTK", imaging::dcmtkVersion()},
        {"OpenCV", imaging::opencvVersion()},
        {"PortAudio", audio::portAudioVersion()},
        {"CUDA runtime", probe.pluginLoaded ? r.cudaRuntime : "not loaded"},
        {"cuBLAS", probe.pluginLoaded ? r.cublas : "not loaded"},
    };
    return r;
}

std::string formatReportText(const SystemReport& r) {
    std::ostringstream os;
    os << "Consilium " << r.consiliumVersion << "\n\n";
    os << "CPU: " << r.cpuBrand << " (" << r.cpuVendor << "), " << r.logicalCores
       << " logical cores, SIMD level used: " << r.simdLevel << "\n";
    for (const auto& f : r.cpuFeatures) {
        if (!f.advertised) continue;
        os << "  " << f.name << ": " << (f.usable ? "usable" : "advertised, NOT usable");
        if (!f.note.empty()) os << " (" << f.note << ")";
        os << "\n";
    }
    os << "\nCUDA plugin: ";
    if (!r.cudaPluginBuilt) {
        os << "not built (CPU-only build)\n";
    } else if (r.cudaPluginLoaded) {
        os << "loaded from " << r.cudaPluginPath << " [" << r.cudaBuildInfo << "]\n"
           << "  runtime " << r.cudaRuntime << ", driver " << r.cudaDriver << ", cuBLAS "
           << r.cublas << "\n";
    } else {
        os << "failed to load: " << r.cudaPluginError << "\n";
    }
    os << "GPUs: ";
    if (r.gpus.empty()) {
        os << "none" << (r.gpuError.empty() ? "" : " (" + r.gpuError + ")") << "\n";
    } else {
        os << r.gpus.size() << "\n";
        for (const auto& g : r.gpus) {
            os << "  " << g.name << ", compute " << g.computeCapability << ", " << g.totalGiB
               << " GiB (" << g.freeGiB << " free)\n";
        }
    }
    os << "Device for queries: " << r.device << "\n";
    if (!r.deviceNotice.empty()) os << "  " << r.deviceNotice << "\n";

    os << "\nAudio inputs: ";
    if (!r.audioError.empty()) {
        os << "unavailable (" << r.audioError << ")\n";
    } else if (r.audioInputs.empty()) {
        os << "none (voice questions can still be loaded from audio files)\n";
    } else {
        os << r.audioInputs.size() << "\n";
        for (const auto& d : r.audioInputs) {
            os << "  " << d.name << " [" << d.hostApi << "], " << d.channels << " ch, "
               << d.sampleRate << " Hz" << (d.isDefault ? " (default)" : "") << "\n";
        }
    }

    os << "\nModel: ";
    if (r.modelPath.empty()) {
        os << "not found; searched:\n";
        for (const auto& p : r.modelSearched)
            os << "  " << p << "\n";
    } else {
        os << r.modelPath << "\n  " << (r.modelValid ? "valid: " : "INVALID: ") << r.modelSummary
           << "\n";
    }

    os << "\nLibraries:\n";
    for (const auto& [name, version] : r.libraries)
        os << "  " << name << " " << version << "\n";
    return os.str();
}

std::string formatReportJson(const SystemReport& r) {
    QJsonObject cpu;
    cpu["brand"] = q(r.cpuBrand);
    cpu["vendor"] = q(r.cpuVendor);
    cpu["logical_cores"] = r.logicalCores;
    cpu["simd_level"] = q(r.simdLevel);
    QJsonArray features;
    for (const auto& f : r.cpuFeatures) {
        QJsonObject o;
        o["name"] = q(f.name);
        o["advertised"] = f.advertised;
        o["usable"] = f.usable;
        if (!f.note.empty()) o["note"] = q(f.note);
        features.append(o);
    }
    cpu["features"] = features;

    QJsonObject cuda;
    cuda["plugin_built"] = r.cudaPluginBuilt;
    cuda["plugin_loaded"] = r.cudaPluginLoaded;
    cuda["plugin_path"] = q(r.cudaPluginPath);
    cuda["plugin_searched"] = stringArray(r.cudaPluginSearched);
    cuda["plugin_error"] = q(r.cudaPluginError);
    cuda["build_info"] = q(r.cudaBuildInfo);
    cuda["runtime_version"] = q(r.cudaRuntime);
    cuda["driver_version"] = q(r.cudaDriver);
    cuda["cublas_version"] = q(r.cublas);

    QJsonArray gpus;
    for (const auto& g : r.gpus) {
        QJsonObject o;
        o["name"] = q(g.name);
        o["compute_capability"] = q(g.computeCapability);
        o["total_gib"] = g.totalGiB;
        o["free_gib"] = g.freeGiB;
        gpus.append(o);
    }

    QJsonArray audioInputs;
    for (const auto& d : r.audioInputs) {
        QJsonObject o;
        o["name"] = q(d.name);
        o["host_api"] = q(d.hostApi);
        o["channels"] = d.channels;
        o["sample_rate"] = d.sampleRate;
        o["default"] = d.isDefault;
        audioInputs.append(o);
    }
    QJsonObject audio;
    audio["inputs"] = audioInputs;
    if (!r.audioError.empty()) audio["error"] = q(r.audioError);

    QJsonObject model;
    model["found"] = !r.modelPath.empty();
    model["path"] = q(r.modelPath);
    model["searched"] = stringArray(r.modelSearched);
    model["valid"] = r.modelValid;
    model["summary"] = q(r.modelSummary);

    QJsonObject libs;
    for (const auto& [name, version] : r.libraries)
        libs[q(name)] = q(version);

    QJsonObject root;
    root["consilium_version"] = q(r.consiliumVersion);
    root["cpu"] = cpu;
    root["cuda"] = cuda;
    root["gpus"] = gpus;
    root["gpu_error"] = q(r.gpuError);
    root["device"] = q(r.device);
    root["device_notice"] = q(r.deviceNotice);
    root["audio"] = audio;
    root["model"] = model;
    root["libraries"] = libs;
    return QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();
}

uint64_t residentBytes() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long size = 0, resident = 0;
    const int n = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    const long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? uint64_t(resident) * uint64_t(page) : 0;
}

}  // namespace consilium::app
