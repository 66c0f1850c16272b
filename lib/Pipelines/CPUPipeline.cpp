//===- CPUPipeline.cpp - nf models to the LLVM dialect --------------------===//

#include "nf/Pipelines/Pipelines.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::nf;

void mlir::nf::buildCPUPipeline(OpPassManager &pm,
                                const CPUPipelineOptions &options) {
  std::string pipeline =
      // Models become kernels on tensors; conditioners are inlined into them
      // so that elementwise producers and consumers fuse.
      "nf-inline-scalar-resources,nf-derive-energy-gradients,nf-expand-model,"
      "convert-nf-to-linalg,"
      "inline,symbol-dce,"
      "canonicalize,cse,func.func(linalg-fuse-elementwise-ops),"
      "canonicalize,cse,"
      // Tensors to buffers; kernels write into the caller's buffers.
      "eliminate-empty-tensors,"
      "one-shot-bufferize{bufferize-function-boundaries "
      "allow-return-allocs-from-loops "
      "function-boundary-type-conversion=identity-layout-map},"
      "canonicalize,cse,buffer-deallocation-pipeline,"
      "nf-reorder-contractions,func.func(convert-linalg-to-loops),";
  // Hyperbolic and inverse-hyperbolic functions have no LLVM intrinsic.
  pipeline += "math-expand-ops{ops=sinh,cosh,asinh,acosh,atanh},";
  if (options.approximateMath)
    pipeline += "nf-approximate-math,";
  pipeline += "expand-strided-metadata,lower-affine,finalize-memref-to-llvm{"
              "use-generic-functions},"
              "convert-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts,"
              "canonicalize,cse";
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error("invalid nf CPU pipeline");
}

void mlir::nf::registerNFPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "nf-cpu-pipeline",
      "Compile nf models to the LLVM dialect for the host CPU",
      buildCPUPipeline);
}
