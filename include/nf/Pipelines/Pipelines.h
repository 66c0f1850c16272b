//===- Pipelines.h - Named nf compilation pipelines -------------*- C++ -*-===//

#ifndef NF_PIPELINES_PIPELINES_H
#define NF_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::nf {

struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  PassOptions::Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("Polynomial f32 transcendentals (no libm calls)"),
      llvm::cl::init(true)};
};

/// nf models -> LLVM dialect for the host CPU: kernel entry points
/// (nf-expand-model), linalg, fusion, bufferization, loops, polynomial math,
/// LLVM. The result translates to LLVM IR with one `_mlir_ciface_nfk_*`
/// function per kernel.
void buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options);

/// Registers `nf-cpu-pipeline` with the global pass registry.
void registerNFPipelines();

} // namespace mlir::nf

#endif // NF_PIPELINES_PIPELINES_H
