//===- ReorderContractions.cpp - (m, k, n) loop order for matmuls ---------===//

#include "nf/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFREORDERCONTRACTIONSPASS
#include "nf/Codegen/CPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;

namespace {
struct NFReorderContractionsPass
    : public nf::impl::NFReorderContractionsPassBase<
          NFReorderContractionsPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::MatmulOp> matmuls;
    getOperation()->walk([&](linalg::MatmulOp op) { matmuls.push_back(op); });
    for (linalg::MatmulOp matmul : matmuls) {
      rewriter.setInsertionPoint(matmul);
      FailureOr<linalg::GenericOp> generic =
          linalg::generalizeNamedOp(rewriter, matmul);
      if (failed(generic))
        return signalPassFailure();
      if (failed(linalg::interchangeGenericOp(rewriter, *generic, {0, 2, 1})))
        return signalPassFailure();
    }
  }
};
} // namespace
