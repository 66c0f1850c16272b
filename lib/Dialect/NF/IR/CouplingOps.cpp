//===- CouplingOps.cpp - Coupling layers ----------------------------------===//
//
//   h = conditioner(x_A [, c] [, params]),  z_A = x_A,  z_B = tau(x_B; h),
// with the transformer tau affine (nf.affine_coupling), a shift
// (nf.additive_coupling) or a rational-quadratic spline
// (nf.rq_spline_coupling). The inverse re-evaluates the conditioner on
// z_A = x_A and inverts only tau, so the conditioner is never inverted.
// Features are dimension 1: the features of a vector or the channels of an
// image. The ops' members are defined in ODS (NF_CouplingOp) on top of the
// functions here, which see each op through ConditionedLayerOpInterface.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/CouplingOps.h"

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

using namespace mlir;
using namespace mlir::nf;

/// The features (dimension 1) of the layer's input.
static int64_t getFeatureCount(ConditionedLayerOpInterface op) {
  return cast<RankedTensorType>(op.getInput().getType()).getDimSize(1);
}

SmallVector<int64_t>
mlir::nf::getCouplingTransformedFeatures(ConditionedLayerOpInterface op,
                                         ArrayRef<int64_t> identity) {
  int64_t size = getFeatureCount(op);
  return llvm::to_vector(
      llvm::make_filter_range(llvm::seq<int64_t>(0, size), [&](int64_t i) {
        return !llvm::is_contained(identity, i);
      }));
}

LogicalResult mlir::nf::verifyCouplingLayer(ConditionedLayerOpInterface op,
                                            ArrayRef<int64_t> identity) {
  int64_t size = getFeatureCount(op);
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

LogicalResult mlir::nf::verifyCouplingConditioner(
    ConditionedLayerOpInterface op, ArrayRef<int64_t> identity,
    SymbolTableCollection &table, StringRef layout) {
  auto type = cast<RankedTensorType>(op.getInput().getType());
  ArrayRef<int64_t> spatial = type.getShape().drop_front(2);
  Type elementType = type.getElementType();
  SmallVector<Type> inputs = {
      getBatchType(identity.size(), spatial, elementType)};
  if (op.getCtx())
    inputs.push_back(op.getCtx().getType());
  llvm::append_range(inputs, op.getParams().getTypes());
  int64_t numParams = op.getTransformer().numParams;
  Type result = getBatchType(
      numParams * getCouplingTransformedFeatures(op, identity).size(), spatial,
      elementType);
  return verifyConditionerType(op, table, op.getConditionerAttr(), inputs,
                               result, layout);
}

LayerValues mlir::nf::buildCouplingLayer(ConditionedLayerOpInterface op,
                                         ArrayRef<int64_t> identity,
                                         OpBuilder &b, Value context,
                                         ValueRange params, Value in,
                                         bool inverse, bool withLogDet) {
  Location loc = op.getLoc();
  auto type = cast<RankedTensorType>(op.getInput().getType());
  SmallVector<int64_t> transformed =
      getCouplingTransformedFeatures(op, identity);
  Transformer transformer = op.getTransformer();

  Value inA = gatherFeatures(b, loc, in, identity);
  Value inB = gatherFeatures(b, loc, in, transformed);
  Type paramsType =
      getBatchType(transformer.numParams * transformed.size(),
                   type.getShape().drop_front(2), type.getElementType());
  Value h = callConditioner(b, loc, op.getConditionerAttr(), inA, context,
                            params, paramsType);
  LayerValues outB =
      applyTransformer(b, loc, transformer, inB, h, inverse, withLogDet);
  // Put A and B back in feature order.
  Value merged = mergeFeatures(b, loc, in, {inA, outB.value},
                               {llvm::to_vector(identity), transformed});
  return {merged, outB.logDet};
}

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
