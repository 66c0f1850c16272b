//===- PlanarOps.cpp - nf.planar: planar flow -----------------------------===//
//
//   z = x + u tanh(a),  a = w . x + bias,  V = log|1 + (1 - tanh^2 a) w.u|.
// The inverse reduces to one scalar equation per sample: w . z + bias =
// a + (w.u) tanh(a), increasing in a when w.u > -1, solved by the shared
// bracketed Newton solve; then x = z - u tanh(a).
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

using namespace mlir;
using namespace mlir::nf;

LogicalResult PlanarOp::verify() {
  auto vectorType = cast<RankedTensorType>(getU().getType());
  if (vectorType.getShape() != getInput().getType().getShape().drop_front())
    return emitOpError("u and w must have the event shape, but have type ")
           << vectorType;
  if (cast<RankedTensorType>(getBias().getType()).getRank() != 0)
    return emitOpError("bias must be a scalar tensor, but has type ")
           << getBias().getType();
  if (!(getTolerance().convertToDouble() > 0))
    return emitOpError("tolerance must be > 0");
  FailureOr<SmallVector<double>> u = getConstantFloatValues(getU());
  FailureOr<SmallVector<double>> w = getConstantFloatValues(getW());
  if (succeeded(u) && succeeded(w)) {
    double dot = 0;
    for (auto [ui, wi] : llvm::zip_equal(*u, *w))
      dot += ui * wi;
    if (!(dot > -1))
      return emitOpError("needs w . u > -1 to be invertible, but w . u = ")
             << dot;
  }
  return success();
}

/// Per sample: w . in + bias.
static Value buildProjection(OpBuilder &b, Location loc, Value in, Value w,
                             Value bias) {
  Value products = mapSingleResult(
      b, loc, {in, w}, [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::MulFOp::create(nb, nloc, args[0], args[1]).getResult();
      });
  return mapSingleResult(
      b, loc, {sumEventDims(b, loc, products), bias},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::AddFOp::create(nb, nloc, args[0], args[1]).getResult();
      });
}

static LayerValues buildPlanar(PlanarOp op, OpBuilder &b, ValueRange operands,
                               Value in, bool inverse, bool withLogDet) {
  PlanarOp::Adaptor adaptor(operands, op);
  Location loc = op.getLoc();
  Value u = adaptor.getU(), w = adaptor.getW();
  // w . u, once per call.
  Value wu = sumAll(
      b, loc,
      mapSingleResult(b, loc, {u, w},
                      [](OpBuilder &nb, Location nloc, ValueRange args) {
                        return arith::MulFOp::create(nb, nloc, args[0], args[1])
                            .getResult();
                      }));
  Value projection = buildProjection(b, loc, in, w, adaptor.getBias());
  double tolerance = op.getTolerance().convertToDouble();
  // a = w . x + bias: the projection itself, or the root of
  // a + wu tanh(a) = w . z + bias.
  Value preactivation =
      !inverse ? projection
               : mapSingleResult(
                     b, loc, {projection, wu},
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       Value target = args[0], dot = args[1];
                       auto g = [&](OpBuilder &gb, Location gloc, Value a) {
                         ScalarBuilder s = scalarFor(gb, gloc, a);
                         Value t = s.tanh(a);
                         Value value = s.sub(s.add(a, s.mul(dot, t)), target);
                         Value slope =
                             s.add(s.c(1.0),
                                   s.mul(dot, s.sub(s.c(1.0), s.mul(t, t))));
                         return std::make_pair(value, slope);
                       };
                       return buildMonotoneSolve(nb, nloc, target.getType(), g,
                                                 tolerance);
                     });
  Value activation = mapSingleResult(
      b, loc, {preactivation},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return math::TanhOp::create(nb, nloc, args[0]).getResult();
      });
  Value activationFull = broadcastPerSample(b, loc, activation, in);
  Value out = mapSingleResult(
      b, loc, {in, u, activationFull},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value step = s.mul(args[1], args[2]);
        return inverse ? s.sub(args[0], step) : s.add(args[0], step);
      });
  Value logDet;
  if (withLogDet)
    logDet = mapSingleResult(
        b, loc, {activation, wu},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          ScalarBuilder s = scalarFor(nb, nloc, args[0]);
          Value slope = s.sub(s.c(1.0), s.mul(args[0], args[0]));
          return s.log(s.abs(s.add(s.c(1.0), s.mul(slope, args[1]))));
        });
  return {out, logDet};
}

FailureOr<LayerValues> PlanarOp::buildForward(OpBuilder &b, ValueRange operands,
                                              bool withLogDet) {
  return buildPlanar(*this, b, operands, operands.front(), /*inverse=*/false,
                     withLogDet);
}

FailureOr<LayerValues> PlanarOp::buildInverse(OpBuilder &b, Value output,
                                              ValueRange operands,
                                              bool withLogDet) {
  return buildPlanar(*this, b, operands, output, /*inverse=*/true, withLogDet);
}
