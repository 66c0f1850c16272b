//===- AffineOps.cpp - nf.affine, nf.actnorm, nf.batch_norm ---------------===//
//
// Affine layers with broadcast parameters:
//   z = scale * x + shift,   x = (z - shift) / scale,   V = sum log|scale|.
// ActNorm broadcasts per channel; inference-mode BatchNorm is the affine map
// with scale = exp(log_gamma) / sqrt(var + eps), shift = beta - mean * scale.
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

/// The affine map (or its inverse) on `in` with broadcast `scale` and
/// `shift`, and V if asked.
static LayerValues buildAffineLayer(OpBuilder &b, Location loc, Value in,
                                    Value scale, Value shift,
                                    RankedTensorType dataType, bool inverse,
                                    bool withLogDet) {
  Value out =
      mapElementwise(
          b, loc, in, {in, scale, shift}, 1,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value result;
            if (inverse) {
              Value centered =
                  arith::SubFOp::create(nb, nloc, args[0], args[2]);
              result = arith::DivFOp::create(nb, nloc, centered, args[1]);
            } else {
              Value scaled = arith::MulFOp::create(nb, nloc, args[0], args[1]);
              result = arith::AddFOp::create(nb, nloc, scaled, args[2]);
            }
            return SmallVector<Value>{result};
          })
          .front();
  Value logDet =
      withLogDet ? buildAffineLogDet(b, loc, scale, dataType) : Value();
  return {out, logDet};
}

/// The map (in = x, or null for the op's input) or inverse (in = z) of an op
/// with `scale` and `shift` operands (nf.affine, nf.actnorm).
template <typename ScaleShiftOp>
static LayerValues buildScaleShift(ScaleShiftOp op, OpBuilder &b,
                                   ValueRange operands, Value in, bool inverse,
                                   bool withLogDet) {
  typename ScaleShiftOp::Adaptor adaptor(operands, op);
  return buildAffineLayer(b, op.getLoc(), in ? in : adaptor.getInput(),
                          adaptor.getScale(), adaptor.getShift(),
                          op.getInput().getType(), inverse, withLogDet);
}

//===----------------------------------------------------------------------===//
// nf.affine
//===----------------------------------------------------------------------===//

FailureOr<LayerValues> AffineOp::buildForward(OpBuilder &b, ValueRange operands,
                                              bool withLogDet) {
  return buildScaleShift(*this, b, operands, Value(), /*inverse=*/false,
                         withLogDet);
}

FailureOr<LayerValues> AffineOp::buildInverse(OpBuilder &b, Value output,
                                              ValueRange operands,
                                              bool withLogDet) {
  return buildScaleShift(*this, b, operands, output, /*inverse=*/true,
                         withLogDet);
}

//===----------------------------------------------------------------------===//
// nf.actnorm
//===----------------------------------------------------------------------===//

/// Checks that `param` is a tensor<C x T> for the C channels of `dataType`.
static LogicalResult verifyChannelParameter(Operation *op, StringRef name,
                                            Value param,
                                            RankedTensorType dataType) {
  auto type = cast<RankedTensorType>(param.getType());
  int64_t channels = dataType.getDimSize(1);
  if (type.getRank() == 1 && type.getDimSize(0) == channels)
    return success();
  return op->emitOpError("parameter '")
         << name << "' must have one value per channel ("
         << RankedTensorType::get({channels}, dataType.getElementType())
         << "), but has type " << type;
}

LogicalResult ActNormOp::verify() {
  RankedTensorType dataType = getInput().getType();
  if (failed(verifyChannelParameter(*this, "scale", getScale(), dataType)))
    return failure();
  return verifyChannelParameter(*this, "shift", getShift(), dataType);
}

FailureOr<LayerValues>
ActNormOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  return buildScaleShift(*this, b, operands, Value(), /*inverse=*/false,
                         withLogDet);
}

FailureOr<LayerValues> ActNormOp::buildInverse(OpBuilder &b, Value output,
                                               ValueRange operands,
                                               bool withLogDet) {
  return buildScaleShift(*this, b, operands, output, /*inverse=*/true,
                         withLogDet);
}

//===----------------------------------------------------------------------===//
// nf.batch_norm
//===----------------------------------------------------------------------===//

LogicalResult BatchNormOp::verify() {
  RankedTensorType dataType = getInput().getType();
  if (failed(verifyChannelParameter(*this, "mean", getMean(), dataType)))
    return failure();
  if (!(getEpsilon().convertToDouble() >= 0))
    return emitOpError("epsilon must be >= 0");
  DenseFPElementsAttr variance;
  if (matchPattern(getVariance(), m_Constant(&variance)) &&
      llvm::any_of(variance.getValues<APFloat>(), [&](const APFloat &v) {
        return !(v.convertToDouble() + getEpsilon().convertToDouble() > 0);
      }))
    return emitOpError("variance + epsilon must be positive");
  return success();
}

/// The equivalent affine parameters (per channel).
static std::pair<Value, Value>
buildBatchNormAffine(BatchNormOp op, OpBuilder &b, BatchNormOp::Adaptor a) {
  Location loc = op.getLoc();
  Type elementType = op.getInput().getType().getElementType();
  Value epsilon = createFloatConstant(b, loc, elementType,
                                      op.getEpsilon().convertToDouble());
  SmallVector<Value> params = mapElementwise(
      b, loc, a.getMean(),
      {a.getMean(), a.getVariance(), a.getLogGamma(), a.getBeta()}, 2,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        // scale = exp(log_gamma) / sqrt(var + eps), shift = beta - mean scale
        Value stddev = math::SqrtOp::create(
            nb, nloc, arith::AddFOp::create(nb, nloc, args[1], epsilon));
        Value scale = arith::DivFOp::create(
            nb, nloc, math::ExpOp::create(nb, nloc, args[2]), stddev);
        Value shift = arith::SubFOp::create(
            nb, nloc, args[3], arith::MulFOp::create(nb, nloc, args[0], scale));
        return SmallVector<Value>{scale, shift};
      });
  return {params[0], params[1]};
}

FailureOr<LayerValues>
BatchNormOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  auto [scale, shift] = buildBatchNormAffine(*this, b, adaptor);
  return buildAffineLayer(b, getLoc(), adaptor.getInput(), scale, shift,
                          getInput().getType(), /*inverse=*/false, withLogDet);
}

FailureOr<LayerValues> BatchNormOp::buildInverse(OpBuilder &b, Value output,
                                                 ValueRange operands,
                                                 bool withLogDet) {
  Adaptor adaptor(operands, *this);
  auto [scale, shift] = buildBatchNormAffine(*this, b, adaptor);
  return buildAffineLayer(b, getLoc(), output, scale, shift,
                          getInput().getType(), /*inverse=*/true, withLogDet);
}
