//===- ApproximateMath.cpp - Polynomial transcendentals -------------------===//

#include "nf/Codegen/Common/Passes.h"

#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFAPPROXIMATEMATHPASS
#include "nf/Codegen/Common/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;

namespace {
struct NFApproximateMathPass
    : public nf::impl::NFApproximateMathPassBase<NFApproximateMathPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    MathPolynomialApproximationOptions options;
    options.enableAvx2 = enableAvx2;
    populateMathPolynomialApproximationPatterns(patterns, options);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
