//===- MapRows.cpp - Kernel bodies with one row per GPU thread ------------===//
//
// A flow's rows are independent and a row's whole flow is a few thousand
// FLOPs, so the GPU runs one row per thread through all layers: the row's
// intermediates stay in registers and local memory, and no layer boundary
// goes through global memory.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/GPU/Passes.h"

#include "nf/Codegen/Common/RowFunctions.h"
#include "nf/Codegen/GPU/RuntimeKernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFGPUMAPROWSPASS
#define GEN_PASS_DEF_NFADDRUNTIMEKERNELSPASS
#include "nf/Codegen/GPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// Gives `body` (now bodiless) the grid body: the thread's row, if there is
/// one, through `row`.
void buildGridBody(func::FuncOp body, func::FuncOp row,
                   RewriterBase &rewriter) {
  Location loc = body.getLoc();
  Block *entry = rewriter.createBlock(&body.getBody());
  for (Type type : body.getArgumentTypes())
    entry->addArgument(type, loc);
  rewriter.setInsertionPointToEnd(entry);
  ValueRange args = entry->getArguments();
  Value n = memref::DimOp::create(rewriter, loc, args[0], 0);
  buildForEachRow(rewriter, loc, n, /*gpu=*/true,
                  [&](OpBuilder &b, Location nloc, Value r) {
                    callOnRows(b, nloc, row, args, r, 1);
                  });
  func::ReturnOp::create(rewriter, loc);
}

struct NFGPUMapRowsPass
    : public nf::impl::NFGPUMapRowsPassBase<NFGPUMapRowsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> bodies, hostKernels;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn->hasAttr("nf.kernel_body")) {
        if (!isTileableKernel(fn)) {
          fn.emitOpError("kernel body cannot run one row per GPU thread: an "
                         "argument is not a row array it only reads or "
                         "writes");
          return signalPassFailure();
        }
        bodies.push_back(fn);
      } else if (fn.isPublic() && fn->hasAttr("llvm.emit_c_interface")) {
        hostKernels.push_back(fn);
      }
    }
    for (func::FuncOp fn : hostKernels)
      fn.erase();
    IRRewriter rewriter(&getContext());
    // The noise and IWAE kernels of the bodies' element types.
    llvm::SmallSetVector<Type, 2> elementTypes;
    for (func::FuncOp body : bodies)
      elementTypes.insert(
          cast<MemRefType>(body.getArgumentTypes().front()).getElementType());
    for (Type type : elementTypes)
      addRuntimeKernels(module, cast<FloatType>(type), /*gpu=*/true);
    for (func::FuncOp body : bodies) {
      func::FuncOp row =
          createTileFunction(body, 1, "_row", /*move=*/true, rewriter);
      buildGridBody(body, row, rewriter);
      body->removeAttr("nf.kernel_body");
      body->setAttr("nf.gpu_kernel", rewriter.getUnitAttr());
      body.setPublic();
    }
    propagateStaticShapes(module);
  }
};

struct NFAddRuntimeKernelsPass
    : public nf::impl::NFAddRuntimeKernelsPassBase<NFAddRuntimeKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    if ((target != "gpu" && target != "cpu") ||
        (elementType != "f32" && elementType != "f64")) {
      getOperation().emitError("nf-add-runtime-kernels: target must be gpu or "
                               "cpu and element-type f32 or f64");
      return signalPassFailure();
    }
    Builder b(&getContext());
    addRuntimeKernels(getOperation(),
                      elementType == "f64" ? cast<FloatType>(b.getF64Type())
                                           : cast<FloatType>(b.getF32Type()),
                      target == "gpu");
  }
};

} // namespace
