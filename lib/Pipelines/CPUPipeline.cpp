//===- CPUPipeline.cpp - Kernels on tensors to the LLVM dialect -----------===//
//
// The CPU part of nf-cpu-pipeline: after buildKernelPipeline.
//
//===----------------------------------------------------------------------===//

#include "nf/Pipelines/Pipelines.h"

#include "nf/Codegen/CPU/Passes.h"
#include "nf/Codegen/Common/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::nf;

void CPUPipelineOptions::setKernelOptions(KernelPipelineOptions &kernel) const {
  kernel.fuseLayers = fuseLayers;
  kernel.incrementalInverse = incrementalInverse;
}

void mlir::nf::buildCPUCodegenPipeline(OpPassManager &pm,
                                       const CPUPipelineOptions &options) {
  // Kernels become loops over static tiles of rows; canonicalization makes
  // every shape inside a tile static.
  NFTileKernelsPassOptions tiles;
  tiles.tileRows = options.tileRows;
  pm.addPass(createNFTileKernelsPass(tiles));
  addFunctionCleanup(pm);
  // Inside a tile, vectors run along the rows; register blocks and vectors
  // at the MLIR level, the contractions' accumulators hoisted out of their
  // k loops.
  pm.addNestedPass<func::FuncOp>(createNFTransposeTilesPass());
  addFunctionCleanup(pm);
  NFVectorizeTilesPassOptions vectorize;
  vectorize.vectorBits = options.vectorBits;
  pm.addNestedPass<func::FuncOp>(createNFVectorizeTilesPass(vectorize));
  addFunctionCleanup(pm);
  pm.addNestedPass<func::FuncOp>(createLoopInvariantSubsetHoistingPass());

  addKernelBufferization(pm);
  bufferization::buildBufferDeallocationPipeline(pm);

  // What was not vectorized becomes loops the LLVM vectorizer handles well.
  // Passes that stay inside a function run function by function.
  OpPassManager &loops = pm.nest<func::FuncOp>();
  loops.addPass(createNFReorderContractionsPass());
  loops.addPass(createConvertLinalgToLoopsPass());
  loops.addPass(vector::createLowerVectorMultiReductionPass());
  loops.addPass(createConvertVectorToSCFPass(
      VectorTransferToSCFOptions().enableFullUnroll()));

  addHyperbolicExpansion(loops);
  if (options.approximateMath)
    loops.addPass(createNFApproximateMathPass());

  // To the LLVM dialect; temporaries come from the runtime's allocator.
  loops.addPass(memref::createExpandStridedMetadataPass());
  loops.addPass(createLowerAffinePass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.vectorContractLowering =
      vector::VectorContractLowering::OuterProduct;
  loops.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  loops.addPass(createSCFToControlFlowPass());
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createConvertToLLVMPass());
  // No cleanup of the LLVM dialect: LLVM's pipeline does it faster.
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::nf::buildCPUPipeline(OpPassManager &pm,
                                const CPUPipelineOptions &options) {
  KernelPipelineOptions kernel;
  options.setKernelOptions(kernel);
  buildKernelPipeline(pm, kernel);
  buildCPUCodegenPipeline(pm, options);
}
