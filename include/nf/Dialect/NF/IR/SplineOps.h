//===- SplineOps.h - The rational-quadratic spline transformer --*- C++ -*-===//
//
// The monotone rational-quadratic spline with linear tails (nflows), as a
// scalar builder shared by nf.rq_spline and the spline coupling and
// autoregressive layers (SplineOps.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_SPLINEOPS_H
#define NF_DIALECT_NF_IR_SPLINEOPS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

namespace mlir::nf {

/// Shape of a rational-quadratic spline with linear tails (nflows).
struct RQSplineConfig {
  int64_t bins;
  double tailBound, minBinWidth, minBinHeight, minDerivative;
};

/// The spline shape of a spline op with `bins` bins (ODS attributes
/// tail_bound, min_bin_width, min_bin_height, min_derivative).
template <typename SplineOp>
RQSplineConfig getRQSplineConfig(SplineOp op, int64_t bins) {
  return {bins, op.getTailBound().convertToDouble(),
          op.getMinBinWidth().convertToDouble(),
          op.getMinBinHeight().convertToDouble(),
          op.getMinDerivative().convertToDouble()};
}

/// Checks bins >= 2, tail_bound > 0, bins * min size < 1, min_derivative > 0.
LogicalResult verifyRQSplineConfig(Operation *op, const RQSplineConfig &config);

/// Number of raw parameters per feature: K widths, K heights and K - 1
/// interior derivatives.
inline int64_t getRQSplineParamCount(int64_t bins) { return 3 * bins - 1; }

/// The spline (or its inverse) of one value from its 3K - 1 raw parameters,
/// and log g'(x) at x (0 outside [-B, B]).
std::pair<Value, Value> buildRQSpline(OpBuilder &b, Location loc,
                                      const RQSplineConfig &config, Value in,
                                      ValueRange raw, bool inverse);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_SPLINEOPS_H
