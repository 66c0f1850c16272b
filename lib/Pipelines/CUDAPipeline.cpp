//===- CUDAPipeline.cpp - Kernels on tensors to PTX -----------------------===//
//
// The CUDA part of nf-cuda-pipeline: after buildKernelPipeline. Each kernel
// body runs one row per thread (nf-gpu-map-rows); the row functions are
// bufferized like the CPU's, their temporaries moved to the stack, lowered
// to loops with polynomial math, and the device code goes through NVVM to
// PTX text (`format=isa`: no CUDA toolkit needed).
//
//===----------------------------------------------------------------------===//

#include "nf/Pipelines/Pipelines.h"

#include "nf/Codegen/Common/Passes.h"
#include "nf/Codegen/GPU/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::nf;

void CUDAPipelineOptions::setKernelOptions(
    KernelPipelineOptions &kernel) const {
  kernel.fuseLayers = fuseLayers;
  kernel.incrementalInverse = incrementalInverse;
}

void mlir::nf::buildCUDACodegenPipeline(OpPassManager &pm,
                                        const CUDAPipelineOptions &options) {
  pm.addPass(createNFGPUMapRowsPass());
  addFunctionCleanup(pm);
  addKernelBufferization(pm);
  // A row's temporaries (static, small) on the thread's stack; those a loop
  // yields anew each iteration (MAF's sequential inverse, fixed points)
  // stay on the device heap (PTX's malloc/free) and are freed.
  OpPassManager &buffers = pm.nest<func::FuncOp>();
  buffers.addPass(bufferization::createBufferHoistingPass());
  buffers.addPass(bufferization::createBufferLoopHoistingPass());
  bufferization::PromoteBuffersToStackPassOptions stack;
  stack.maxAllocSizeInBytes = 1 << 20;
  stack.maxRankOfAllocatedMemRef = 8;
  buffers.addPass(bufferization::createPromoteBuffersToStackPass(stack));
  bufferization::buildBufferDeallocationPipeline(pm);

  // Scalar loops per thread; polynomial f32 math, as on the CPU.
  OpPassManager &loops = pm.nest<func::FuncOp>();
  loops.addPass(createConvertLinalgToLoopsPass());
  addHyperbolicExpansion(loops);
  loops.addPass(createNFApproximateMathPass());
  loops.addPass(createCanonicalizerPass());
  loops.addPass(createCSEPass());

  NFGPUOutlineKernelsPassOptions outline;
  outline.chip = options.gpuArch;
  outline.features = options.ptxFeatures;
  pm.addPass(createNFGPUOutlineKernelsPass(outline));
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  NFGPUStageConstantsPassOptions stage;
  stage.sharedMemoryBytes = options.sharedMemoryBytes;
  device.addPass(createNFGPUStageConstantsPass(stage));
  device.addPass(memref::createExpandStridedMetadataPass());
  device.addPass(createLowerAffinePass());
  device.addPass(createSCFToControlFlowPass());
  // What the polynomials leave (abs, fma, floor, ...) as PTX instructions,
  // not libdevice calls.
  device.addPass(createNFGPUNativeMathPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.indexBitwidth = 64;
  device.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa";
  binary.toolkitPath = options.cudaToolkit;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::nf::buildCUDAPipeline(OpPassManager &pm,
                                 const CUDAPipelineOptions &options) {
  KernelPipelineOptions kernel;
  options.setKernelOptions(kernel);
  buildKernelPipeline(pm, kernel);
  buildCUDACodegenPipeline(pm, options);
}
