//===- KernelPipeline.cpp - nf models to kernels on tensors ---------------===//
//
// The target-independent part of every pipeline.
//
//===----------------------------------------------------------------------===//

#include "nf/Pipelines/Pipelines.h"

#include "nf/Codegen/Common/Passes.h"
#include "nf/Conversion/Passes.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::nf;

void mlir::nf::buildKernelPipeline(OpPassManager &pm,
                                   const KernelPipelineOptions &options) {
  // Layers fuse at the nf level, then models become kernels on tensors.
  if (options.fuseLayers)
    pm.addPass(createNFFuseLayersPass());
  pm.addPass(createNFInlineScalarResourcesPass());
  pm.addPass(createNFDeriveEnergyGradientsPass());
  NFExpandModelPassOptions expand;
  expand.incrementalInverse = options.incrementalInverse;
  pm.addPass(createNFExpandModelPass(expand));
  pm.addPass(createConvertNFToLinalgPass());
  // Conditioners are inlined into the kernels so that elementwise producers
  // and consumers fuse across them.
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createLinalgElementwiseOpFusionPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::nf::addFunctionCleanup(OpPassManager &pm) {
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createCanonicalizerPass());
  fn.addPass(createCSEPass());
}

void mlir::nf::addHyperbolicExpansion(OpPassManager &pm) {
  math::MathExpandOpsPassOptions expand;
  expand.opMnemonics = {"sinh", "cosh", "asinh", "acosh", "atanh"};
  pm.addPass(math::createMathExpandOpsPass(expand));
}

void mlir::nf::addKernelBufferization(OpPassManager &pm) {
  // Tensors to buffers; kernels write into the caller's buffers. No
  // empty-tensor elimination: it rewrote a zero-filled init that CSE had
  // shared between two reductions into an output buffer, so the second
  // reduction started from the first's sum (wrong V), and bufferization
  // without it measured as fast.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.allowReturnAllocsFromLoops = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  addFunctionCleanup(pm);
}

void mlir::nf::buildExportPipeline(OpPassManager &pm,
                                   const KernelPipelineOptions &options) {
  buildKernelPipeline(pm, options);
  pm.addPass(createNFExportFunctionsPass());
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::nf::registerNFPipelines() {
  PassPipelineRegistration<KernelPipelineOptions>(
      "nf-kernel-pipeline",
      "Turn nf models into kernels on tensors (the target-independent part "
      "of every pipeline)",
      buildKernelPipeline);
  PassPipelineRegistration<KernelPipelineOptions>(
      "nf-export",
      "Rewrite nf models into public functions on tensors in upstream "
      "dialects only (nf-export-functions), for other MLIR stacks",
      buildExportPipeline);
  PassPipelineRegistration<CPUPipelineOptions>(
      "nf-cpu-pipeline",
      "Compile nf models to the LLVM dialect for the host CPU",
      buildCPUPipeline);
  PassPipelineRegistration<CUDAPipelineOptions>(
      "nf-cuda-pipeline",
      "Compile nf models to PTX in a gpu.binary (one row per GPU thread)",
      buildCUDAPipeline);
}
