//===- Pipelines.h - Named nf compilation pipelines -------------*- C++ -*-===//
//
// A model is compiled in two parts: the target-independent part turns
// models into kernels on tensors (derive, expand, nf-level rewrites, linalg
// and elementwise fusion), and a target part lowers those kernels for one
// target. The CPU part bufferizes and goes through loops to the LLVM
// dialect; a GPU part goes beside it, reusing the first part unchanged.
//
//===----------------------------------------------------------------------===//

#ifndef NF_PIPELINES_PIPELINES_H
#define NF_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::nf {

/// Options of the target-independent part.
struct KernelPipelineOptions
    : public PassPipelineOptions<KernelPipelineOptions> {
  PassOptions::Option<bool> fuseLayers{
      *this, "fuse-layers",
      llvm::cl::desc("Fuse layers at the nf level (nf-fuse-layers)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> incrementalInverse{
      *this, "incremental-autoregressive-inverse",
      llvm::cl::desc("Solve MADE-conditioned sequential directions "
                     "incrementally"),
      llvm::cl::init(true)};
};

/// Options of the CPU pipeline: its own and the target-independent part's.
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  PassOptions::Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("Polynomial f32 transcendentals (no libm calls)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> tileRows{
      *this, "tile-rows",
      llvm::cl::desc("Rows per kernel tile (0: chosen from the model's widths "
                     "and the host's cache)"),
      llvm::cl::init(0)};

  PassOptions::Option<bool> fuseLayers{
      *this, "fuse-layers",
      llvm::cl::desc("Fuse layers at the nf level (nf-fuse-layers)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> incrementalInverse{
      *this, "incremental-autoregressive-inverse",
      llvm::cl::desc("Solve MADE-conditioned sequential directions "
                     "incrementally"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("Vector register width in bits (0: the host's)"),
      llvm::cl::init(0)};

  /// Sets the options of the target-independent part from these.
  void setKernelOptions(KernelPipelineOptions &kernel) const;
};

/// Options of the CUDA pipeline: its own and the target-independent part's.
struct CUDAPipelineOptions : public PassPipelineOptions<CUDAPipelineOptions> {
  PassOptions::Option<std::string> gpuArch{
      *this, "gpu-arch", llvm::cl::desc("GPU architecture of the PTX"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> ptxFeatures{
      *this, "ptx-features", llvm::cl::desc("PTX ISA features"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<int64_t> sharedMemoryBytes{
      *this, "shared-memory-bytes",
      llvm::cl::desc("Shared memory per kernel for staged constants "
                     "(conditioner weights); 0: none"),
      llvm::cl::init(48 * 1024)};
  PassOptions::Option<std::string> cudaToolkit{
      *this, "cuda-toolkit",
      llvm::cl::desc("CUDA toolkit for libdevice (f64 transcendentals); "
                     "empty: CUDA_HOME, CUDA_PATH, CUDA_ROOT or PATH"),
      llvm::cl::init("")};

  PassOptions::Option<bool> fuseLayers{
      *this, "fuse-layers",
      llvm::cl::desc("Fuse layers at the nf level (nf-fuse-layers)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> incrementalInverse{
      *this, "incremental-autoregressive-inverse",
      llvm::cl::desc("Solve MADE-conditioned sequential directions "
                     "incrementally"),
      llvm::cl::init(true)};

  /// Sets the options of the target-independent part from these.
  void setKernelOptions(KernelPipelineOptions &kernel) const;
};

/// nf models -> kernels on tensors: one `nfk_<model>_<kernel>` function per
/// row of the ABI's kernel table (nf-expand-model), conditioners inlined,
/// nf ops lowered to linalg, elementwise producers and consumers fused.
void buildKernelPipeline(OpPassManager &pm,
                         const KernelPipelineOptions &options);

/// nf models -> public functions on tensors in upstream dialects only
/// (`nf-export`): buildKernelPipeline, nf-export-functions, inlining and
/// cleanup. For MLIR stacks that take the derived IR without the nf dialect.
void buildExportPipeline(OpPassManager &pm,
                         const KernelPipelineOptions &options);

/// Kernels on tensors -> LLVM dialect for the host CPU: bufferization with
/// the caller's buffers at the boundary, loops, polynomial math, LLVM.
void buildCPUCodegenPipeline(OpPassManager &pm,
                             const CPUPipelineOptions &options);

/// nf models -> LLVM dialect for the host CPU: buildKernelPipeline, then
/// buildCPUCodegenPipeline. The result translates to LLVM IR with one
/// `_mlir_ciface_nfk_*` function per kernel.
void buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options);

/// Kernels on tensors -> a module whose `gpu.binary @nf_kernels` holds PTX:
/// each kernel body a `gpu.func` running one row per thread through the
/// whole flow, f32 transcendentals polynomial (no libdevice).
void buildCUDACodegenPipeline(OpPassManager &pm,
                              const CUDAPipelineOptions &options);

/// nf models -> PTX: buildKernelPipeline, then buildCUDACodegenPipeline.
void buildCUDAPipeline(OpPassManager &pm, const CUDAPipelineOptions &options);

/// Canonicalization and CSE, function by function (in parallel).
void addFunctionCleanup(OpPassManager &pm);

/// Hyperbolic and inverse-hyperbolic functions as exp/log formulas (no LLVM
/// intrinsic exists for them, on any target), in a function pipeline.
void addHyperbolicExpansion(OpPassManager &pm);

/// One-shot bufferization of kernels on tensors, writing into the caller's
/// buffers: the same for every target (each then places its temporaries).
void addKernelBufferization(OpPassManager &pm);

/// Registers `nf-kernel-pipeline`, `nf-cpu-pipeline` and
/// `nf-cuda-pipeline` with the global pass registry.
void registerNFPipelines();

} // namespace mlir::nf

#endif // NF_PIPELINES_PIPELINES_H
