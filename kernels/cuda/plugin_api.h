/* C ABI between the engine and the CUDA backend plugin (libconsilium_cuda.so).
 *
 * The plugin is a MODULE library loaded with dlopen() by inference/cuda_plugin.cpp, so the
 * programs start on machines with no NVIDIA driver and no CUDA libraries: only the plugin
 * links cudart (statically) and cuBLAS, and it never links libcuda directly (cudart loads
 * the driver itself and reports its absence as an error code).
 *
 * Plain C types only: no CUDA headers here, so inference/ can include this file.
 * Every function reports failure through its return value and an error buffer; none
 * aborts the process. Thread safety: enumerate() may be called from any one thread at a
 * time; the table itself is immutable. */
#ifndef CONSILIUM_KERNELS_CUDA_PLUGIN_API_H
#define CONSILIUM_KERNELS_CUDA_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONSILIUM_CUDA_PLUGIN_ABI 1
#define CONSILIUM_CUDA_PLUGIN_ENTRY "consilium_cuda_plugin"

typedef struct ConsiliumGpuInfo {
    char name[256];
    int compute_major;
    int compute_minor;
    int multiprocessors;
    uint64_t total_bytes;
    uint64_t free_bytes;
} ConsiliumGpuInfo;

typedef struct ConsiliumCudaPlugin {
    uint32_t abi_version; /* CONSILIUM_CUDA_PLUGIN_ABI */
    /* Toolkit the plugin was built with and its GPU architectures, e.g. "CUDA 13.0; sm 75 80". */
    const char* (*build_info)(void);
    /* cudaRuntimeGetVersion (e.g. 13000); 0 on failure. */
    int (*runtime_version)(void);
    /* cudaDriverGetVersion; 0 when no driver is installed. */
    int (*driver_version)(void);
    /* cublasGetProperty major*10000+minor*100+patch; 0 on failure. */
    int (*cublas_version)(void);
    /* Fills up to `max` entries. Returns the number of GPUs (>= 0) or -1 with a message in
     * `err` (e.g. "no CUDA driver (cudaErrorInsufficientDriver, 35)"). */
    int (*enumerate)(ConsiliumGpuInfo* out, int max, char* err, size_t err_len);
} ConsiliumCudaPlugin;

typedef const ConsiliumCudaPlugin* (*ConsiliumCudaPluginEntry)(void);

#ifdef __cplusplus
}
#endif

#endif
