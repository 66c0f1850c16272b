//===- EntryPoints.h - The C ABI of compiled models -------------*- C++ -*-===//
//
// The only place the entry points of a compiled library are spelled out:
// the kernels nf-expand-model builds for every model (`kKernels`) and the C
// functions the library exports for it (`kEntries`), with their arguments in
// order. The header, glue and manifest emitters (lib/Target/CInterface.cpp)
// write the entries, nf-expand-model builds the kernels, the runtime checks
// its input kinds against `Input`, the model verifier checks generated names
// for collisions with `forEachGeneratedSymbol`, and the Python runtime reads
// the entries back from the library's manifest. Adding an entry is one row
// of `kEntries` (plus a kernel row or a runtime function if it needs one).
//
// Plain C++17 without LLVM, so that the runtime can include it.
//
//===----------------------------------------------------------------------===//

#ifndef NF_TARGET_ENTRYPOINTS_H
#define NF_TARGET_ENTRYPOINTS_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace mlir::nf::abi {

//===----------------------------------------------------------------------===//
// Kernels: nfk_<model>_<kernel>(input, [ctx], [layer noise], outputs...)
//===----------------------------------------------------------------------===//

/// What feeds a kernel: the caller's data rows (the normalizing map x -> z),
/// the caller's latent rows, or base-distribution noise the runtime draws
/// (both through the generative map z -> x). The values are the runtime's
/// NFRT_INPUT_* codes.
enum class Input : int32_t { Data = 0, Latent = 1, Noise = 2 };

/// A value a kernel writes for every row.
enum class Output {
  Mapped,  ///< z (data input) or x (latent or noise input): a row of values.
  LogDet,  ///< V, the per-row sum of the layers' log-likelihood terms.
  LogProb, ///< log p_Z(z) + V.
};

/// Whether a kernel output is a row of values (a 2-D memref) or one value
/// per row (1-D).
constexpr bool isRowOutput(Output output) { return output == Output::Mapped; }

/// A kernel of every model. Its arguments are flat row-major memrefs
/// (`memref<?xNxT>` / `memref<?xT>`) in destination-passing style: the input,
/// the context (conditional models), the layer noise (when the direction
/// draws any), then `outputs` in order.
struct Kernel {
  const char *name;
  Input input;
  Output outputs[3];
  int numOutputs;

  /// Whether the kernel computes V (to return it or a log-probability).
  constexpr bool withLogDet() const {
    for (int i = 0; i < numOutputs; ++i)
      if (outputs[i] != Output::Mapped)
        return true;
    return false;
  }
  /// Whether it runs the generative map (latent or noise input).
  constexpr bool isGenerative() const { return input != Input::Data; }
};

enum class KernelId { LogProb, Forward, Inverse, Sample, SampleWithLogProb };

inline constexpr Kernel kKernels[] = {
    {"log_prob", Input::Data, {Output::LogProb}, 1},
    {"forward", Input::Data, {Output::Mapped, Output::LogDet}, 2},
    {"inverse", Input::Latent, {Output::Mapped}, 1},
    {"sample", Input::Noise, {Output::Mapped}, 1},
    {"sample_with_log_prob",
     Input::Noise,
     {Output::Mapped, Output::LogProb},
     2},
};

/// The kernels are thin: each calls the body of its direction, which
/// computes every output of that direction (the kernel passes scratch rows
/// for those it does not return), so a model's code holds two bodies, not
/// five. The noise-input kernels first turn the noise into latent rows with
/// `kBaseFromNoise`. Internal symbols, `nfk_<model>_<name>`, like kernels.
inline constexpr Kernel kNormalizeBody = {
    "normalize",
    Input::Data,
    {Output::Mapped, Output::LogDet, Output::LogProb},
    3};
inline constexpr Kernel kGenerateBody = {
    "generate", Input::Latent, {Output::Mapped, Output::LogProb}, 2};
inline constexpr const char *kBaseFromNoise = "base_from_noise";

constexpr const Kernel &getBody(const Kernel &kernel) {
  return kernel.isGenerative() ? kGenerateBody : kNormalizeBody;
}

constexpr const Kernel &getKernel(KernelId id) {
  return kKernels[static_cast<int>(id)];
}

//===----------------------------------------------------------------------===//
// Entries: the exported C functions nf_<model>_<entry>(...)
//===----------------------------------------------------------------------===//

/// The width of a row array, or the model property a constant entry returns.
enum class Width { Dim, LatentDim, ContextDim, One };

/// The role of a C argument.
enum class Arg {
  InputRows,  ///< const T *: n rows the kernel reads (data or latents).
  Count,      ///< int64_t n: the number of rows.
  Paths,      ///< int64_t k: importance-sampling paths per row.
  Seed,       ///< uint64_t seed: keys every random draw.
  LayerSeed,  ///< uint64_t seed: keys the layers' noise only, so it matters
              ///< for models with surjective or stochastic layers alone.
  Context,    ///< const T *: n context rows (NULL for models without one).
  OutputRows, ///< T *: n rows the entry writes.
  Stream,     ///< void *: the CUDA stream device entries launch on (NULL:
              ///< the default stream).
  FirstRow,   ///< int64_t first_row: the global index of the first of the n
              ///< rows, keying their random draws (row-range entries).
};

/// One C argument: its role, its name in the header, and for row arrays
/// their width.
struct Param {
  Arg arg;
  const char *name;
  Width width = Width::One;
};

/// How an entry computes its result.
enum class Impl {
  /// Returns a model property (`Entry::value`), takes no arguments.
  Constant,
  /// Runs the kernel once over the rows.
  Run,
  /// The importance-weighted estimate log (1/k) sum_j exp(bound_j) of the
  /// kernel's per-row log-probability over k paths (the Paths argument, or
  /// one path without it: an ELBO sample).
  Estimate,
  /// The density: one run for exact models; for bound models the estimate
  /// with the model's iwae_paths and seed 0.
  Density,
  /// Runs the body of the kernel's direction on the GPU, one row per
  /// thread, on device arrays (the CUDA target).
  DeviceRun,
  /// Estimate, with the paths on the GPU (device arrays).
  DeviceEstimate,
  /// Density, on the GPU (device arrays).
  DeviceDensity,
};

/// The targets a library is compiled for, as bits; an entry exists in a
/// library compiled for any of its targets.
enum TargetBits : unsigned { kCPU = 1, kCUDA = 2, kAnyTarget = kCPU | kCUDA };

struct Entry {
  const char *name;
  Impl impl;
  KernelId kernel;
  Width value; ///< For Constant entries.
  Param params[8];
  int numParams;
  /// One line for the header and for bindings' documentation.
  const char *summary;
  /// The targets (TargetBits) whose libraries export it.
  unsigned targets = kCPU;

  /// The C return type: int64_t for constants, else an NF_* status code.
  constexpr bool returnsStatus() const { return impl != Impl::Constant; }
};

/// Every entry of every model, in the header's order.
// clang-format off
inline constexpr Entry kEntries[] = {
    {"dim", Impl::Constant, KernelId::LogProb, Width::Dim, {}, 0,
     "Values per data row.", kAnyTarget},
    {"latent_dim", Impl::Constant, KernelId::LogProb, Width::LatentDim, {}, 0,
     "Values per latent row.", kAnyTarget},
    {"context_dim", Impl::Constant, KernelId::LogProb, Width::ContextDim, {}, 0,
     "Values per context row (0: the model takes no context).", kAnyTarget},
    {"log_prob", Impl::Density, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_logp", Width::One}}, 4,
     "log p(x) per row; for bound models the IWAE estimate with the model's "
     "iwae_paths and seed 0."},
    {"elbo", Impl::Estimate, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out", Width::One}}, 5,
     "A one-path lower bound on log p(x) per row (log p(x) for exact "
     "models)."},
    {"log_prob_iwae", Impl::Estimate, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::Paths, "k"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out", Width::One}}, 6,
     "The importance-weighted estimate of log p(x) per row over k paths."},
    {"forward", Impl::Run, KernelId::Forward, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_z", Width::LatentDim},
      {Arg::OutputRows, "out_ldj", Width::One}}, 6,
     "The normalizing map: z and the log-likelihood term V of each row."},
    {"inverse", Impl::Run, KernelId::Inverse, Width::One,
     {{Arg::InputRows, "z", Width::LatentDim},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_x", Width::Dim}}, 5,
     "The generative map: x from latents z."},
    {"sample", Impl::Run, KernelId::Sample, Width::One,
     {{Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_x", Width::Dim}}, 4,
     "n samples; row i depends only on (seed, i)."},
    {"sample_with_log_prob", Impl::Run, KernelId::SampleWithLogProb,
     Width::One,
     {{Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_x", Width::Dim},
      {Arg::OutputRows, "out_logp", Width::One}}, 5,
     "n samples and the log-probability of each."},
    // Row ranges: rows first_row .. first_row + n - 1 of one global batch.
    // Their random draws are keyed by the global row, so any split of
    // [0, N) into ranges gives the bits of the single call over N rows.
    {"log_prob_rows", Impl::Density, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_logp", Width::One}}, 5,
     "log_prob of rows first_row .. first_row + n - 1 of a larger batch."},
    {"elbo_rows", Impl::Estimate, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out", Width::One}}, 6,
     "elbo of rows first_row .. first_row + n - 1 of a larger batch."},
    {"log_prob_iwae_rows", Impl::Estimate, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Paths, "k"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out", Width::One}}, 7,
     "log_prob_iwae of rows first_row .. first_row + n - 1 of a larger "
     "batch."},
    {"forward_rows", Impl::Run, KernelId::Forward, Width::One,
     {{Arg::InputRows, "x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_z", Width::LatentDim},
      {Arg::OutputRows, "out_ldj", Width::One}}, 7,
     "forward of rows first_row .. first_row + n - 1 of a larger batch."},
    {"inverse_rows", Impl::Run, KernelId::Inverse, Width::One,
     {{Arg::InputRows, "z", Width::LatentDim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_x", Width::Dim}}, 6,
     "inverse of rows first_row .. first_row + n - 1 of a larger batch."},
    {"sample_rows", Impl::Run, KernelId::Sample, Width::One,
     {{Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_x", Width::Dim}}, 5,
     "Rows first_row .. first_row + n - 1 of sample(first_row + n, seed)."},
    {"sample_with_log_prob_rows", Impl::Run, KernelId::SampleWithLogProb,
     Width::One,
     {{Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "ctx", Width::ContextDim},
      {Arg::OutputRows, "out_x", Width::Dim},
      {Arg::OutputRows, "out_logp", Width::One}}, 6,
     "Rows first_row .. first_row + n - 1 of sample_with_log_prob("
     "first_row + n, seed)."},
    {"cuda_log_prob", Impl::DeviceDensity, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_logp", Width::One},
      {Arg::Stream, "stream"}}, 5,
     "log p(x) per row of device arrays, on the GPU; for bound models the "
     "IWAE estimate with the model's iwae_paths and seed 0.", kCUDA},
    {"cuda_elbo", Impl::DeviceEstimate, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out", Width::One},
      {Arg::Stream, "stream"}}, 6,
     "elbo on the GPU (device arrays).", kCUDA},
    {"cuda_log_prob_iwae", Impl::DeviceEstimate, KernelId::LogProb,
     Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::Paths, "k"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out", Width::One},
      {Arg::Stream, "stream"}}, 7,
     "log_prob_iwae on the GPU (device arrays).", kCUDA},
    {"cuda_forward", Impl::DeviceRun, KernelId::Forward, Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_z", Width::LatentDim},
      {Arg::OutputRows, "d_out_ldj", Width::One},
      {Arg::Stream, "stream"}}, 7,
     "forward on the GPU: z and V of each row of device arrays.", kCUDA},
    {"cuda_inverse", Impl::DeviceRun, KernelId::Inverse, Width::One,
     {{Arg::InputRows, "d_z", Width::LatentDim},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_x", Width::Dim},
      {Arg::Stream, "stream"}}, 6,
     "inverse on the GPU: x from latents z (device arrays).", kCUDA},
    {"cuda_sample", Impl::DeviceRun, KernelId::Sample, Width::One,
     {{Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_x", Width::Dim},
      {Arg::Stream, "stream"}}, 5,
     "sample on the GPU: row i depends only on (seed, i), as on the CPU.",
     kCUDA},
    {"cuda_sample_with_log_prob", Impl::DeviceRun, KernelId::SampleWithLogProb,
     Width::One,
     {{Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_x", Width::Dim},
      {Arg::OutputRows, "d_out_logp", Width::One},
      {Arg::Stream, "stream"}}, 6,
     "sample_with_log_prob on the GPU (device arrays).", kCUDA},
    // Row ranges on the GPU: rows first_row .. first_row + n - 1 of one
    // global batch, their noise keyed by the global row as on the CPU.
    {"cuda_log_prob_rows", Impl::DeviceDensity, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_logp", Width::One},
      {Arg::Stream, "stream"}}, 6,
     "cuda_log_prob of rows first_row .. first_row + n - 1 of a larger "
     "batch.", kCUDA},
    {"cuda_elbo_rows", Impl::DeviceEstimate, KernelId::LogProb, Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out", Width::One},
      {Arg::Stream, "stream"}}, 7,
     "cuda_elbo of rows first_row .. first_row + n - 1 of a larger batch.",
     kCUDA},
    {"cuda_log_prob_iwae_rows", Impl::DeviceEstimate, KernelId::LogProb,
     Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Paths, "k"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out", Width::One},
      {Arg::Stream, "stream"}}, 8,
     "cuda_log_prob_iwae of rows first_row .. first_row + n - 1 of a larger "
     "batch.", kCUDA},
    {"cuda_forward_rows", Impl::DeviceRun, KernelId::Forward, Width::One,
     {{Arg::InputRows, "d_x", Width::Dim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_z", Width::LatentDim},
      {Arg::OutputRows, "d_out_ldj", Width::One},
      {Arg::Stream, "stream"}}, 8,
     "cuda_forward of rows first_row .. first_row + n - 1 of a larger batch.",
     kCUDA},
    {"cuda_inverse_rows", Impl::DeviceRun, KernelId::Inverse, Width::One,
     {{Arg::InputRows, "d_z", Width::LatentDim},
      {Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::LayerSeed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_x", Width::Dim},
      {Arg::Stream, "stream"}}, 7,
     "cuda_inverse of rows first_row .. first_row + n - 1 of a larger batch.",
     kCUDA},
    {"cuda_sample_rows", Impl::DeviceRun, KernelId::Sample, Width::One,
     {{Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_x", Width::Dim},
      {Arg::Stream, "stream"}}, 6,
     "Rows first_row .. first_row + n - 1 of cuda_sample(first_row + n, "
     "seed).", kCUDA},
    {"cuda_sample_with_log_prob_rows", Impl::DeviceRun,
     KernelId::SampleWithLogProb, Width::One,
     {{Arg::FirstRow, "first_row"},
      {Arg::Count, "n"},
      {Arg::Seed, "seed"},
      {Arg::Context, "d_ctx", Width::ContextDim},
      {Arg::OutputRows, "d_out_x", Width::Dim},
      {Arg::OutputRows, "d_out_logp", Width::One},
      {Arg::Stream, "stream"}}, 7,
     "Rows first_row .. first_row + n - 1 of cuda_sample_with_log_prob("
     "first_row + n, seed).", kCUDA},
};
// clang-format on

/// The library-level symbol loaders read: one line per model and per entry
/// (see CInterface.h for its format).
inline constexpr const char *kManifestSymbol = "nf_library_manifest";

/// Library-level functions of libraries with the CUDA target: the calling
/// thread's last error message, and device memory for callers without a
/// CUDA runtime of their own (bindings copying host arrays).
inline constexpr const char *kLastErrorSymbol = "nf_last_error_message";
inline constexpr const char *kDeviceAllocSymbol = "nf_cuda_malloc";
inline constexpr const char *kDeviceFreeSymbol = "nf_cuda_free";
inline constexpr const char *kDeviceCopySymbol = "nf_cuda_memcpy";

//===----------------------------------------------------------------------===//
// Generated names
//===----------------------------------------------------------------------===//

/// The exported C function of `entry` for model `model`.
inline std::string getEntrySymbol(const std::string &model, const char *entry) {
  return "nf_" + model + "_" + entry;
}

/// The kernel function nf-expand-model adds for `kernel` of `model`.
inline std::string getKernelSymbol(const std::string &model,
                                   const char *kernel) {
  return "nfk_" + model + "_" + kernel;
}

/// The glue's file-local names for `model`: its descriptor and one runtime
/// wrapper per kernel.
inline std::string getGlueModelSymbol(const std::string &model) {
  return model + "_model";
}
inline std::string getGlueKernelSymbol(const std::string &model,
                                       const char *kernel) {
  return model + "_" + kernel;
}

/// The CUDA target's noise kernels, one per kind and element type, shared
/// by the library's models: row i of `out` gets the noise values (seed,
/// first_row + i, pair) from pair `first_pair` on, exactly the stream of the runtime's
/// nfrt_fill_noise / nfrt_fill_layer_noise (layer noise: uniform, pairs
/// from kLayerNoiseFirstPair on).
inline std::string getNoiseKernelSymbol(bool uniform, bool f64) {
  return std::string("nf_noise_") + (uniform ? "uniform" : "normal") +
         (f64 ? "_f64" : "_f32");
}
inline constexpr int64_t kLayerNoiseFirstPair = int64_t(1) << 31;

/// The CUDA target's IWAE kernels (RuntimeKernels.h): a path's bounds
/// folded into the running log-sum-exp per row, and the estimate from it.
inline std::string getIwaeStepSymbol(bool f64) {
  return f64 ? "nf_iwae_step_f64" : "nf_iwae_step_f32";
}
inline std::string getIwaeFinishSymbol(bool f64) {
  return f64 ? "nf_iwae_finish_f64" : "nf_iwae_finish_f32";
}

/// The seed that keys path `path` of a k-path IWAE estimate under `seed`
/// (one path: `seed` itself, so a 1-path estimate is the ELBO of `seed`);
/// SplitMix64's finalizer decorrelates the paths. CPU and GPU both use it.
constexpr uint64_t mixSeed(uint64_t value) {
  value += 0x9E3779B97F4A7C15ull;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}
constexpr uint64_t getIwaePathSeed(uint64_t seed, int64_t path, int64_t k) {
  return k == 1 ? seed : mixSeed(seed ^ mixSeed(static_cast<uint64_t>(path)));
}

/// Calls `fn(name)` for every global name a library defines for `model`:
/// exported entries, kernels (and their `_mlir_ciface_` wrappers), glue
/// statics. Two models whose names meet here cannot share a library.
template <typename Fn>
void forEachGeneratedSymbol(const std::string &model, Fn &&fn) {
  for (const Entry &entry : kEntries)
    fn(getEntrySymbol(model, entry.name));
  fn(getGlueModelSymbol(model));
  for (const Kernel &kernel : kKernels) {
    fn(getKernelSymbol(model, kernel.name));
    fn("_mlir_ciface_" + getKernelSymbol(model, kernel.name));
    fn(getGlueKernelSymbol(model, kernel.name));
  }
  for (const char *body :
       {kNormalizeBody.name, kGenerateBody.name, kBaseFromNoise})
    fn(getKernelSymbol(model, body));
}

} // namespace mlir::nf::abi

#endif // NF_TARGET_ENTRYPOINTS_H
