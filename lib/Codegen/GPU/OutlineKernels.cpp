//===- OutlineKernels.cpp - Device code into a gpu.module -----------------===//

#include "nf/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFGPUOUTLINEKERNELSPASS
#include "nf/Codegen/GPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

struct NFGPUOutlineKernelsPass
    : public nf::impl::NFGPUOutlineKernelsPassBase<NFGPUOutlineKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    IRRewriter rewriter(ctx);
    // memref.copy of a strided view lowers to a host library call; on the
    // device it is a loop nest.
    SmallVector<memref::CopyOp> copies;
    module.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      auto linalgCopy = linalg::CopyOp::create(
          rewriter, copy.getLoc(), copy.getSource(), copy.getTarget());
      rewriter.eraseOp(copy);
      if (failed(linalg::linalgOpToLoops(rewriter, linalgCopy)))
        return signalPassFailure();
      rewriter.eraseOp(linalgCopy);
    }
    rewriter.setInsertionPointToEnd(module.getBody());
    auto target = NVVM::NVVMTargetAttr::get(
        ctx, optLevel, "nvptx64-nvidia-cuda", chip, features);
    auto gpuModule =
        gpu::GPUModuleOp::create(rewriter, module.getLoc(), kGPUModuleName,
                                 rewriter.getArrayAttr({target}));
    Block &body = gpuModule.getBodyRegion().front();
    // Everything else the module holds (functions the kernels call, the
    // globals of their constants) is device code too.
    for (Operation &op : llvm::make_early_inc_range(*module.getBody())) {
      auto fn = dyn_cast<func::FuncOp>(op);
      if (&op == gpuModule.getOperation())
        continue;
      if (!fn || !fn->hasAttr("nf.gpu_kernel")) {
        op.moveBefore(&body, body.end());
        continue;
      }
      rewriter.setInsertionPointToEnd(&body);
      auto kernel = gpu::GPUFuncOp::create(
          rewriter, fn.getLoc(), fn.getSymName(), fn.getFunctionType());
      kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                      rewriter.getUnitAttr());
      Region &region = kernel.getBody();
      rewriter.eraseBlock(&region.front());
      rewriter.inlineRegionBefore(fn.getBody(), region, region.end());
      kernel.walk([&](func::ReturnOp ret) {
        rewriter.setInsertionPoint(ret);
        rewriter.replaceOpWithNewOp<gpu::ReturnOp>(ret);
      });
      fn.erase();
    }
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    rewriter.getUnitAttr());
  }
};

} // namespace
