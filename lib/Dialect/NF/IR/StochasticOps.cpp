//===- StochasticOps.cpp - Stochastic layers ------------------------------===//
//
// Both directions draw; V = log p(x | z) - log q(z | x):
//   nf.vae  z ~ q(z | x), x ~ p(x | z) (diagonal normals)
//   nf.cif  u ~ q(u | x), z = u-indexed affine map of x, V adds log p(u | z)
// (nf.random_permutation is with the permutation layers.) Each direction
// takes uniform noise from the kernel's layer noise unless the op has an
// explicit noise operand for it.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"

#include "nf/Dialect/NF/IR/DiagonalNormal.h"
#include "nf/Dialect/NF/IR/LayerNoise.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nf;

//===----------------------------------------------------------------------===//
// nf.vae
//===----------------------------------------------------------------------===//

LogicalResult VAEOp::verify() {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (in.getRank() != 2 || out.getRank() != 2)
    return emitOpError("maps tensor<?xDxT> to tensor<?xLxT>, not ")
           << in << " to " << out;
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  if (failed(verifyNoiseType(*this, getEncoderNoise(), out,
                             "standard normal draws of z")))
    return failure();
  return verifyNoiseType(*this, getDecoderNoise(), in,
                         "standard normal draws of x");
}

LogicalResult VAEOp::verifySymbolUses(SymbolTableCollection &table) {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (!getEncoderAttr() || !getDecoderAttr())
    return emitOpError("needs an encoder and a decoder");
  return failure(
      failed(verifyDensityFunction(*this, table, getEncoderAttr(), in, getCtx(),
                                   getEncoderParams(), out)) ||
      failed(verifyDensityFunction(*this, table, getDecoderAttr(), out,
                                   getCtx(), getDecoderParams(), in)));
}

NoiseDraws VAEOp::getNoiseDraws(bool inverse) {
  // The generative direction draws x, the normalizing one z.
  if (inverse)
    return {getDecoderNoise(), /*uniforms=*/0,
            /*normals=*/getEventSize(getInput().getType())};
  return {getEncoderNoise(), /*uniforms=*/0,
          /*normals=*/getEventSize(getOutput().getType())};
}

/// V = log p(x | z) - log q(z | x) for a pair drawn either way.
static Value buildVAELogDet(VAEOp op, OpBuilder &b, Location loc,
                            VAEOp::Adaptor adaptor, Value x, Value z) {
  RankedTensorType in = op.getInput().getType(), out = op.getOutput().getType();
  auto [encoderMean, encoderLogStd] =
      buildDiagonalNormal(b, loc, op.getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getEncoderParams(), out);
  auto [decoderMean, decoderLogStd] =
      buildDiagonalNormal(b, loc, op.getDecoderAttr(), z, adaptor.getCtx(),
                          adaptor.getDecoderParams(), in);
  Value logQ = buildGaussianLogDensity(
      b, loc, buildStandardized(b, loc, z, encoderMean, encoderLogStd),
      encoderLogStd);
  Value logP = buildGaussianLogDensity(
      b, loc, buildStandardized(b, loc, x, decoderMean, decoderLogStd),
      decoderLogStd);
  return addLogDets(b, loc, logP, negateLogDet(b, loc, logQ));
}

FailureOr<LayerValues> VAEOp::buildForward(OpBuilder &b, ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  Value eps = adaptor.getEncoderNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), getOutput().getType());
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getEncoderParams(), getOutput().getType());
  Value z = buildGaussianDraw(b, loc, eps, mean, logStd);
  return LayerValues{
      z, withLogDet ? buildVAELogDet(*this, b, loc, adaptor, x, z) : Value()};
}

FailureOr<LayerValues> VAEOp::buildInverse(OpBuilder &b, Value z,
                                           ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value eps = adaptor.getDecoderNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), getInput().getType());
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getDecoderAttr(), z, adaptor.getCtx(),
                          adaptor.getDecoderParams(), getInput().getType());
  Value x = buildGaussianDraw(b, loc, eps, mean, logStd);
  return LayerValues{
      x, withLogDet ? buildVAELogDet(*this, b, loc, adaptor, x, z) : Value()};
}

//===----------------------------------------------------------------------===//
// nf.cif
//===----------------------------------------------------------------------===//

/// The index u's type: `tensor<?xUxT>`.
static RankedTensorType getIndexType(CIFOp op) {
  RankedTensorType type = op.getInput().getType();
  return RankedTensorType::get(
      {ShapedType::kDynamic, static_cast<int64_t>(op.getIndexFeatures())},
      type.getElementType());
}

LogicalResult CIFOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT>, but got ") << type;
  if (static_cast<int64_t>(getIndexFeatures()) < 1)
    return emitOpError("needs index_features >= 1");
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  RankedTensorType index = getIndexType(*this);
  if (failed(verifyNoiseType(*this, getForwardNoise(), index,
                             "standard normal draws of u")))
    return failure();
  return verifyNoiseType(*this, getInverseNoise(), index,
                         "standard normal draws of u");
}

LogicalResult CIFOp::verifySymbolUses(SymbolTableCollection &table) {
  RankedTensorType type = getInput().getType(), index = getIndexType(*this);
  if (failed(verifyDensityFunction(*this, table, getEncoderAttr(), type,
                                   getCtx(), getEncoderParams(), index)) ||
      failed(verifyDensityFunction(*this, table, getDecoderAttr(), type,
                                   getCtx(), getDecoderParams(), index)))
    return failure();
  SmallVector<Type> inputs = {index};
  if (Value context = getCtx())
    inputs.push_back(context.getType());
  llvm::append_range(inputs, getTransformParams().getTypes());
  return verifyConditionerType(
      *this, table, getTransformAttr(), inputs,
      getBatchType(2 * type.getDimSize(1), {}, type.getElementType()),
      "the shifts, then the log scales of x");
}

NoiseDraws CIFOp::getNoiseDraws(bool inverse) {
  return {inverse ? getInverseNoise() : getForwardNoise(), /*uniforms=*/0,
          /*normals=*/static_cast<int64_t>(getIndexFeatures())};
}

namespace {
/// The shift and log scale that index u gives the affine map of x.
struct CIFTransform {
  Value shift, logScale;
};
} // namespace

static CIFTransform buildCIFTransform(CIFOp op, OpBuilder &b, Location loc,
                                      CIFOp::Adaptor adaptor, Value u) {
  int64_t features = op.getInput().getType().getDimSize(1);
  Value h = callConditioner(
      b, loc, op.getTransformAttr(), u, adaptor.getCtx(),
      adaptor.getTransformParams(),
      getBatchType(2 * features, {}, op.getInput().getType().getElementType()));
  return {sliceFeatures(b, loc, h, 0, features),
          sliceFeatures(b, loc, h, features, features)};
}

/// V = sum log_scale(u) + log p(u | z) - log q(u | x).
static Value buildCIFLogDet(CIFOp op, OpBuilder &b, Location loc,
                            CIFOp::Adaptor adaptor, Value x, Value z, Value u,
                            Value logScale) {
  RankedTensorType index = getIndexType(op);
  auto logDensity = [&](FlatSymbolRefAttr density, Value given,
                        ValueRange params) {
    auto [mean, logStd] = buildDiagonalNormal(b, loc, density, given,
                                              adaptor.getCtx(), params, index);
    return buildGaussianLogDensity(
        b, loc, buildStandardized(b, loc, u, mean, logStd), logStd);
  };
  Value logP = logDensity(op.getDecoderAttr(), z, adaptor.getDecoderParams());
  Value logQ = logDensity(op.getEncoderAttr(), x, adaptor.getEncoderParams());
  return mapSingleResult(b, loc, {sumEventDims(b, loc, logScale), logP, logQ},
                         [](OpBuilder &nb, Location nloc, ValueRange args) {
                           ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                           return s.sub(s.add(args[0], args[1]), args[2]);
                         });
}

/// u ~ N(mean, std^2) of `density` at `given`, from `eps` (or the layer noise).
static Value buildIndexDraw(CIFOp op, OpBuilder &b, Location loc,
                            CIFOp::Adaptor adaptor, ValueRange operands,
                            Value eps, FlatSymbolRefAttr density, Value given,
                            ValueRange params) {
  RankedTensorType index = getIndexType(op);
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), index);
  auto [mean, logStd] = buildDiagonalNormal(b, loc, density, given,
                                            adaptor.getCtx(), params, index);
  return buildGaussianDraw(b, loc, eps, mean, logStd);
}

FailureOr<LayerValues> CIFOp::buildForward(OpBuilder &b, ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  Value u = buildIndexDraw(*this, b, loc, adaptor, operands,
                           adaptor.getForwardNoise(), getEncoderAttr(), x,
                           adaptor.getEncoderParams());
  CIFTransform t = buildCIFTransform(*this, b, loc, adaptor, u);
  Value z =
      mapSingleResult(b, loc, {x, t.shift, t.logScale},
                      [](OpBuilder &nb, Location nloc, ValueRange args) {
                        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                        return s.mul(s.add(args[0], args[1]), s.exp(args[2]));
                      });
  return LayerValues{z, withLogDet ? buildCIFLogDet(*this, b, loc, adaptor, x,
                                                    z, u, t.logScale)
                                   : Value()};
}

FailureOr<LayerValues> CIFOp::buildInverse(OpBuilder &b, Value z,
                                           ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value u = buildIndexDraw(*this, b, loc, adaptor, operands,
                           adaptor.getInverseNoise(), getDecoderAttr(), z,
                           adaptor.getDecoderParams());
  CIFTransform t = buildCIFTransform(*this, b, loc, adaptor, u);
  Value x = mapSingleResult(
      b, loc, {z, t.shift, t.logScale},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.sub(s.mul(args[0], s.exp(s.neg(args[2]))), args[1]);
      });
  return LayerValues{x, withLogDet ? buildCIFLogDet(*this, b, loc, adaptor, x,
                                                    z, u, t.logScale)
                                   : Value()};
}
