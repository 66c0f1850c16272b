//===- AutoregressiveOps.cpp - Masked autoregressive layers (MAF/IAF) -----===//
//
//   z_i = tau(x_i; h_i(x_{<i})),  h = conditioner(x [, c] [, params]),
// with tau affine (nf.affine_autoregressive) or a rational-quadratic spline
// (nf.rq_spline_autoregressive). The density direction is one conditioner
// pass. The generative direction is a loop: starting from x = 0, pass k
// makes feature k exact, so after D - 1 passes every parameter is exact and
// pass D gives x and V. `inverted` layers (IAF) swap the two directions and
// negate V.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::nf;

template <typename AutoregressiveOp>
static LogicalResult verifyAutoregressive(AutoregressiveOp op) {
  RankedTensorType type = op.getInput().getType();
  if (type.getRank() != 2)
    return op.emitOpError("expects data of type tensor<?xDxT>, but got ")
           << type;
  return verifyContext(op, op.getCtx());
}

template <typename AutoregressiveOp>
static LogicalResult verifyAutoregressiveConditioner(
    AutoregressiveOp op, SymbolTableCollection &table, StringRef layout) {
  RankedTensorType type = op.getInput().getType();
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

/// One pass: tau (or tau^-1 with `inverse`) applied to `in` with the
/// parameters the conditioner computes from `conditioned`.
template <typename AutoregressiveOp>
static LayerValues buildPass(AutoregressiveOp op, OpBuilder &b, Location loc,
                             typename AutoregressiveOp::Adaptor adaptor,
                             Value conditioned, Value in, bool inverse,
                             bool withLogDet) {
  Transformer transformer = op.getTransformer();
  RankedTensorType type = op.getInput().getType();
  Type paramsType = getBatchType(transformer.numParams * type.getDimSize(1), {},
                                 type.getElementType());
  Value params =
      callConditioner(b, loc, op.getConditionerAttr(), conditioned,
                      adaptor.getCtx(), adaptor.getParams(), paramsType);
  return applyTransformer(b, loc, transformer, in, params, inverse, withLogDet);
}

/// Solves out = tau^-1(in; h(out)) by D passes, the first D - 1 in a loop.
template <typename AutoregressiveOp>
static LayerValues
buildSequentialInverse(AutoregressiveOp op, OpBuilder &b,
                       typename AutoregressiveOp::Adaptor adaptor, Value in,
                       bool withLogDet) {
  Location loc = op.getLoc();
  int64_t features = op.getInput().getType().getDimSize(1);
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
        LayerValues pass = buildPass(op, nb, nloc, adaptor, iter[0], in,
                                     /*inverse=*/true, /*withLogDet=*/false);
        scf::YieldOp::create(nb, nloc, pass.value);
      });
  return buildPass(op, b, loc, adaptor, loop.getResult(0), in,
                   /*inverse=*/true, withLogDet);
}

/// The layer's map (`inverse` false) or inverse; V at x in both directions.
template <typename AutoregressiveOp>
static LayerValues buildAutoregressive(AutoregressiveOp op, OpBuilder &b,
                                       ValueRange operands, Value in,
                                       bool inverse, bool withLogDet) {
  typename AutoregressiveOp::Adaptor adaptor(operands, op);
  bool inverted = op.getInverted();
  // tau^-1 is needed iff exactly one of (generative direction, IAF) holds.
  LayerValues values =
      inverse == inverted
          ? buildPass(op, b, op.getLoc(), adaptor, in, in, /*inverse=*/false,
                      withLogDet)
          : buildSequentialInverse(op, b, adaptor, in, withLogDet);
  // IAF: V = log|dz/dx| = -log tau'(z).
  if (inverted && values.logDet)
    values.logDet = negateLogDet(b, op.getLoc(), values.logDet);
  return values;
}

/// Defines the members every autoregressive op shares.
#define NF_DEFINE_AUTOREGRESSIVE_OP(Op, Layout)                                \
  LogicalResult Op::verify() {                                                 \
    return failure(failed(verifyAutoregressive(*this)) ||                      \
                   failed(verifyTransformerShape(*this)));                     \
  }                                                                            \
  LogicalResult Op::verifySymbolUses(SymbolTableCollection &table) {           \
    return verifyAutoregressiveConditioner(*this, table, Layout);              \
  }                                                                            \
  FailureOr<LayerValues> Op::buildForward(OpBuilder &b, ValueRange operands,   \
                                          bool withLogDet) {                   \
    return buildAutoregressive(*this, b, operands, operands.front(),           \
                               /*inverse=*/false, withLogDet);                 \
  }                                                                            \
  FailureOr<LayerValues> Op::buildInverse(                                     \
      OpBuilder &b, Value output, ValueRange operands, bool withLogDet) {      \
    return buildAutoregressive(*this, b, operands, output, /*inverse=*/true,   \
                               withLogDet);                                    \
  }

static LogicalResult verifyTransformerShape(AffineAutoregressiveOp) {
  return success();
}
static LogicalResult verifyTransformerShape(RQSplineAutoregressiveOp op) {
  return verifyRQSplineConfig(op, getRQSplineConfig(op, op.getBins()));
}

NF_DEFINE_AUTOREGRESSIVE_OP(AffineAutoregressiveOp,
                            "per feature, the unconstrained scale, then the "
                            "shift")
NF_DEFINE_AUTOREGRESSIVE_OP(RQSplineAutoregressiveOp,
                            "per feature, K widths, K heights and K - 1 "
                            "derivatives (raw)")

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
