//===- CheckConditioning.cpp - Near-singular constant linear layers -------===//

#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "llvm/Support/FormatVariadic.h"

#include <limits>

namespace mlir::nf {
#define GEN_PASS_DEF_NFCHECKCONDITIONINGPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// The largest condition number accepted for `elementType`: kappa * epsilon
/// (the relative error of a solve) at most 1%.
double getConditionBound(Type elementType) {
  double epsilon = elementType.isF32() ? std::numeric_limits<float>::epsilon()
                                       : std::numeric_limits<double>::epsilon();
  return 0.01 / epsilon;
}

struct CheckConditioning
    : nf::impl::NFCheckConditioningPassBase<CheckConditioning> {
  using Base::Base;

  void runOnOperation() override {
    bool failedCheck = false;
    auto check = [&](Operation *op, Type elementType,
                     std::optional<double> condition) {
      double bound = getConditionBound(elementType);
      if (!condition || *condition <= bound)
        return;
      auto report = [&](InFlightDiagnostic diagnostic) {
        diagnostic << "near-singular weight: condition number "
                   << llvm::formatv("{0:e2}", *condition).str() << " exceeds "
                   << llvm::formatv("{0:e1}", bound).str() << " for "
                   << elementType
                   << ", so its inverse and log|det| lose accuracy";
      };
      if (error) {
        report(op->emitError());
        failedCheck = true;
      } else {
        report(op->emitWarning());
      }
    };
    getOperation().walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op))
        check(op, linear.getInput().getType().getElementType(),
              linear.getConditionNumber());
      else if (auto lu = dyn_cast<LULinearOp>(op))
        check(op, lu.getInput().getType().getElementType(),
              lu.getConditionNumber());
    });
    if (failedCheck)
      signalPassFailure();
  }
};

} // namespace
