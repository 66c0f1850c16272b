//===- CouplingOps.cpp - Coupling layers ----------------------------------===//
//
//   h = conditioner(x_A [, c] [, params]),  z_A = x_A,  z_B = tau(x_B; h),
// with the transformer tau affine (nf.affine_coupling), a shift
// (nf.additive_coupling) or a rational-quadratic spline
// (nf.rq_spline_coupling). The inverse re-evaluates the conditioner on
// z_A = x_A and inverts only tau, so the conditioner is never inverted.
// Features are dimension 1: the features of a vector or the channels of an
// image. The three ops share every helper here through templates over their
// (identical) accessors.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

using namespace mlir;
using namespace mlir::nf;

/// The features not in `identity`, in increasing order.
template <typename CouplingOp>
static SmallVector<int64_t> getTransformedFeatures(CouplingOp op) {
  int64_t size = op.getInput().getType().getDimSize(1);
  ArrayRef<int64_t> identity = op.getIdentity();
  return llvm::to_vector(
      llvm::make_filter_range(llvm::seq<int64_t>(0, size), [&](int64_t i) {
        return !llvm::is_contained(identity, i);
      }));
}

template <typename CouplingOp>
static LogicalResult verifyCoupling(CouplingOp op) {
  int64_t size = op.getInput().getType().getDimSize(1);
  ArrayRef<int64_t> identity = op.getIdentity();
  if (identity.empty() || static_cast<int64_t>(identity.size()) >= size)
    return op.emitOpError("identity features must be a non-empty proper "
                          "subset of the ")
           << size << " features, but has " << identity.size() << " entries";
  for (auto [i, feature] : llvm::enumerate(identity)) {
    if (feature < 0 || feature >= size)
      return op.emitOpError("identity feature ")
             << feature << " is out of range [0, " << size << ")";
    if (i > 0 && feature <= identity[i - 1])
      return op.emitOpError("identity features must be strictly increasing");
  }
  return verifyContext(op, op.getCtx());
}

/// The conditioner must map (x_A [, context], params...) to the transformer's
/// parameters for every feature of B.
template <typename CouplingOp>
static LogicalResult verifyCouplingConditioner(CouplingOp op,
                                               SymbolTableCollection &table,
                                               StringRef layout) {
  RankedTensorType type = op.getInput().getType();
  ArrayRef<int64_t> spatial = type.getShape().drop_front(2);
  Type elementType = type.getElementType();
  SmallVector<Type> inputs = {
      getBatchType(op.getIdentity().size(), spatial, elementType)};
  if (op.getCtx())
    inputs.push_back(op.getCtx().getType());
  llvm::append_range(inputs, op.getParams().getTypes());
  int64_t numParams = op.getTransformer().numParams;
  Type result = getBatchType(numParams * getTransformedFeatures(op).size(),
                             spatial, elementType);
  return verifyConditionerType(op, table, op.getConditionerAttr(), inputs,
                               result, layout);
}

/// Builds the coupling map (or its inverse) on `in`: x for the normalizing
/// direction, z for the generative one. x_A = z_A, so both directions
/// evaluate the conditioner on the same values.
template <typename CouplingOp>
static LayerValues buildCoupling(CouplingOp op, OpBuilder &b,
                                 ValueRange operands, Value in, bool inverse,
                                 bool withLogDet) {
  typename CouplingOp::Adaptor adaptor(operands, op);
  Location loc = op.getLoc();
  RankedTensorType type = op.getInput().getType();
  SmallVector<int64_t> identity(op.getIdentity());
  SmallVector<int64_t> transformed = getTransformedFeatures(op);
  Transformer transformer = op.getTransformer();

  Value inA = gatherFeatures(b, loc, in, identity);
  Value inB = gatherFeatures(b, loc, in, transformed);
  Type paramsType =
      getBatchType(transformer.numParams * transformed.size(),
                   type.getShape().drop_front(2), type.getElementType());
  Value params =
      callConditioner(b, loc, op.getConditionerAttr(), inA, adaptor.getCtx(),
                      adaptor.getParams(), paramsType);
  LayerValues outB =
      applyTransformer(b, loc, transformer, inB, params, inverse, withLogDet);
  // Put A and B back in feature order.
  Value merged =
      mergeFeatures(b, loc, in, {inA, outB.value}, {identity, transformed});
  return {merged, outB.logDet};
}

/// Checks of a transformer's attributes: none, except for splines.
static LogicalResult verifyTransformerShape(Operation *) { return success(); }
static LogicalResult verifyTransformerShape(RQSplineCouplingOp op) {
  return verifyRQSplineConfig(op, getRQSplineConfig(op, op.getBins()));
}

/// Defines the members every coupling op shares.
#define NF_DEFINE_COUPLING_OP(Op, Layout)                                      \
  SmallVector<int64_t> Op::getTransformed() {                                  \
    return getTransformedFeatures(*this);                                      \
  }                                                                            \
  LogicalResult Op::verify() {                                                 \
    return failure(failed(verifyCoupling(*this)) ||                            \
                   failed(verifyTransformerShape(*this)));                     \
  }                                                                            \
  LogicalResult Op::verifySymbolUses(SymbolTableCollection &table) {           \
    return verifyCouplingConditioner(*this, table, Layout);                    \
  }                                                                            \
  FailureOr<LayerValues> Op::buildForward(OpBuilder &b, ValueRange operands,   \
                                          bool withLogDet) {                   \
    return buildCoupling(*this, b, operands, operands.front(),                 \
                         /*inverse=*/false, withLogDet);                       \
  }                                                                            \
  FailureOr<LayerValues> Op::buildInverse(                                     \
      OpBuilder &b, Value output, ValueRange operands, bool withLogDet) {      \
    return buildCoupling(*this, b, operands, output, /*inverse=*/true,         \
                         withLogDet);                                          \
  }

NF_DEFINE_COUPLING_OP(AffineCouplingOp,
                      "a block of shifts, then a block of unconstrained scales")
NF_DEFINE_COUPLING_OP(AdditiveCouplingOp, "the shifts")
NF_DEFINE_COUPLING_OP(RQSplineCouplingOp,
                      "per transformed feature, K widths, K heights and K - 1 "
                      "derivatives (raw)")

Transformer AffineCouplingOp::getTransformer() {
  ScaleFn fn = getScaleFn();
  bool shiftFirst = getShiftFirst();
  return {
      2, ParamLayout::Blocked,
      [=](OpBuilder &b, Location loc, Value in, ValueRange p, bool inverse) {
        return buildAffineTransform(b, loc, fn, shiftFirst, in, p[0], p[1],
                                    inverse);
      }};
}

Transformer AdditiveCouplingOp::getTransformer() {
  // Volume preserving: no log-det term.
  return {1, ParamLayout::Blocked,
          [](OpBuilder &b, Location loc, Value in, ValueRange p, bool inverse) {
            ScalarBuilder s = scalarFor(b, loc, in);
            return std::make_pair(inverse ? s.sub(in, p[0]) : s.add(in, p[0]),
                                  Value());
          }};
}

Transformer RQSplineCouplingOp::getTransformer() {
  RQSplineConfig config = getRQSplineConfig(*this, getBins());
  return {
      getRQSplineParamCount(config.bins), ParamLayout::Interleaved,
      [=](OpBuilder &b, Location loc, Value in, ValueRange p, bool inverse) {
        return buildRQSpline(b, loc, config, in, p, inverse);
      }};
}
