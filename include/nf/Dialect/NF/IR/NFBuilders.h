//===- NFBuilders.h - Tensor IR builders shared by nf layers ----*- C++ -*-===//
//
// Small helpers that emit upstream linalg/tensor/arith IR on batch-first
// tensors. Layer ops use them to build their normalizing map, inverse and V;
// passes use them to combine V terms.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_NFBUILDERS_H
#define NF_DIALECT_NF_IR_NFBUILDERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/IRMapping.h"

#include "nf/Dialect/NF/IR/NFInterfaces.h"

#include <limits>

namespace mlir::nf {

/// Scalar body of an elementwise map: scalar arguments in, scalar results out.
using ScalarBodyFn =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

/// `tensor.empty` with the shape of `like` (dynamic sizes taken from it) and
/// element type `elementType` (default: that of `like`).
Value createEmptyLike(OpBuilder &b, Location loc, Value like,
                      Type elementType = {});

/// Elementwise map producing `numResults` tensors shaped like `shapeRef`.
/// Each input is broadcast to that shape: it is rank 0 (scalar), has the
/// event shape (shapeRef's shape without the batch dimension), has one value
/// per channel (rank 1 against a shapeRef of rank > 2), or has shapeRef's full
/// shape.
SmallVector<Value> mapElementwise(OpBuilder &b, Location loc, Value shapeRef,
                                  ValueRange inputs, unsigned numResults,
                                  ScalarBodyFn body);

/// mapElementwise with one result shaped like `inputs[0]`.
Value mapSingleResult(
    OpBuilder &b, Location loc, ValueRange inputs,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// Broadcasts a per-sample `tensor<?xT>` to the full shape of `like`.
Value broadcastPerSample(OpBuilder &b, Location loc, Value perSample,
                         Value like);

/// Per-sample sum over all event dimensions: tensor<?x...xT> -> tensor<?xT>.
Value sumEventDims(OpBuilder &b, Location loc, Value batch);

/// Sum of all elements of a statically shaped tensor: -> tensor<T>.
Value sumAll(OpBuilder &b, Location loc, Value tensor);

/// Gathers along dimension 1: out[:, j, ...] = in[:, indices[j], ...].
Value gatherFeatures(OpBuilder &b, Location loc, Value input,
                     ArrayRef<int64_t> indices);

/// A tensor shaped like `like` whose features `indices[i]` (dimension 1) are
/// taken, in order, from `parts[i]`; the index lists partition the features.
/// Contiguous runs are written with tensor.insert_slice (in place after
/// bufferization), anything else is gathered.
Value mergeFeatures(OpBuilder &b, Location loc, Value like, ValueRange parts,
                    ArrayRef<SmallVector<int64_t>> indices);

/// Concatenates along dimension 1.
Value concatFeatures(OpBuilder &b, Location loc, ValueRange inputs);

/// Features offset, offset + stride, ... (`size` of them) along dimension 1
/// of a batch tensor.
Value sliceFeatures(OpBuilder &b, Location loc, Value input, int64_t offset,
                    int64_t size, int64_t stride = 1);

/// Casts a batch tensor to a dynamic batch dimension (no-op if it has one).
Value castToDynamicBatch(OpBuilder &b, Location loc, Value batch);

/// Sum of two V terms, each null (zero), rank 0 or per sample (see
/// LayerValues::logDet). A rank-0 term added to a per-sample one is broadcast.
Value addLogDets(OpBuilder &b, Location loc, Value lhs, Value rhs);

/// -V for a V term (null, rank 0 or per sample; null stays null).
Value negateLogDet(OpBuilder &b, Location loc, Value logDet);

/// Scalar float constant of type `type`.
Value createFloatConstant(OpBuilder &b, Location loc, Type type, double value);

/// Scalar softplus(x) = log(1 + e^x), as max(x, 0) + log1p(e^-|x|).
Value buildScalarSoftplus(OpBuilder &b, Location loc, Value x);

/// Scalar sigmoid(x) = 1 / (1 + e^-x).
Value buildScalarSigmoid(OpBuilder &b, Location loc, Value x);

/// Scalar arithmetic on values of one float type, to keep formulas short.
struct ScalarBuilder {
  OpBuilder &b;
  Location loc;
  Type type;

  Value c(double v) { return createFloatConstant(b, loc, type, v); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value log(Value x) { return math::LogOp::create(b, loc, x); }
  Value log1p(Value x) { return math::Log1pOp::create(b, loc, x); }
  Value sqrt(Value x) { return math::SqrtOp::create(b, loc, x); }
  Value tanh(Value x) { return math::TanhOp::create(b, loc, x); }
  Value abs(Value x) { return math::AbsFOp::create(b, loc, x); }
  Value max(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value min(Value x, Value y) {
    return arith::MinimumFOp::create(b, loc, x, y);
  }
  Value softplus(Value x) { return buildScalarSoftplus(b, loc, x); }
  Value sigmoid(Value x) { return buildScalarSigmoid(b, loc, x); }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
  Value minusInfinity() { return c(-std::numeric_limits<double>::infinity()); }
};

/// A ScalarBuilder for values of the type of `x`.
inline ScalarBuilder scalarFor(OpBuilder &b, Location loc, Value x) {
  return {b, loc, x.getType()};
}

/// An increasing scalar function for buildMonotoneSolve: g(x) and g'(x).
using MonotoneFn =
    function_ref<std::pair<Value, Value>(OpBuilder &, Location, Value)>;

/// Solves g(x) = 0 for an increasing scalar g: brackets the root by doubling
/// [-1, 1] (64 steps, up to +-2^64), then takes Newton steps that stay inside
/// the bracket (bisection otherwise) until the bracket is narrower than
/// `tolerance` relative to max(1, |x|), at most 120 steps. Branch free
/// (scf.for with fixed trip counts), so it vectorizes across elements.
Value buildMonotoneSolve(OpBuilder &b, Location loc, Type type, MonotoneFn g,
                         double tolerance);

/// A rank-0 tensor holding `value`.
Value buildScalarTensor(OpBuilder &b, Location loc, Type elementType,
                        double value);

/// The values of a constant float tensor (dense or dense_resource),
/// row-major; failure if `value` is not such a constant.
FailureOr<SmallVector<double>> getConstantFloatValues(Value value);

/// The inverse of a permutation: result[perm[i]] = i.
SmallVector<int64_t> invertPermutation(ArrayRef<int64_t> perm);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_NFBUILDERS_H
