//===- NFToLinalg.cpp - Lower nf ops to linalg ----------------------------===//

#include "nf/Conversion/Passes.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nf {
#define GEN_PASS_DEF_CONVERTNFTOLINALGPASS
#include "nf/Conversion/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

struct MLPLowering : public OpRewritePattern<MLPOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MLPOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.buildLinalg(rewriter, op->getOperands()));
    return success();
  }
};

/// A layer outside a model becomes its normalizing map.
struct LayerLowering : public OpInterfaceRewritePattern<FlowLayerOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;
  LogicalResult matchAndRewrite(FlowLayerOpInterface layer,
                                PatternRewriter &rewriter) const override {
    if (layer->getParentOfType<ModelOp>())
      return rewriter.notifyMatchFailure(layer, "part of a model");
    FailureOr<LayerValues> built = layer.buildForward(
        rewriter, layer->getOperands(), /*withLogDet=*/false);
    if (failed(built))
      return failure();
    rewriter.replaceOp(layer, built->value);
    return success();
  }
};

struct ConvertNFToLinalgPass
    : public nf::impl::ConvertNFToLinalgPassBase<ConvertNFToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<MLPLowering, LayerLowering>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
