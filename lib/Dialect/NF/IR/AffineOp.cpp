//===- AffineOp.cpp - nf.affine: verifier, map, inverse and V -------------===//
//
//   z = scale * x + shift,   x = (z - shift) / scale,   V = sum log|scale|.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::nf;

LogicalResult AffineOp::verify() {
  RankedTensorType dataType = getInput().getType();
  if (failed(verifyBroadcastParameter(*this, "scale", getScale(), dataType)) ||
      failed(verifyBroadcastParameter(*this, "shift", getShift(), dataType)))
    return failure();
  DenseFPElementsAttr scale;
  if (matchPattern(getScale(), m_Constant(&scale)) &&
      llvm::any_of(scale.getValues<APFloat>(),
                   [](const APFloat &v) { return v.isZero(); }))
    return emitOpError("scale has a zero entry, so the map is not invertible");
  return success();
}

/// V of z = scale * x + shift: per sample when the scale is, otherwise a
/// rank-0 value computed once per call.
static Value buildAffineLogDet(OpBuilder &b, Location loc, Value scale,
                               RankedTensorType dataType) {
  auto logAbs = [](OpBuilder &nb, Location nloc, ValueRange args) {
    Value abs = math::AbsFOp::create(nb, nloc, args[0]);
    return SmallVector<Value>{math::LogOp::create(nb, nloc, abs)};
  };
  Value logScale = mapElementwise(b, loc, scale, {scale}, 1, logAbs).front();
  auto scaleType = cast<RankedTensorType>(scale.getType());
  if (scaleType.getRank() == dataType.getRank())
    return sumEventDims(b, loc, logScale);

  Value total = scaleType.getRank() == 0 ? logScale : sumAll(b, loc, logScale);
  int64_t eventSize = 1;
  for (int64_t d : dataType.getShape().drop_front())
    eventSize *= d;
  int64_t repeats = eventSize / scaleType.getNumElements();
  if (repeats == 1)
    return total;
  Value factor =
      createFloatConstant(b, loc, dataType.getElementType(), repeats);
  return mapElementwise(b, loc, total, {total}, 1,
                        [&](OpBuilder &nb, Location nloc, ValueRange args) {
                          return SmallVector<Value>{
                              arith::MulFOp::create(nb, nloc, args[0], factor)};
                        })
      .front();
}

FailureOr<LayerValues> AffineOp::buildForward(OpBuilder &b, ValueRange operands,
                                              bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value z = mapElementwise(
                b, loc, adaptor.getInput(),
                {adaptor.getInput(), adaptor.getScale(), adaptor.getShift()}, 1,
                [](OpBuilder &nb, Location nloc, ValueRange args) {
                  Value scaled =
                      arith::MulFOp::create(nb, nloc, args[0], args[1]);
                  return SmallVector<Value>{
                      arith::AddFOp::create(nb, nloc, scaled, args[2])};
                })
                .front();
  Value logDet = withLogDet ? buildAffineLogDet(b, loc, adaptor.getScale(),
                                                getInput().getType())
                            : Value();
  return LayerValues{z, logDet};
}

FailureOr<LayerValues> AffineOp::buildInverse(OpBuilder &b, Value output,
                                              ValueRange operands,
                                              bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x =
      mapElementwise(
          b, loc, output, {output, adaptor.getScale(), adaptor.getShift()}, 1,
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            Value centered = arith::SubFOp::create(nb, nloc, args[0], args[2]);
            return SmallVector<Value>{
                arith::DivFOp::create(nb, nloc, centered, args[1])};
          })
          .front();
  Value logDet = withLogDet ? buildAffineLogDet(b, loc, adaptor.getScale(),
                                                getInput().getType())
                            : Value();
  return LayerValues{x, logDet};
}
