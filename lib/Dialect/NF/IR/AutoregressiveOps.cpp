//===- AutoregressiveOps.cpp - Masked autoregressive layers (MAF/IAF) -----===//
//
//   z_i = tau(x_i; h_i(x_{<i})),  h = conditioner(x [, c] [, params]),
// with tau affine (nf.affine_autoregressive) or a rational-quadratic spline
// (nf.rq_spline_autoregressive). The density direction is one conditioner
// pass. The generative direction is a loop: starting from x = 0, pass k
// makes feature k exact, so after D - 1 passes every parameter is exact and
// pass D gives x and V. `inverted` layers (IAF) swap the two directions and
// negate V. The ops' members are defined in ODS (NF_AutoregressiveOp) on top
// of the functions here, which see each op through
// ConditionedLayerOpInterface.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/AutoregressiveOps.h"

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::nf;

LogicalResult
mlir::nf::verifyAutoregressiveLayer(ConditionedLayerOpInterface op) {
  auto type = cast<RankedTensorType>(op.getInput().getType());
  if (type.getRank() != 2)
    return op.emitOpError("expects data of type tensor<?xDxT>, but got ")
           << type;
  return verifyContext(op, op.getCtx());
}

LogicalResult
mlir::nf::verifyAutoregressiveConditioner(ConditionedLayerOpInterface op,
                                          SymbolTableCollection &table,
                                          StringRef layout) {
  auto type = cast<RankedTensorType>(op.getInput().getType());
  int64_t features = type.getDimSize(1);
  Type elementType = type.getElementType();
  SmallVector<Type> inputs = {getBatchType(features, {}, elementType)};
  if (op.getCtx())
    inputs.push_back(op.getCtx().getType());
  llvm::append_range(inputs, op.getParams().getTypes());
  Type result =
      getBatchType(op.getTransformer().numParams * features, {}, elementType);
  return verifyConditionerType(op, table, op.getConditionerAttr(), inputs,
                               result, layout);
}

namespace {
/// The conditioner's remapped operands.
struct ConditionerArgs {
  Value context;
  ValueRange params;
};
} // namespace

/// One pass: tau (or tau^-1 with `inverse`) applied to `in` with the
/// parameters the conditioner computes from `conditioned`.
static LayerValues buildPass(ConditionedLayerOpInterface op, OpBuilder &b,
                             Location loc, ConditionerArgs args,
                             Value conditioned, Value in, bool inverse,
                             bool withLogDet) {
  Transformer transformer = op.getTransformer();
  auto type = cast<RankedTensorType>(op.getInput().getType());
  Type paramsType = getBatchType(transformer.numParams * type.getDimSize(1), {},
                                 type.getElementType());
  Value h = callConditioner(b, loc, op.getConditionerAttr(), conditioned,
                            args.context, args.params, paramsType);
  return applyTransformer(b, loc, transformer, in, h, inverse, withLogDet);
}

/// Solves out = tau^-1(in; h(out)) by D passes, the first D - 1 in a loop.
static LayerValues buildSequentialInverse(ConditionedLayerOpInterface op,
                                          OpBuilder &b, ConditionerArgs args,
                                          Value in, bool withLogDet) {
  Location loc = op.getLoc();
  int64_t features =
      cast<RankedTensorType>(op.getInput().getType()).getDimSize(1);
  Value zero =
      createFloatConstant(b, loc, getElementTypeOrSelf(in.getType()), 0.0);
  Value start =
      linalg::FillOp::create(b, loc, zero, createEmptyLike(b, loc, in))
          .getResult(0);
  auto loop = scf::ForOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0),
      arith::ConstantIndexOp::create(b, loc, features - 1),
      arith::ConstantIndexOp::create(b, loc, 1), ValueRange{start},
      [&](OpBuilder &nb, Location nloc, Value, ValueRange iter) {
        LayerValues pass = buildPass(op, nb, nloc, args, iter[0], in,
                                     /*inverse=*/true, /*withLogDet=*/false);
        scf::YieldOp::create(nb, nloc, pass.value);
      });
  return buildPass(op, b, loc, args, loop.getResult(0), in,
                   /*inverse=*/true, withLogDet);
}

LayerValues mlir::nf::buildAutoregressiveLayer(ConditionedLayerOpInterface op,
                                               bool inverted, OpBuilder &b,
                                               Value context, ValueRange params,
                                               Value in, bool inverse,
                                               bool withLogDet) {
  ConditionerArgs args{context, params};
  // tau^-1 is needed iff exactly one of (generative direction, IAF) holds.
  LayerValues values =
      inverse == inverted ? buildPass(op, b, op.getLoc(), args, in, in,
                                      /*inverse=*/false, withLogDet)
                          : buildSequentialInverse(op, b, args, in, withLogDet);
  // IAF: V = log|dz/dx| = -log tau'(z).
  if (inverted && values.logDet)
    values.logDet = negateLogDet(b, op.getLoc(), values.logDet);
  return values;
}

Transformer AffineAutoregressiveOp::getTransformer() {
  ScaleFn fn = getScaleFn();
  // nflows' MAF layout: (unconstrained scale, shift) per feature.
  return {
      2, ParamLayout::Interleaved,
      [=](OpBuilder &b, Location loc, Value in, ValueRange p, bool inverse) {
        return buildAffineTransform(b, loc, fn, /*shiftFirst=*/false, in, p[1],
                                    p[0], inverse);
      }};
}

Transformer RQSplineAutoregressiveOp::getTransformer() {
  RQSplineConfig config = getRQSplineConfig(*this, getBins());
  return {
      getRQSplineParamCount(config.bins), ParamLayout::Interleaved,
      [=](OpBuilder &b, Location loc, Value in, ValueRange p, bool inverse) {
        return buildRQSpline(b, loc, config, in, p, inverse);
      }};
}
