// Entry point of the CUDA backend plugin: device probing, contexts (one cuBLAS handle each),
// device memory with accounting, streams with their own scratch, and the ops of
// plugin_api.h. Kernels live in their own files beside this one (one op per .cu file, each
// with a launcher taking a cudaStream_t, see launchers.cuh).
//
// This file is the boundary: it validates every argument, turns cudaError_t and
// cublasStatus_t into CONSILIUM_CUDA_* codes with a message kept in the context, and lets
// no exception, abort or exit through.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/launchers.cuh"
#include "kernels/cuda/plugin_api.h"

#define CONSILIUM_STR2(x) #x
#define CONSILIUM_STR(x) CONSILIUM_STR2(x)

using consilium::cuda::Matrix;
namespace cu = consilium::cuda;

struct ConsiliumCudaStream {
    cudaStream_t stream = nullptr;
    void* scratch = nullptr;  // device, scratchBytes
    size_t scratchBytes = 0;
};

namespace {

struct CublasDeleter {
    void operator()(cublasContext* h) const { cublasDestroy(h); }
};
using CublasHandle = std::unique_ptr<std::remove_pointer_t<cublasHandle_t>, CublasDeleter>;

}  // namespace

struct ConsiliumCudaContext {
    int device = 0;
    CublasHandle blas;
    std::vector<std::unique_ptr<ConsiliumCudaStream>> streams;  // [0] is the default stream
    std::unordered_map<void*, size_t> allocations;
    uint64_t allocated = 0, peak = 0;
    std::string lastError;
};

namespace {

// ---- Errors ---------------------------------------------------------------------------

void writeError(char* err, size_t len, const char* what, cudaError_t code) {
    if (err && len) {
        std::snprintf(err, len, "%s (%s: %s, %d)", what, cudaGetErrorName(code),
                      cudaGetErrorString(code), static_cast<int>(code));
    }
}

int fail(ConsiliumCudaContext* ctx, int code, const std::string& message) {
    ctx->lastError = message;
    return code;
}

int cudaCode(cudaError_t e) {
    switch (e) {
        case cudaSuccess:
            return CONSILIUM_CUDA_OK;
        case cudaErrorMemoryAllocation:
            return CONSILIUM_CUDA_ERR_OUT_OF_MEMORY;
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
        case cudaErrorInvalidDevice:
            return CONSILIUM_CUDA_ERR_NO_DEVICE;
        case cudaErrorInvalidValue:
            return CONSILIUM_CUDA_ERR_INVALID_ARGUMENT;
        default:
            return CONSILIUM_CUDA_ERR_CUDA;
    }
}

int check(ConsiliumCudaContext* ctx, const char* what, cudaError_t e) {
    if (e == cudaSuccess) return CONSILIUM_CUDA_OK;
    cudaGetLastError();  // clear a non-sticky error so the next call starts clean
    return fail(
        ctx, cudaCode(e),
        std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

int checkBlas(ConsiliumCudaContext* ctx, const char* what, cublasStatus_t s) {
    if (s == CUBLAS_STATUS_SUCCESS) return CONSILIUM_CUDA_OK;
    const int code = s == CUBLAS_STATUS_ALLOC_FAILED ? CONSILIUM_CUDA_ERR_OUT_OF_MEMORY
                     : s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_ARCH_MISMATCH
                         ? CONSILIUM_CUDA_ERR_UNSUPPORTED
                         : CONSILIUM_CUDA_ERR_CUBLAS;
    return fail(
        ctx, code,
        std::string(what) + ": " + cublasGetStatusName(s) + " (" + cublasGetStatusString(s) + ")");
}

int invalid(ConsiliumCudaContext* ctx, const char* op, const std::string& why) {
    return fail(ctx, CONSILIUM_CUDA_ERR_INVALID_ARGUMENT, std::string(op) + ": " + why);
}

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
    return buf;
}

// Runs `body` for an op: checks the context, selects its device, resolves the stream, and
// keeps exceptions (host allocation in the bookkeeping) from crossing the C boundary.
template <typename F>
int guarded(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const char* op, F&& body) {
    if (!ctx) return CONSILIUM_CUDA_ERR_INVALID_ARGUMENT;
    ctx->lastError.clear();
    try {
        ConsiliumCudaStream* s = stream ? stream : ctx->streams.front().get();
        if (stream) {
            bool mine = false;
            for (const auto& own : ctx->streams)
                mine = mine || own.get() == stream;
            if (!mine) return invalid(ctx, op, "stream does not belong to this context");
        }
        if (int rc = check(ctx, "cudaSetDevice", cudaSetDevice(ctx->device))) return rc;
        return body(*s);
    } catch (const std::bad_alloc&) {
        return fail(ctx, CONSILIUM_CUDA_ERR_OUT_OF_MEMORY,
                    std::string(op) + ": out of host memory");
    } catch (...) {
        return fail(ctx, CONSILIUM_CUDA_ERR_CUDA, std::string(op) + ": unexpected exception");
    }
}

// ---- Probe ----------------------------------------------------------------------------

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

// ---- Context, memory, streams ----------------------------------------------------------

void destroyStream(ConsiliumCudaContext* ctx, ConsiliumCudaStream* s) {
    cudaStreamSynchronize(s->stream);
    if (s->scratch) {
        cudaFree(s->scratch);
        ctx->allocated -= s->scratchBytes;
    }
    cudaStreamDestroy(s->stream);
}

int makeStream(ConsiliumCudaContext* ctx, ConsiliumCudaStream** out) {
    auto s = std::make_unique<ConsiliumCudaStream>();
    if (int rc = check(ctx, "cudaStreamCreateWithFlags",
                       cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking))) {
        return rc;
    }
    *out = s.get();
    ctx->streams.push_back(std::move(s));
    return CONSILIUM_CUDA_OK;
}

int contextCreate(int device, ConsiliumCudaContext** out, char* err, size_t errLen) {
    if (!out) return CONSILIUM_CUDA_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess || device < 0 || device >= count) {
        if (rc == cudaSuccess) rc = cudaErrorInvalidDevice;
        writeError(err, errLen, "no such CUDA device", rc);
        cudaGetLastError();
        return CONSILIUM_CUDA_ERR_NO_DEVICE;
    }
    std::unique_ptr<ConsiliumCudaContext> ctx;
    try {
        ctx = std::make_unique<ConsiliumCudaContext>();
        ctx->device = device;
        if (int code = check(ctx.get(), "cudaSetDevice", cudaSetDevice(device))) {
            if (err && errLen) std::snprintf(err, errLen, "%s", ctx->lastError.c_str());
            return code;
        }
        ConsiliumCudaStream* s = nullptr;
        if (int code = makeStream(ctx.get(), &s)) {
            if (err && errLen) std::snprintf(err, errLen, "%s", ctx->lastError.c_str());
            return code;
        }
        cublasHandle_t h = nullptr;
        const cublasStatus_t bs = cublasCreate(&h);
        if (bs != CUBLAS_STATUS_SUCCESS) {
            const int code = checkBlas(ctx.get(), "cublasCreate", bs);
            if (err && errLen) std::snprintf(err, errLen, "%s", ctx->lastError.c_str());
            destroyStream(ctx.get(), s);
            return code;
        }
        ctx->blas.reset(h);
        // FP32 GEMMs stay FP32 (no TF32): they are the reference precision.
        cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
    } catch (const std::bad_alloc&) {
        if (err && errLen) std::snprintf(err, errLen, "out of host memory creating a context");
        return CONSILIUM_CUDA_ERR_OUT_OF_MEMORY;
    }
    *out = ctx.release();
    return CONSILIUM_CUDA_OK;
}

void contextDestroy(ConsiliumCudaContext* ctx) {
    if (!ctx) return;
    cudaSetDevice(ctx->device);
    for (auto& s : ctx->streams)
        destroyStream(ctx, s.get());
    for (auto& [ptr, bytes] : ctx->allocations)
        cudaFree(ptr);
    ctx->blas.reset();
    delete ctx;
}

const char* lastError(const ConsiliumCudaContext* ctx) {
    return ctx ? ctx->lastError.c_str() : "no context";
}

int memInfo(ConsiliumCudaContext* ctx, ConsiliumCudaMemInfo* out) {
    return guarded(ctx, nullptr, "mem_info", [&](ConsiliumCudaStream&) {
        if (!out) return invalid(ctx, "mem_info", "null output");
        size_t freeBytes = 0, total = 0;
        if (int rc = check(ctx, "cudaMemGetInfo", cudaMemGetInfo(&freeBytes, &total))) return rc;
        out->allocated = ctx->allocated;
        out->peak = ctx->peak;
        out->device_free = freeBytes;
        out->device_total = total;
        return CONSILIUM_CUDA_OK;
    });
}

// cudaMalloc with accounting and an out-of-memory message that says how much was asked.
int deviceMalloc(ConsiliumCudaContext* ctx, const char* what, size_t bytes, void** out) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t freeBytes = 0, total = 0;
        cudaMemGetInfo(&freeBytes, &total);
        if (e == cudaErrorMemoryAllocation) {
            return fail(ctx, CONSILIUM_CUDA_ERR_OUT_OF_MEMORY,
                        std::string(what) + ": out of device memory allocating " + mib(bytes) +
                            " (" + mib(freeBytes) + " free of " + mib(total) + ")");
        }
        return check(ctx, what, e);
    }
    ctx->allocated += bytes;
    ctx->peak = std::max(ctx->peak, ctx->allocated);
    *out = p;
    return CONSILIUM_CUDA_OK;
}

int alloc(ConsiliumCudaContext* ctx, uint64_t bytes, void** out) {
    return guarded(ctx, nullptr, "alloc", [&](ConsiliumCudaStream&) {
        if (!out) return invalid(ctx, "alloc", "null output");
        *out = nullptr;
        if (bytes == 0) return invalid(ctx, "alloc", "zero bytes");
        void* p = nullptr;
        if (int rc = deviceMalloc(ctx, "alloc", bytes, &p)) return rc;
        try {
            ctx->allocations.emplace(p, bytes);
        } catch (...) {
            cudaFree(p);
            ctx->allocated -= bytes;
            throw;
        }
        *out = p;
        return CONSILIUM_CUDA_OK;
    });
}

int freeMem(ConsiliumCudaContext* ctx, void* ptr) {
    return guarded(ctx, nullptr, "free", [&](ConsiliumCudaStream&) {
        if (!ptr) return CONSILIUM_CUDA_OK;
        auto it = ctx->allocations.find(ptr);
        if (it == ctx->allocations.end()) {
            return invalid(ctx, "free", "pointer not allocated by this context");
        }
        ctx->allocated -= it->second;
        ctx->allocations.erase(it);
        return check(ctx, "cudaFree", cudaFree(ptr));
    });
}

int copy(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, void* dst, const void* src,
         uint64_t bytes, int kind) {
    return guarded(ctx, stream, "copy", [&](ConsiliumCudaStream& s) {
        if (bytes == 0) return CONSILIUM_CUDA_OK;
        if (!dst || !src) return invalid(ctx, "copy", "null pointer");
        cudaMemcpyKind k;
        switch (kind) {
            case CONSILIUM_CUDA_HOST_TO_DEVICE:
                k = cudaMemcpyHostToDevice;
                break;
            case CONSILIUM_CUDA_DEVICE_TO_HOST:
                k = cudaMemcpyDeviceToHost;
                break;
            case CONSILIUM_CUDA_DEVICE_TO_DEVICE:
                k = cudaMemcpyDeviceToDevice;
                break;
            default:
                return invalid(ctx, "copy", "unknown direction " + std::to_string(kind));
        }
        if (int rc = check(ctx, "cudaMemcpyAsync", cudaMemcpyAsync(dst, src, bytes, k, s.stream)))
            return rc;
        if (k == cudaMemcpyDeviceToDevice) return CONSILIUM_CUDA_OK;
        return check(ctx, "cudaStreamSynchronize", cudaStreamSynchronize(s.stream));
    });
}

int memsetZero(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, void* dst, uint64_t bytes) {
    return guarded(ctx, stream, "memset_zero", [&](ConsiliumCudaStream& s) {
        if (bytes == 0) return CONSILIUM_CUDA_OK;
        if (!dst) return invalid(ctx, "memset_zero", "null pointer");
        return check(ctx, "cudaMemsetAsync", cudaMemsetAsync(dst, 0, bytes, s.stream));
    });
}

int streamCreate(ConsiliumCudaContext* ctx, ConsiliumCudaStream** out) {
    return guarded(ctx, nullptr, "stream_create", [&](ConsiliumCudaStream&) {
        if (!out) return invalid(ctx, "stream_create", "null output");
        *out = nullptr;
        return makeStream(ctx, out);
    });
}

int streamDestroy(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream) {
    if (!stream) return CONSILIUM_CUDA_OK;
    return guarded(ctx, stream, "stream_destroy", [&](ConsiliumCudaStream& s) {
        if (&s == ctx->streams.front().get()) {
            return invalid(ctx, "stream_destroy", "the default stream belongs to the context");
        }
        destroyStream(ctx, &s);
        ctx->streams.erase(std::find_if(ctx->streams.begin(), ctx->streams.end(),
                                        [&](const auto& p) { return p.get() == &s; }));
        return CONSILIUM_CUDA_OK;
    });
}

int streamSynchronize(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream) {
    return guarded(ctx, stream, "stream_synchronize", [&](ConsiliumCudaStream& s) {
        return check(ctx, "cudaStreamSynchronize", cudaStreamSynchronize(s.stream));
    });
}

int ensureScratch(ConsiliumCudaContext* ctx, ConsiliumCudaStream& s, size_t bytes) {
    if (bytes <= s.scratchBytes) return CONSILIUM_CUDA_OK;
    // The old buffer may still be read by queued work on this stream.
    if (int rc = check(ctx, "cudaStreamSynchronize", cudaStreamSynchronize(s.stream))) return rc;
    if (s.scratch) {
        cudaFree(s.scratch);
        ctx->allocated -= s.scratchBytes;
        s.scratch = nullptr;
        s.scratchBytes = 0;
    }
    if (int rc = deviceMalloc(ctx, "scratch", bytes, &s.scratch)) return rc;
    s.scratchBytes = bytes;
    return CONSILIUM_CUDA_OK;
}

int reserveScratch(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, uint64_t bytes) {
    return guarded(ctx, stream, "reserve_scratch",
                   [&](ConsiliumCudaStream& s) { return ensureScratch(ctx, s, bytes); });
}

uint64_t matmulScratchBytes(uint32_t dtype, int64_t cols, int64_t nTokens) {
    if (cols <= 0 || nTokens <= 0) return 0;
    if ((dtype == cu::kQ4_0 || dtype == cu::kQ8_0) && nTokens <= cu::kGemvMaxTokens) {
        return cu::gemvQuantScratchBytes(cols, nTokens);
    }
    return cu::cublasScratchBytes(dtype, cols, nTokens);
}

// ---- Validation -------------------------------------------------------------------------

constexpr int64_t kIntMax = 0x7fffffff;

bool knownType(uint32_t t) {
    return t == cu::kF32 || t == cu::kF16 || t == cu::kBF16 || t == cu::kQ4_0 || t == cu::kQ8_0;
}

size_t denseRowBytes(uint32_t t, int64_t cols) {
    switch (t) {
        case cu::kF32:
            return size_t(cols) * 4;
        case cu::kF16:
        case cu::kBF16:
            return size_t(cols) * 2;
        case cu::kQ4_0:
            return size_t(cols / cu::kQBlock) * cu::kQ4BlockBytes;
        case cu::kQ8_0:
            return size_t(cols / cu::kQBlock) * cu::kQ8BlockBytes;
        default:
            return 0;
    }
}

// Empty string when the matrix is usable, else why not.
std::string checkMatrix(const ConsiliumCudaMatrix* w) {
    if (!w || !w->data) return "null weight matrix";
    if (!knownType(w->dtype)) return "unknown dtype " + std::to_string(w->dtype);
    if (w->rows <= 0 || w->cols <= 0 || w->rows > kIntMax || w->cols > kIntMax) {
        return "bad shape " + std::to_string(w->rows) + " x " + std::to_string(w->cols);
    }
    const bool quant = w->dtype == cu::kQ4_0 || w->dtype == cu::kQ8_0;
    if (quant && w->cols % cu::kQBlock != 0) {
        return "quantised rows need a multiple of 32 columns, got " + std::to_string(w->cols);
    }
    if (w->row_bytes < denseRowBytes(w->dtype, w->cols)) return "row_bytes smaller than a row";
    const size_t align = w->dtype == cu::kF32 ? 4 : 2;
    if (reinterpret_cast<uintptr_t>(w->data) % align != 0 || w->row_bytes % align != 0) {
        return "weights not " + std::to_string(align) + "-byte aligned";
    }
    return {};
}

Matrix toMatrix(const ConsiliumCudaMatrix* w) {
    Matrix m;
    m.dtype = w->dtype;
    m.data = w->data;
    m.rows = w->rows;
    m.cols = w->cols;
    m.rowBytes = size_t(w->row_bytes);
    return m;
}

std::string checkKv(const ConsiliumCudaPagedKv* kv) {
    if (!kv || !kv->k || !kv->v || !kv->block_table) return "null paged KV cache";
    if (kv->page_tokens <= 0 || kv->n_kv_heads <= 0 || kv->n_pages <= 0 || kv->table_len <= 0)
        return "bad paged KV cache geometry";
    if (kv->head_dim <= 0 || kv->head_dim > cu::kAttnMaxHeadDim)
        return "head_dim must be 1.." + std::to_string(cu::kAttnMaxHeadDim);
    return {};
}

cu::PagedKv toKv(const ConsiliumCudaPagedKv* kv) {
    cu::PagedKv p;
    p.k = kv->k;
    p.v = kv->v;
    p.blockTable = kv->block_table;
    p.tableLen = kv->table_len;
    p.nPages = kv->n_pages;
    p.pageTokens = kv->page_tokens;
    p.nKvHeads = kv->n_kv_heads;
    p.headDim = kv->head_dim;
    return p;
}

// ---- Ops --------------------------------------------------------------------------------

int layerNormOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x,
                const float* w, const float* b, float* y, int64_t rows, int64_t n, float eps) {
    return guarded(ctx, stream, "layer_norm", [&](ConsiliumCudaStream& s) {
        if (!x || !y) return invalid(ctx, "layer_norm", "null x or y");
        if (rows < 0 || n <= 0 || rows > kIntMax) return invalid(ctx, "layer_norm", "bad shape");
        return check(ctx, "layer_norm", cu::launchLayerNorm(x, w, b, y, rows, n, eps, s.stream));
    });
}

int geluOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x, float* y,
           int64_t count) {
    return guarded(ctx, stream, "gelu", [&](ConsiliumCudaStream& s) {
        if (!x || !y || count < 0) return invalid(ctx, "gelu", "null pointer or negative count");
        return check(ctx, "gelu", cu::launchGelu(x, y, count, s.stream));
    });
}

int layerNormGeluOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x,
                    const float* residual, const float* w, const float* b, float* sumOut, float* y,
                    int64_t rows, int64_t n, float eps) {
    return guarded(ctx, stream, "layer_norm_gelu", [&](ConsiliumCudaStream& s) {
        if (!x || !y) return invalid(ctx, "layer_norm_gelu", "null x or y");
        if (rows < 0 || n <= 0 || rows > kIntMax)
            return invalid(ctx, "layer_norm_gelu", "bad shape");
        return check(ctx, "layer_norm_gelu",
                     cu::launchLayerNormGelu(x, residual, w, b, sumOut, y, rows, n, eps, s.stream));
    });
}

int matmulOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const ConsiliumCudaMatrix* w,
             const float* x, int64_t nTokens, int64_t xStride, float* y, int64_t yStride) {
    return guarded(ctx, stream, "matmul", [&](ConsiliumCudaStream& s) {
        const std::string why = checkMatrix(w);
        if (!why.empty()) return invalid(ctx, "matmul", why);
        if (!x || !y) return invalid(ctx, "matmul", "null x or y");
        if (nTokens < 0 || nTokens > kIntMax || xStride < w->cols || yStride < w->rows ||
            xStride > kIntMax || yStride > kIntMax) {
            return invalid(ctx, "matmul", "bad token count or strides");
        }
        if (nTokens == 0) return CONSILIUM_CUDA_OK;
        const Matrix m = toMatrix(w);
        if (w->dtype == cu::kQ4_0 || w->dtype == cu::kQ8_0) {
            if (nTokens > cu::kGemvMaxTokens) {
                return check(ctx, "matmul (GEMM)",
                             cu::launchGemmQuant(m, x, nTokens, xStride, y, yStride, s.stream));
            }
            if (int rc = ensureScratch(ctx, s, cu::gemvQuantScratchBytes(w->cols, nTokens)))
                return rc;
            return check(
                ctx, "matmul (GEMV)",
                cu::launchGemvQuant(m, x, nTokens, xStride, y, yStride, s.scratch, s.stream));
        }
        if (int rc = ensureScratch(ctx, s, cu::cublasScratchBytes(w->dtype, w->cols, nTokens)))
            return rc;
        if (int rc = checkBlas(ctx, "cublasSetStream", cublasSetStream(ctx->blas.get(), s.stream)))
            return rc;
        cudaError_t launchError = cudaSuccess;
        const cublasStatus_t bs = cu::gemmCublas(ctx->blas.get(), m, x, nTokens, xStride, y,
                                                 yStride, s.scratch, s.stream, &launchError);
        if (launchError != cudaSuccess) return check(ctx, "matmul (convert)", launchError);
        return checkBlas(ctx, "cublasGemmEx", bs);
    });
}

int convertOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* src, void* dst,
              uint32_t dstType, int64_t count) {
    return guarded(ctx, stream, "convert_f32", [&](ConsiliumCudaStream& s) {
        if (!src || !dst || count < 0) return invalid(ctx, "convert_f32", "null pointer or count");
        if (dstType != cu::kF16 && dstType != cu::kBF16) {
            return invalid(ctx, "convert_f32", "target must be F16 or BF16");
        }
        return check(ctx, "convert_f32", cu::launchConvertF32(src, dst, dstType, count, s.stream));
    });
}

std::string checkRope(const ConsiliumCudaRope* rope, int64_t headDim) {
    if (!rope) return {};
    if (rope->rot_dims < 0 || rope->rot_dims % 2 != 0 || rope->rot_dims > headDim)
        return "rot_dims must be even and <= head_dim";
    return {};
}

int ropeOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, float* x, int64_t n,
           int64_t rowStride, int64_t nHeads, int64_t headDim, const ConsiliumCudaRope* rope,
           int64_t pos0) {
    return guarded(ctx, stream, "rope", [&](ConsiliumCudaStream& s) {
        if (!x || !rope) return invalid(ctx, "rope", "null x or parameters");
        const std::string why = checkRope(rope, headDim);
        if (!why.empty()) return invalid(ctx, "rope", why);
        if (n < 0 || n > kIntMax || nHeads <= 0 || headDim <= 0 || rowStride < nHeads * headDim ||
            pos0 < 0) {
            return invalid(ctx, "rope", "bad shape");
        }
        return check(ctx, "rope",
                     cu::launchRope(x, n, rowStride, nHeads, headDim, rope->rot_dims, rope->base,
                                    rope->neox != 0, pos0, s.stream));
    });
}

int ropeKvAppendOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream,
                   const ConsiliumCudaPagedKv* kv, const ConsiliumCudaRope* rope, float* q,
                   int64_t nHeads, const float* k, const float* v, int64_t nNew, int64_t pos0) {
    return guarded(ctx, stream, "rope_kv_append", [&](ConsiliumCudaStream& s) {
        std::string why = checkKv(kv);
        if (why.empty()) why = checkRope(rope, kv->head_dim);
        if (!why.empty()) return invalid(ctx, "rope_kv_append", why);
        if (!k || !v) return invalid(ctx, "rope_kv_append", "null k or v");
        if (q && (nHeads <= 0 || nHeads % kv->n_kv_heads != 0))
            return invalid(ctx, "rope_kv_append", "n_heads must be a multiple of n_kv_heads");
        if (nNew < 0 || nNew > kIntMax || pos0 < 0 ||
            pos0 + nNew > int64_t(kv->table_len) * kv->page_tokens) {
            return invalid(ctx, "rope_kv_append", "positions beyond the block table");
        }
        cu::RopeParams rp;
        if (rope) {
            rp.rotDims = rope->rot_dims;
            rp.base = rope->base;
            rp.neox = rope->neox != 0;
        }
        return check(
            ctx, "rope_kv_append",
            cu::launchRopeKvAppend(toKv(kv), rp, q, int(nHeads), k, v, nNew, pos0, s.stream));
    });
}

int attentionOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream,
                const ConsiliumCudaPagedKv* kv, const ConsiliumCudaAttention* params,
                const float* q, int64_t nQ, int64_t qPos0, int64_t nKv, float* out) {
    return guarded(ctx, stream, "attention", [&](ConsiliumCudaStream& s) {
        const std::string why = checkKv(kv);
        if (!why.empty()) return invalid(ctx, "attention", why);
        if (!params || !q || !out) return invalid(ctx, "attention", "null pointer");
        if (params->n_heads <= 0 || params->n_kv_heads != kv->n_kv_heads ||
            params->n_heads % params->n_kv_heads != 0 || params->head_dim != kv->head_dim ||
            params->n_heads > 65535 || params->window < 0) {
            return invalid(ctx, "attention", "heads or head_dim do not match the cache");
        }
        if (nQ < 0 || qPos0 < 0 || nKv < 0 || nKv > int64_t(kv->table_len) * kv->page_tokens)
            return invalid(ctx, "attention", "bad query count or key count");
        cu::AttnParams p;
        p.nHeads = params->n_heads;
        p.nKvHeads = params->n_kv_heads;
        p.headDim = params->head_dim;
        p.scale = params->scale;
        p.causal = params->causal != 0;
        p.window = params->window;
        return check(ctx, "attention",
                     cu::launchAttention(toKv(kv), p, q, nQ, qPos0, nKv, out, s.stream));
    });
}

int moeRouteOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* logits,
               int64_t nTokens, int32_t nExperts, int32_t k, int32_t renormalise, int32_t* ids,
               float* weights) {
    return guarded(ctx, stream, "moe_route", [&](ConsiliumCudaStream& s) {
        if (!logits || !ids || !weights) return invalid(ctx, "moe_route", "null pointer");
        if (nExperts <= 0 || nExperts > cu::kMoeMaxExperts || k <= 0 || k > cu::kMoeMaxK ||
            k > nExperts || nTokens < 0 || nTokens > kIntMax) {
            return invalid(ctx, "moe_route", "need 1 <= k <= min(8, n_experts), n_experts <= 256");
        }
        return check(ctx, "moe_route",
                     cu::launchMoeRoute(logits, nTokens, nExperts, k, renormalise != 0, ids,
                                        weights, s.stream));
    });
}

int moeDispatchOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const int32_t* ids,
                  int64_t nTokens, int32_t k, int32_t nExperts, int32_t* offsets,
                  int32_t* tokenOrder, int32_t* slotRows) {
    return guarded(ctx, stream, "moe_dispatch", [&](ConsiliumCudaStream& s) {
        if (!ids || !offsets || !tokenOrder || !slotRows)
            return invalid(ctx, "moe_dispatch", "null pointer");
        if (nExperts <= 0 || nExperts > 4096 || k <= 0 || nTokens < 0 || nTokens * k > kIntMax) {
            return invalid(ctx, "moe_dispatch", "bad expert count, k or token count");
        }
        return check(ctx, "moe_dispatch",
                     cu::launchMoeDispatch(ids, nTokens, k, nExperts, offsets, tokenOrder, slotRows,
                                           s.stream));
    });
}

int moeGatherOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x,
                int64_t xStride, const int32_t* tokenOrder, int64_t nTokens, int32_t k,
                int64_t cols, float* xPerm) {
    return guarded(ctx, stream, "moe_gather", [&](ConsiliumCudaStream& s) {
        if (!x || !tokenOrder || !xPerm) return invalid(ctx, "moe_gather", "null pointer");
        if (k <= 0 || nTokens < 0 || nTokens * k > kIntMax || cols <= 0 || xStride < cols)
            return invalid(ctx, "moe_gather", "bad shape");
        return check(
            ctx, "moe_gather",
            cu::launchMoeGather(x, xStride, tokenOrder, nTokens, k, cols, xPerm, s.stream));
    });
}

int moeGroupedMatmulOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream,
                       const ConsiliumCudaMatrix* w, uint64_t expertStride, int32_t nExperts,
                       const int32_t* offsets, int64_t maxRows, const float* xPerm, float* yPerm) {
    return guarded(ctx, stream, "moe_grouped_matmul", [&](ConsiliumCudaStream& s) {
        const std::string why = checkMatrix(w);
        if (!why.empty()) return invalid(ctx, "moe_grouped_matmul", why);
        if (w->dtype != cu::kQ4_0 && w->dtype != cu::kQ8_0 && w->dtype != cu::kF16) {
            return fail(ctx, CONSILIUM_CUDA_ERR_UNSUPPORTED,
                        "moe_grouped_matmul: expert weights must be Q4_0, Q8_0 or F16");
        }
        if (w->cols % 32 != 0) return invalid(ctx, "moe_grouped_matmul", "cols % 32 != 0");
        if (!offsets || !xPerm || !yPerm) return invalid(ctx, "moe_grouped_matmul", "null pointer");
        if (nExperts <= 0 || nExperts > 65535 || maxRows < 0 || maxRows > kIntMax ||
            expertStride < uint64_t(w->rows) * w->row_bytes || expertStride % 2 != 0) {
            return invalid(ctx, "moe_grouped_matmul", "bad expert count, stride or row bound");
        }
        return check(ctx, "moe_grouped_matmul",
                     cu::launchGemmGrouped(toMatrix(w), size_t(expertStride), nExperts, offsets,
                                           maxRows, xPerm, yPerm, s.stream));
    });
}

int moeCombineOp(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* yPerm,
                 const int32_t* slotRows, const float* weights, int64_t nTokens, int32_t k,
                 int64_t rows, float* y, int64_t yStride) {
    return guarded(ctx, stream, "moe_combine", [&](ConsiliumCudaStream& s) {
        if (!yPerm || !slotRows || !weights || !y)
            return invalid(ctx, "moe_combine", "null pointer");
        if (k <= 0 || nTokens < 0 || nTokens > kIntMax || rows <= 0 || yStride < rows)
            return invalid(ctx, "moe_combine", "bad shape");
        return check(
            ctx, "moe_combine",
            cu::launchMoeCombine(yPerm, slotRows, weights, nTokens, k, rows, y, yStride, s.stream));
    });
}

const ConsiliumCudaPlugin kPlugin = {
    CONSILIUM_CUDA_PLUGIN_ABI,
    buildInfo,
    runtimeVersion,
    driverVersion,
    cublasVersion,
    enumerate,
    contextCreate,
    contextDestroy,
    lastError,
    memInfo,
    alloc,
    freeMem,
    copy,
    memsetZero,
    streamCreate,
    streamDestroy,
    streamSynchronize,
    reserveScratch,
    matmulScratchBytes,
    layerNormOp,
    geluOp,
    layerNormGeluOp,
    matmulOp,
    convertOp,
    ropeOp,
    ropeKvAppendOp,
    attentionOp,
    moeRouteOp,
    moeDispatchOp,
    moeGatherOp,
    moeGroupedMatmulOp,
    moeCombineOp,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ConsiliumCudaPlugin*
consilium_cuda_plugin() {
    return &kPlugin;
}
