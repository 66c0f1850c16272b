//===- RadialOps.cpp - nf.radial: radial flow with closed-form inverse ----===//
//
//   z = x + beta h(r) (x - c),  r = ||x - c||,  h = 1 / (alpha + r),
//   V = (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(r) r).
// The inverse solves r + beta r / (alpha + r) = ||z - c|| in closed form.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

using namespace mlir;
using namespace mlir::nf;

LogicalResult RadialOp::verify() {
  if (failed(verifyBroadcastParameter(*this, "center", getCenter(),
                                      getInput().getType())))
    return failure();
  auto centerType = cast<RankedTensorType>(getCenter().getType());
  if (centerType.getShape() != getInput().getType().getShape().drop_front())
    return emitOpError("center must have the event shape");
  double alpha = getAlpha().convertToDouble();
  double beta = getBeta().convertToDouble();
  if (!(alpha > 0))
    return emitOpError("alpha must be positive, but is ") << alpha;
  if (!(beta >= -alpha))
    return emitOpError("beta must be >= -alpha for the map to be invertible, "
                       "but is ")
           << beta;
  return success();
}

/// Builds x -> z (or z -> x), returning the output and V at x.
static LayerValues buildRadial(RadialOp op, OpBuilder &b, Value in,
                               Value center, bool inverse, bool withLogDet) {
  Location loc = op.getLoc();
  RankedTensorType dataType = op.getInput().getType();
  Type elementType = dataType.getElementType();
  int64_t eventSize = 1;
  for (int64_t d : dataType.getShape().drop_front())
    eventSize *= d;
  auto c = [&](double v) {
    return createFloatConstant(b, loc, elementType, v);
  };
  Value alpha = c(op.getAlpha().convertToDouble());
  Value beta = c(op.getBeta().convertToDouble());

  // diff = in - center, and its norm per sample.
  SmallVector<Value> diffs = mapElementwise(
      b, loc, in, {in, center}, 2,
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value d = arith::SubFOp::create(nb, nloc, args[0], args[1]);
        return SmallVector<Value>{d, arith::MulFOp::create(nb, nloc, d, d)};
      });
  Value norm = mapSingleResult(
      b, loc, {sumEventDims(b, loc, diffs[1])},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return math::SqrtOp::create(nb, nloc, args[0]).getResult();
      });
  // r = ||x - c||: the norm itself, or the root of r^2 + (a + b - r_z) r -
  // a r_z = 0 for the inverse.
  Value radius =
      !inverse
          ? norm
          : mapSingleResult(
                b, loc, {norm},
                [&](OpBuilder &nb, Location nloc, ValueRange args) {
                  Value rz = args[0];
                  Value p = arith::SubFOp::create(
                      nb, nloc, arith::AddFOp::create(nb, nloc, alpha, beta),
                      rz);
                  Value disc = arith::AddFOp::create(
                      nb, nloc, arith::MulFOp::create(nb, nloc, p, p),
                      arith::MulFOp::create(
                          nb, nloc,
                          arith::MulFOp::create(nb, nloc, c(4.0), alpha), rz));
                  Value root = arith::SubFOp::create(
                      nb, nloc, math::SqrtOp::create(nb, nloc, disc), p);
                  return arith::MulFOp::create(nb, nloc, c(0.5), root)
                      .getResult();
                });
  // factor = 1 + beta h(r): z - c = factor (x - c).
  Value factor = mapSingleResult(
      b, loc, {radius}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value h = arith::DivFOp::create(
            nb, nloc, c(1.0), arith::AddFOp::create(nb, nloc, alpha, args[0]));
        return arith::AddFOp::create(nb, nloc, c(1.0),
                                     arith::MulFOp::create(nb, nloc, beta, h))
            .getResult();
      });
  Value full = broadcastPerSample(b, loc, factor, in);
  Value out = mapElementwise(
                  b, loc, in, {diffs[0], center, full}, 1,
                  [&](OpBuilder &nb, Location nloc, ValueRange args) {
                    Value scaled =
                        inverse
                            ? arith::DivFOp::create(nb, nloc, args[0], args[2])
                                  .getResult()
                            : arith::MulFOp::create(nb, nloc, args[0], args[2])
                                  .getResult();
                    return SmallVector<Value>{
                        arith::AddFOp::create(nb, nloc, args[1], scaled)};
                  })
                  .front();
  if (!withLogDet)
    return {out, Value()};
  // V = (D - 1) log(1 + beta h) + log(1 + beta h + beta h' r).
  Value logDet = mapSingleResult(
      b, loc, {radius, factor},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value r = args[0], f = args[1];
        Value ar = arith::AddFOp::create(nb, nloc, alpha, r);
        Value dh = arith::NegFOp::create(
            nb, nloc,
            arith::DivFOp::create(nb, nloc, c(1.0),
                                  arith::MulFOp::create(nb, nloc, ar, ar)));
        Value last = arith::AddFOp::create(
            nb, nloc, f,
            arith::MulFOp::create(
                nb, nloc, arith::MulFOp::create(nb, nloc, beta, dh), r));
        Value head = arith::MulFOp::create(
            nb, nloc, c(static_cast<double>(eventSize - 1)),
            math::LogOp::create(nb, nloc, f));
        return arith::AddFOp::create(nb, nloc, head,
                                     math::LogOp::create(nb, nloc, last))
            .getResult();
      });
  return {out, logDet};
}

FailureOr<LayerValues> RadialOp::buildForward(OpBuilder &b, ValueRange operands,
                                              bool withLogDet) {
  Adaptor adaptor(operands, *this);
  return buildRadial(*this, b, adaptor.getInput(), adaptor.getCenter(),
                     /*inverse=*/false, withLogDet);
}

FailureOr<LayerValues> RadialOp::buildInverse(OpBuilder &b, Value output,
                                              ValueRange operands,
                                              bool withLogDet) {
  Adaptor adaptor(operands, *this);
  return buildRadial(*this, b, output, adaptor.getCenter(), /*inverse=*/true,
                     withLogDet);
}
