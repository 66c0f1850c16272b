//===- NativeMath.cpp - Math with a PTX instruction to LLVM intrinsics ----===//
//
// convert-gpu-to-nvvm turns math ops, and even the LLVM intrinsics they
// would lower to, into libdevice calls (`__nv_fabsf`, ...), which need a
// CUDA toolkit at compile time. The ops PTX has instructions for become
// `llvm.call_intrinsic` first, which it leaves alone and NVPTX selects.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/GPU/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFGPUNATIVEMATHPASS
#include "nf/Codegen/GPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;

namespace {

/// `Op` on a scalar f32 or f64 -> `llvm.call_intrinsic "llvm.<name>.fNN"`.
template <typename Op> struct ToIntrinsic : public OpRewritePattern<Op> {
  ToIntrinsic(MLIRContext *ctx, StringRef name)
      : OpRewritePattern<Op>(ctx), name(name) {}

  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    Type type = op->getResult(0).getType();
    if (!type.isF32() && !type.isF64())
      return failure();
    std::string intrinsic =
        ("llvm." + name + (type.isF32() ? ".f32" : ".f64")).str();
    rewriter.replaceOpWithNewOp<LLVM::CallIntrinsicOp>(
        op, type, rewriter.getStringAttr(intrinsic), op->getOperands());
    return success();
  }

  StringRef name;
};

struct NFGPUNativeMathPass
    : public nf::impl::NFGPUNativeMathPassBase<NFGPUNativeMathPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<ToIntrinsic<math::AbsFOp>>(ctx, "fabs");
    patterns.add<ToIntrinsic<math::FmaOp>>(ctx, "fma");
    patterns.add<ToIntrinsic<math::FloorOp>>(ctx, "floor");
    patterns.add<ToIntrinsic<math::CeilOp>>(ctx, "ceil");
    patterns.add<ToIntrinsic<math::SqrtOp>>(ctx, "sqrt");
    patterns.add<ToIntrinsic<math::CopySignOp>>(ctx, "copysign");
    patterns.add<ToIntrinsic<math::RoundOp>>(ctx, "round");
    patterns.add<ToIntrinsic<math::RoundEvenOp>>(ctx, "roundeven");
    patterns.add<ToIntrinsic<math::TruncOp>>(ctx, "trunc");
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
