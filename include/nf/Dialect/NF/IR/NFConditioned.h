//===- NFConditioned.h - Coupling and autoregressive layers -----*- C++ -*-===//
//
// Coupling and autoregressive layers share one structure: a conditioner
// function computes P parameters per transformed feature, and an elementwise
// "transformer" (affine, additive, rational-quadratic spline) maps each
// feature with its parameters. This header declares the transformers and the
// helpers both layer families build with.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_NFCONDITIONED_H
#define NF_DIALECT_NF_IR_NFCONDITIONED_H

#include "nf/Dialect/NF/IR/NFInterfaces.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

#include <functional>

namespace mlir::nf {

/// How a conditioner's output holds P values for each of n features.
enum class ParamLayout {
  Blocked,     ///< P blocks of n values, value k of feature j at k * n + j.
  Interleaved, ///< n runs of P values, value k of feature j at j * P + k.
};

/// The elementwise map of a coupling or autoregressive layer.
struct Transformer {
  /// Conditioner outputs per transformed feature, and their layout.
  int64_t numParams;
  ParamLayout layout;
  /// Scalar builder: (value, its numParams parameters, inverse) -> (output,
  /// log|d z / d x| at x, or null for volume-preserving transformers).
  std::function<std::pair<Value, Value>(OpBuilder &, Location, Value,
                                        ValueRange, bool)>
      apply;
};

/// z = scale(raw) x + shift (or (x + shift) * scale with `shiftFirst`) and
/// log scale; `inverse` solves for x instead.
std::pair<Value, Value> buildAffineTransform(OpBuilder &b, Location loc,
                                             ScaleFn fn, bool shiftFirst,
                                             Value in, Value shift, Value raw,
                                             bool inverse);

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

/// Calls `conditioner` on (input [, context], params...) and returns its
/// `tensor<?xN...xT>` result of type `resultType`.
Value callConditioner(OpBuilder &b, Location loc, FlatSymbolRefAttr conditioner,
                      Value input, Value context, ValueRange params,
                      Type resultType);

/// Checks that `conditioner` names a func.func of type (inputs) -> (result);
/// `layout` describes its result and `role` the function in the error.
LogicalResult verifyConditionerType(Operation *op,
                                    SymbolTableCollection &symbolTable,
                                    FlatSymbolRefAttr conditioner,
                                    TypeRange inputs, Type result,
                                    StringRef layout,
                                    StringRef role = "conditioner");

/// Checks that a conditioned layer's context, if any, is a `tensor<?xCxT>`.
LogicalResult verifyContext(Operation *op, Value context);

/// Applies `transformer` to every element of `in` (`tensor<?xnx...xT>`)
/// with its parameters from `params` (`tensor<?x(P n)x...xT>`); V is the
/// per-sample sum of the log-derivatives (null if volume preserving).
LayerValues applyTransformer(OpBuilder &b, Location loc,
                             const Transformer &transformer, Value in,
                             Value params, bool inverse, bool withLogDet);

/// `tensor<?x<size>x<spatial...>xT>`, a batch of `size` features.
RankedTensorType getBatchType(int64_t size, ArrayRef<int64_t> spatial,
                              Type elementType);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_NFCONDITIONED_H
