/* C ABI between the engine and the CUDA backend plugin (libconsilium_cuda.so).
 *
 * The plugin is a MODULE library loaded with dlopen() by inference/device.cpp, so the
 * programs start on machines with no NVIDIA driver and no CUDA libraries: only the plugin
 * links cudart (statically) and cuBLAS, and it never links libcuda directly (cudart loads
 * the driver itself and reports its absence as an error code).
 *
 * Plain C types only: no CUDA headers here, so inference/ can include this file.
 *
 * Errors: every function that can fail returns a CONSILIUM_CUDA_* status (0 = success);
 * the message of the last failure of a context is read with last_error(ctx). Out of device
 * memory is CONSILIUM_CUDA_ERR_OUT_OF_MEMORY, never an abort. No function of the plugin
 * exits, aborts or throws across this boundary.
 *
 * Objects: a context (one GPU, one cuBLAS handle, memory accounting, a default stream) and
 * streams created in it. A stream owns its scratch buffer (activations converted for a
 * GEMM); ops on different streams therefore never share scratch. Passing a null stream
 * means the context's default stream.
 *
 * Pointers: every tensor argument of an op is a DEVICE pointer obtained from alloc() (or an
 * offset into one); ops are asynchronous on their stream; copy() to or from host memory
 * returns once the copy is complete (host memory needs no pinning).
 *
 * Thread safety: enumerate() and the version queries may be called from any one thread at a
 * time. A context and its streams belong to one thread at a time (the inference worker).
 * The table itself is immutable. */
#ifndef CONSILIUM_KERNELS_CUDA_PLUGIN_API_H
#define CONSILIUM_KERNELS_CUDA_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: backend surface (contexts, memory, streams, ops). 1: probe only. */
#define CONSILIUM_CUDA_PLUGIN_ABI 2
#define CONSILIUM_CUDA_PLUGIN_ENTRY "consilium_cuda_plugin"

/* Status codes returned by the functions below. */
#define CONSILIUM_CUDA_OK 0
#define CONSILIUM_CUDA_ERR_INVALID_ARGUMENT 1 /* shape, type, null pointer, alignment */
#define CONSILIUM_CUDA_ERR_OUT_OF_MEMORY 2    /* device allocation failed */
#define CONSILIUM_CUDA_ERR_NO_DEVICE 3        /* no driver, no GPU, bad device index */
#define CONSILIUM_CUDA_ERR_UNSUPPORTED 4      /* valid request this plugin does not implement */
#define CONSILIUM_CUDA_ERR_CUDA 5             /* any other CUDA runtime error (launch, sync) */
#define CONSILIUM_CUDA_ERR_CUBLAS 6           /* a cuBLAS call failed */

/* Element types: the numeric ids of kernels::DType (GGUF/ggml type ids) and their block
 * layouts (kernels/cpu/dtype.h): Q4_0 blocks are 18 bytes, Q8_0 blocks 34 bytes. */
#define CONSILIUM_CUDA_F32 0
#define CONSILIUM_CUDA_F16 1
#define CONSILIUM_CUDA_Q4_0 2
#define CONSILIUM_CUDA_Q8_0 8
#define CONSILIUM_CUDA_BF16 30

/* Directions for copy(). */
#define CONSILIUM_CUDA_HOST_TO_DEVICE 1
#define CONSILIUM_CUDA_DEVICE_TO_HOST 2
#define CONSILIUM_CUDA_DEVICE_TO_DEVICE 3

typedef struct ConsiliumGpuInfo {
    char name[256];
    int compute_major;
    int compute_minor;
    int multiprocessors;
    uint64_t total_bytes;
    uint64_t free_bytes;
} ConsiliumGpuInfo;

typedef struct ConsiliumCudaContext ConsiliumCudaContext; /* opaque */
typedef struct ConsiliumCudaStream ConsiliumCudaStream;   /* opaque */

/* Device memory of a context, in bytes. allocated/peak count alloc() and stream scratch. */
typedef struct ConsiliumCudaMemInfo {
    uint64_t allocated;
    uint64_t peak;
    uint64_t device_free;
    uint64_t device_total;
} ConsiliumCudaMemInfo;

/* A weight matrix W [rows, cols] row-major in its dtype's layout, on the device: one GGUF
 * 2-D tensor with ne = {cols, rows}. cols is a multiple of 32 for Q4_0/Q8_0. */
typedef struct ConsiliumCudaMatrix {
    uint32_t dtype;     /* CONSILIUM_CUDA_F32 ... */
    const void* data;   /* device, rows * row_bytes bytes, 2-byte aligned (4 for F32) */
    int64_t rows;       /* output features */
    int64_t cols;       /* input features */
    uint64_t row_bytes; /* bytes between rows; >= the dense row size */
} ConsiliumCudaMatrix;

/* Paged KV cache of one sequence (float).
 *   k, v: [n_pages][n_kv_heads][page_tokens][head_dim] floats each: a page holds
 *         page_tokens consecutive positions; inside a page each KV head's rows are
 *         contiguous (head_dim floats per position).
 *   block_table: device int32 [table_len]: logical page i (positions i*page_tokens ..
 *         (i+1)*page_tokens-1) lives in physical page block_table[i] (< n_pages).
 * Position p is at k[((block_table[p / page_tokens] * n_kv_heads + h) * page_tokens +
 * p % page_tokens) * head_dim + d]. Pages are owned by the caller (a cache allocator). */
typedef struct ConsiliumCudaPagedKv {
    float* k;
    float* v;
    const int32_t* block_table;
    int32_t table_len;
    int32_t n_pages;
    int32_t page_tokens;
    int32_t n_kv_heads;
    int32_t head_dim; /* <= 256 */
} ConsiliumCudaPagedKv;

/* Rotary embedding as kernels::rope (kernels/cpu/ops.h). rot_dims == 0: no rotation. */
typedef struct ConsiliumCudaRope {
    int32_t rot_dims; /* even, <= head_dim */
    float base;       /* e.g. 10000 */
    int32_t neox;     /* 0: pairs (2i, 2i+1) (GGML_ROPE_TYPE_NORM); 1: (i, i + rot_dims/2) */
} ConsiliumCudaRope;

/* Attention parameters as kernels::AttentionParams (kernels/cpu/attention.h). */
typedef struct ConsiliumCudaAttention {
    int32_t n_heads;
    int32_t n_kv_heads; /* divides n_heads (grouped-query attention) */
    int32_t head_dim;
    float scale; /* usually 1/sqrt(head_dim) */
    int32_t causal;
    int32_t window; /* 0 = unlimited; > 0: sliding window (keys j > pos - window) */
} ConsiliumCudaAttention;

typedef struct ConsiliumCudaPlugin {
    uint32_t abi_version; /* CONSILIUM_CUDA_PLUGIN_ABI */

    /* ---- Probe (ABI 1) ---------------------------------------------------------------- */
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

    /* ---- Context, memory, streams ------------------------------------------------------- */
    /* Creates a context on GPU `device` (its cuBLAS handle and default stream). On failure
     * *out is null and `err` says why (NO_DEVICE, OUT_OF_MEMORY, CUBLAS). */
    int (*context_create)(int device, ConsiliumCudaContext** out, char* err, size_t err_len);
    /* Synchronises, frees every allocation still live and the context's streams. Null: no-op. */
    void (*context_destroy)(ConsiliumCudaContext* ctx);
    /* Message of the context's last failure ("" if none); valid until the next call. */
    const char* (*last_error)(const ConsiliumCudaContext* ctx);
    int (*mem_info)(ConsiliumCudaContext* ctx, ConsiliumCudaMemInfo* out);
    /* 256-byte aligned device memory; OUT_OF_MEMORY when the device has too little. */
    int (*alloc)(ConsiliumCudaContext* ctx, uint64_t bytes, void** out);
    /* Frees memory from alloc(); INVALID_ARGUMENT for a pointer alloc() did not return. */
    int (*free)(ConsiliumCudaContext* ctx, void* ptr);
    /* Copies `bytes` in direction `kind`, ordered on `stream`. Host<->device copies return
     * once complete; device-to-device copies are asynchronous. */
    int (*copy)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, void* dst, const void* src,
                uint64_t bytes, int kind);
    int (*memset_zero)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, void* dst,
                       uint64_t bytes);
    int (*stream_create)(ConsiliumCudaContext* ctx, ConsiliumCudaStream** out);
    int (*stream_destroy)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream);
    int (*stream_synchronize)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream);
    /* Grows the stream's scratch to at least `bytes` now, so later ops do not allocate.
     * matmul_scratch_bytes() says how much a matmul needs. */
    int (*reserve_scratch)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, uint64_t bytes);
    uint64_t (*matmul_scratch_bytes)(uint32_t dtype, int64_t cols, int64_t n_tokens);

    /* ---- Ops (device pointers, asynchronous on `stream`) -------------------------------- */
    /* y = LayerNorm(x) * w + b per row of n floats; w, b may be null. y may alias x. */
    int (*layer_norm)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x,
                      const float* w, const float* b, float* y, int64_t rows, int64_t n, float eps);
    /* y = GeLU(x), tanh form (kernels::gelu); y may alias x. */
    int (*gelu)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x, float* y,
                int64_t count);
    /* Fused: h = x + residual (residual may be null); sum_out = h when not null (the
     * residual stream); y = GeLU(LayerNorm(h) * w + b). One read of x and residual, one
     * write of y (and h). */
    int (*layer_norm_gelu)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x,
                           const float* residual, const float* w, const float* b, float* sum_out,
                           float* y, int64_t rows, int64_t n, float eps);
    /* y[t * y_stride + r] = sum_c W[r, c] x[t * x_stride + c] (kernels::matmul).
     *   Q4_0/Q8_0: n_tokens <= 8: GEMV on activations quantised to Q8 blocks as the CPU
     *   (integer dot products, dp4a); larger: tiled GEMM, tiles dequantised to FP16 in
     *   shared memory, tensor cores (WMMA), FP32 accumulation.
     *   F16/BF16: cuBLAS GEMM, x converted to the weight type, FP32 accumulation.
     *   F32: cuBLAS FP32 GEMM (reference precision). */
    int (*matmul)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream,
                  const ConsiliumCudaMatrix* w, const float* x, int64_t n_tokens, int64_t x_stride,
                  float* y, int64_t y_stride);
    /* dst (F16 or BF16, round to nearest even) = src (F32), count elements. Used to load
     * weights at a smaller precision. */
    int (*convert_f32)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* src,
                       void* dst, uint32_t dst_dtype, int64_t count);
    /* Rotary embedding in place (kernels::rope) of n rows, row r at x + r * row_stride,
     * holding n_heads heads of head_dim; row r sits at position pos0 + r. */
    int (*rope)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, float* x, int64_t n,
                int64_t row_stride, int64_t n_heads, int64_t head_dim,
                const ConsiliumCudaRope* rope, int64_t pos0);
    /* Fused RoPE + cache append for n_new tokens at positions pos0..: rotates q in place
     * ([n_new, n_heads * head_dim]), rotates k and writes it and v ([n_new, n_kv_heads *
     * head_dim]) into the paged cache. rope may be null (cross-attention keys). */
    int (*rope_kv_append)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream,
                          const ConsiliumCudaPagedKv* kv, const ConsiliumCudaRope* rope, float* q,
                          int64_t n_heads, const float* k, const float* v, int64_t n_new,
                          int64_t pos0);
    /* out [n_q, n_heads * head_dim] = attention of q (query i at position q_pos0 + i) over
     * cache positions 0..n_kv-1 (kernels::attention semantics: causal, sliding window,
     * or all keys for cross-attention; zeros for a query that sees no key). */
    int (*attention)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream,
                     const ConsiliumCudaPagedKv* kv, const ConsiliumCudaAttention* params,
                     const float* q, int64_t n_q, int64_t q_pos0, int64_t n_kv, float* out);
    /* Router (kernels::moeRoute) in one kernel: softmax of logits [n_tokens, n_experts],
     * top-k (ties: lower id), optional renormalisation. ids, weights: [n_tokens, k],
     * largest first. n_experts <= 256, k <= 8. */
    int (*moe_route)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* logits,
                     int64_t n_tokens, int32_t n_experts, int32_t k, int32_t renormalise,
                     int32_t* ids, float* weights);
    /* Groups routes by expert (kernels::moeDispatch, same stable order): offsets
     * [n_experts + 1], token_order [n_tokens * k] (route index t * k + slot), and its
     * inverse slot_rows [n_tokens * k] (route index -> permuted row). */
    int (*moe_dispatch)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const int32_t* ids,
                        int64_t n_tokens, int32_t k, int32_t n_experts, int32_t* offsets,
                        int32_t* token_order, int32_t* slot_rows);
    /* x_perm [n_tokens * k, cols] row p = x row token_order[p] / k. */
    int (*moe_gather)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* x,
                      int64_t x_stride, const int32_t* token_order, int64_t n_tokens, int32_t k,
                      int64_t cols, float* x_perm);
    /* Grouped expert GEMM in one launch: for each expert e, rows offsets[e]..offsets[e+1]
     * of x_perm [*, w->cols] times expert e's matrix (w->data + e * expert_stride bytes,
     * same shape and dtype as *w) into y_perm [*, w->rows]. max_rows_per_expert bounds
     * offsets[e+1] - offsets[e] (n_tokens for top-k over distinct experts). Q4_0, Q8_0, F16. */
    int (*moe_grouped_matmul)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream,
                              const ConsiliumCudaMatrix* w, uint64_t expert_stride,
                              int32_t n_experts, const int32_t* offsets,
                              int64_t max_rows_per_expert, const float* x_perm, float* y_perm);
    /* Un-permute and weighted sum: y[t * y_stride + r] = sum_slot weights[t * k + slot] *
     * y_perm[slot_rows[t * k + slot] * rows + r], slots in order. */
    int (*moe_combine)(ConsiliumCudaContext* ctx, ConsiliumCudaStream* stream, const float* y_perm,
                       const int32_t* slot_rows, const float* weights, int64_t n_tokens, int32_t k,
                       int64_t rows, float* y, int64_t y_stride);
} ConsiliumCudaPlugin;

typedef const ConsiliumCudaPlugin* (*ConsiliumCudaPluginEntry)(void);

#ifdef __cplusplus
}
#endif

#endif
