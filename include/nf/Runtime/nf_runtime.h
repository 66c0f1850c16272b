/*===- nf_runtime.h - Runtime of compiled nf models --------------*- C -*-===*\
|*                                                                            *|
|* Linked into every library nf-compile writes. The generated glue describes  *|
|* each model (nfrt_model) and wraps each kernel in an nfrt_kernel; the       *|
|* runtime validates arguments, splits the batch into row blocks over         *|
|* threads, draws sampling noise and calls the kernels. Kernel temporaries    *|
|* come from a per-thread arena that recycles freed buffers; running out of   *|
|* memory returns NF_ERROR_OUT_OF_MEMORY, and no C++ exception leaves it.     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef NF_RUNTIME_NF_RUNTIME_H
#define NF_RUNTIME_NF_RUNTIME_H

#ifdef NF_GLUE_NO_LIBC
/* nf-compile compiles the glue in-process with no system headers. */
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
#else
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes of the C ABI. */
enum {
  NF_OK = 0,
  NF_ERROR_INVALID_ARGUMENT = 1, /* n < 0, k < 1 */
  NF_ERROR_NULL_POINTER = 2,     /* NULL where data is needed */
  NF_ERROR_OUT_OF_MEMORY = 3,
  NF_ERROR_NO_DEVICE = 4,       /* no CUDA driver (libcuda.so.1) or no GPU */
  NF_ERROR_DEVICE = 5,          /* a CUDA driver call failed; see the message */
  NF_ERROR_UNSUPPORTED = 6,     /* the model needs what the target lacks */
  NF_ERROR_UNSUPPORTED_CPU = 7, /* compiled for CPU features this CPU lacks */
};

/* Ranked memref descriptors of MLIR's C interface. */
typedef struct nfrt_memref2 {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} nfrt_memref2;
typedef struct nfrt_memref1 {
  void *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} nfrt_memref1;

/* A kernel on a block of rows: input rows, context rows (unused by
 * unconditional models), a 2-D output and a per-row output (each unused by
 * some entries). */
typedef void (*nfrt_kernel)(nfrt_memref2 *in, nfrt_memref2 *ctx,
                            nfrt_memref2 *noise, nfrt_memref2 *out2,
                            nfrt_memref1 *out1);

/* What the runtime feeds a kernel as its input. */
enum nfrt_input {
  NFRT_INPUT_DATA = 0,   /* the caller's rows of `dim` values */
  NFRT_INPUT_LATENT = 1, /* the caller's rows of `latent_dim` values */
  NFRT_INPUT_NOISE = 2,  /* noise rows of `latent_dim` values it draws */
};

/* The noise a model's base distribution is sampled from. */
enum nfrt_noise { NFRT_NOISE_NORMAL = 0, NFRT_NOISE_UNIFORM = 1 };

typedef struct nfrt_model {
  int64_t dim, latent_dim, context_dim;
  int32_t element_size; /* 4 (float) or 8 (double) */
  int32_t noise;        /* enum nfrt_noise */
  /* Uniform layer-noise values per row that the normalizing (data input)
   * and generative (latent or noise input) kernels draw; 0 if none. */
  int64_t forward_noise, inverse_noise;
  /* The CPU features the kernels were compiled for, comma-separated LLVM
   * names (CPUFeatures.h); NULL or "" for none. */
  const char *cpu_features;
} nfrt_model;

/* NF_OK if this CPU has every feature of model->cpu_features, else
 * NF_ERROR_UNSUPPORTED_CPU with the missing ones in the last error message.
 * Checked once per feature list; the CPU entry points call it first. */
int nfrt_check_cpu(const nfrt_model *model);

/* Runs `kernel` on n rows. `input` says what feeds it; `in` is read when it
 * is data or latent. `out2_cols` is the width of `out2` (0 when the entry has
 * no 2-D output), `has_out1` whether it writes `out1`. Rows are split into
 * blocks over NF_NUM_THREADS threads (default: all cores); noise row i is a
 * function of (seed, i) only, whatever n or the split. */
int nfrt_run(const nfrt_model *model, nfrt_kernel kernel, int input,
             const void *in, int64_t n, uint64_t seed, const void *ctx,
             void *out2, int64_t out2_cols, void *out1, int has_out1);

/* nfrt_run on rows first_row .. first_row + n - 1 of a larger batch: the
 * noise of row i is that of global row first_row + i, so any split of a
 * batch into ranges gives the rows of one call over the whole batch. 1 if
 * first_row < 0 or first_row + n overflows. */
int nfrt_run_rows(const nfrt_model *model, nfrt_kernel kernel, int input,
                  const void *in, int64_t first_row, int64_t n, uint64_t seed,
                  const void *ctx, void *out2, int64_t out2_cols, void *out1,
                  int has_out1);

/* The importance-weighted log-likelihood estimate of n rows: runs the
 * log_prob `kernel` (a stochastic lower bound per pass) over k paths, path j
 * drawing its layer noise from a seed derived from (seed, j), and writes
 * log((1/k) sum_j exp(bound_j)) per row. k = 1 gives an ELBO sample. Returns
 * nfrt_run's error codes (1 also for k < 1). */
int nfrt_iwae(const nfrt_model *model, nfrt_kernel kernel, const void *x,
              int64_t n, int64_t k, uint64_t seed, const void *ctx, void *out);

/* nfrt_iwae on rows first_row .. first_row + n - 1 of a larger batch. */
int nfrt_iwae_rows(const nfrt_model *model, nfrt_kernel kernel, const void *x,
                   int64_t first_row, int64_t n, int64_t k, uint64_t seed,
                   const void *ctx, void *out);

/* Bytes the calling thread's scratch arena holds between calls: one block
 * as large as the last calls' peak, at most 64 MiB (for tests and memory
 * accounting). */
int64_t nfrt_scratch_bytes(void);

/* Philox4x32-10: one block of four 32-bit outputs. */
void nfrt_philox4x32_10(const uint32_t counter[4], const uint32_t key[2],
                        uint32_t out[4]);

/* Fills rows [row_begin, row_end) of `cols` uniform [0, 1) layer-noise
 * values, element (i, j) keyed by (seed, i, j) in a stream disjoint from the
 * base noise's. Kernels get it as their `noise` argument. */
void nfrt_fill_layer_noise_f32(uint64_t seed, int64_t row_begin,
                               int64_t row_end, int64_t cols, float *out);
void nfrt_fill_layer_noise_f64(uint64_t seed, int64_t row_begin,
                               int64_t row_end, int64_t cols, double *out);

/* Fills rows [row_begin, row_end) of `cols` noise values (standard normal
 * or uniform on [0, 1)), element (i, j) keyed by (seed, i, j). */
void nfrt_fill_noise_f32(int noise, uint64_t seed, int64_t row_begin,
                         int64_t row_end, int64_t cols, float *out);
void nfrt_fill_noise_f64(int noise, uint64_t seed, int64_t row_begin,
                         int64_t row_end, int64_t cols, double *out);

/*===-- CUDA target ------------------------------------------------------===*/

/* The PTX of a library's device code (every model's kernel bodies). The
 * runtime loads it once per CUDA context. */
typedef struct nfrt_cuda_module {
  const char *ptx;
} nfrt_cuda_module;

/* Runs a kernel on n rows of device arrays on the GPU, one row per thread,
 * on `stream` (a CUstream; NULL: the default stream), and returns without
 * waiting for it. The rows are rows first_row .. first_row + n - 1 of a
 * global batch: their noise is keyed by the global row (0 for a plain
 * call), as on the CPU. `body` names the direction's body in the PTX (the
 * normalize body for data input: outputs mapped, log_det, log_prob; the
 * generate body otherwise: mapped, log_prob); NULL outputs get device
 * scratch. Noise input: the base noise of (seed, row) is drawn on the
 * device and turned into latents by `base_from_noise` first. Layer noise,
 * if the direction draws any, is drawn on the device from `seed`: the
 * runtime's streams, so results match the CPU's. Returns
 * NF_ERROR_NO_DEVICE without a driver or device, NF_ERROR_DEVICE when a
 * driver call fails (its CUDA error name in nfrt_last_error_message). */
int nfrt_cuda_run(const nfrt_model *model, const nfrt_cuda_module *module,
                  const char *body, const char *base_from_noise, int input,
                  const void *in, int64_t first_row, int64_t n, uint64_t seed,
                  const void *ctx, void *mapped, void *log_det, void *log_prob,
                  void *stream);

/* The importance-weighted estimate over k paths of device rows x on the
 * GPU: path j runs the normalize body `body` with the layer noise of the
 * path seed abi::getIwaePathSeed(seed, j, k), as nfrt_iwae does on the
 * CPU, and `out` gets log((1/k) sum_j exp(log_prob_j)) per row. */
int nfrt_cuda_iwae(const nfrt_model *model, const nfrt_cuda_module *module,
                   const char *body, const void *x, int64_t first_row,
                   int64_t n, int64_t k, uint64_t seed, const void *ctx,
                   void *out, void *stream);

/* Records `message` as the calling thread's last error and returns `code`. */
int nfrt_fail(int code, const char *message);

/* The calling thread's last error message ("" if none). */
const char *nfrt_last_error_message(void);

/* Device memory on the current device's primary context, for callers
 * without a CUDA runtime of their own. Copies are synchronous; `kind` is 0
 * for host to device, 1 for device to host. */
int nfrt_cuda_malloc(void **ptr, int64_t bytes);
int nfrt_cuda_free(void *ptr);
int nfrt_cuda_memcpy(void *dst, const void *src, int64_t bytes, int kind);

#ifdef __cplusplus
}
#endif

#endif /* NF_RUNTIME_NF_RUNTIME_H */
