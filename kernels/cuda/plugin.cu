// Entry point of the CUDA backend plugin: device probing and versions. Kernels live in
// their own files beside this one (one op per .cu file), each with a CPU reference.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>

#include "kernels/cuda/plugin_api.h"

#define CONSILIUM_STR2(x) #x
#define CONSILIUM_STR(x) CONSILIUM_STR2(x)

namespace {

void writeError(char* err, size_t len, const char* what, cudaError_t code) {
    if (err && len) {
        std::snprintf(err, len, "%s (%s: %s, %d)", what, cudaGetErrorName(code),
                      cudaGetErrorString(code), static_cast<int>(code));
    }
}

const char* buildInfo() {
    return "CUDA " CONSILIUM_STR(__CUDACC_VER_MAJOR__) "." CONSILIUM_STR(
        __CUDACC_VER_MINOR__) "; sm " CONSILIUM_CUDA_ARCH_LIST;
}

int runtimeVersion() {
    int v = 0;
    return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : 0;
}

int driverVersion() {
    int v = 0;
    return cudaDriverGetVersion(&v) == cudaSuccess ? v : 0;
}

int cublasVersion() {
    int major = 0, minor = 0, patch = 0;
    if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
        cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
        cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS) {
        return 0;
    }
    return major * 10000 + minor * 100 + patch;
}

int enumerate(ConsiliumGpuInfo* out, int max, char* err, size_t errLen) {
    // Without a driver cudaGetDeviceCount returns cudaErrorInsufficientDriver (35) and
    // leaves the count untouched: trust the return code, not the count.
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc == cudaErrorNoDevice) return 0;
    if (rc != cudaSuccess) {
        int driver = 0;
        const bool noDriver = cudaDriverGetVersion(&driver) == cudaSuccess && driver == 0;
        writeError(err, errLen, noDriver ? "no NVIDIA driver installed" : "cudaGetDeviceCount", rc);
        return -1;
    }
    for (int i = 0; i < count && i < max; ++i) {
        cudaDeviceProp prop{};
        rc = cudaGetDeviceProperties(&prop, i);
        if (rc != cudaSuccess) {
            writeError(err, errLen, "cudaGetDeviceProperties", rc);
            return -1;
        }
        ConsiliumGpuInfo& g = out[i];
        std::memset(&g, 0, sizeof g);
        std::snprintf(g.name, sizeof g.name, "%s", prop.name);
        g.compute_major = prop.major;
        g.compute_minor = prop.minor;
        g.multiprocessors = prop.multiProcessorCount;
        g.total_bytes = prop.totalGlobalMem;
        size_t freeBytes = 0, totalBytes = 0;
        if (cudaSetDevice(i) == cudaSuccess &&
            cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess) {
            g.free_bytes = freeBytes;
        }
    }
    return count;
}

const ConsiliumCudaPlugin kPlugin = {
    CONSILIUM_CUDA_PLUGIN_ABI, buildInfo, runtimeVersion, driverVersion, cublasVersion, enumerate,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ConsiliumCudaPlugin*
consilium_cuda_plugin() {
    return &kPlugin;
}
