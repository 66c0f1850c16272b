//===- CPUPipeline.cpp - Kernels on tensors to the LLVM dialect -----------===//
//
// The CPU part of nf-cpu-pipeline: after buildKernelPipeline.
//
//===----------------------------------------------------------------------===//

#include "nf/Pipelines/Pipelines.h"

#include "nf/Codegen/CPU/Passes.h"
#include "nf/Codegen/Common/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::nf;

KernelPipelineOptions CPUPipelineOptions::getKernelOptions() const {
  return KernelPipelineOptions();
}

void mlir::nf::buildCPUCodegenPipeline(OpPassManager &pm,
                                       const CPUPipelineOptions &options) {
  // Kernels become loops over static tiles of rows; canonicalization makes
  // every shape inside a tile static.
  NFTileKernelsPassOptions tiles;
  tiles.tileRows = options.tileRows;
  pm.addPass(createNFTileKernelsPass(tiles));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Tensors to buffers; kernels write into the caller's buffers.
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.allowReturnAllocsFromLoops = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  bufferization::buildBufferDeallocationPipeline(pm);

  // Loops the LLVM vectorizer handles well.
  pm.addPass(createNFReorderContractionsPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());

  // Hyperbolic and inverse-hyperbolic functions have no LLVM intrinsic.
  math::MathExpandOpsPassOptions expand;
  expand.opMnemonics = {"sinh", "cosh", "asinh", "acosh", "atanh"};
  pm.addPass(math::createMathExpandOpsPass(expand));
  if (options.approximateMath)
    pm.addPass(createNFApproximateMathPass());

  // To the LLVM dialect; temporaries come from the runtime's allocator.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::nf::buildCPUPipeline(OpPassManager &pm,
                                const CPUPipelineOptions &options) {
  buildKernelPipeline(pm, options.getKernelOptions());
  buildCPUCodegenPipeline(pm, options);
}
