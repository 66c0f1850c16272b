//===- NFAttrs.cpp - Base distributions -----------------------------------===//

#include "nf/Dialect/NF/IR/NFAttrs.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::nf;

/// Checks that the parameter `param` of a base distribution has the event
/// shape and element type of `latentType`.
static LogicalResult
verifyEventShaped(function_ref<InFlightDiagnostic()> emitError, StringRef name,
                  DenseFPElementsAttr param, RankedTensorType latentType) {
  auto paramType = cast<RankedTensorType>(param.getType());
  ArrayRef<int64_t> eventShape = latentType.getShape().drop_front();
  if (paramType.getShape() != eventShape ||
      paramType.getElementType() != latentType.getElementType())
    return emitError() << "base distribution parameter '" << name
                       << "' has type " << paramType << ", but the latent "
                       << latentType
                       << " needs the event shape and element type "
                       << RankedTensorType::get(eventShape,
                                                latentType.getElementType());
  return success();
}

/// Checks that two parameters of a base distribution have one type.
static LogicalResult
verifySameType(function_ref<InFlightDiagnostic()> emitError, StringRef lhsName,
               DenseFPElementsAttr lhs, StringRef rhsName,
               DenseFPElementsAttr rhs) {
  if (lhs.getType() != rhs.getType())
    return emitError() << "'" << lhsName << "' and '" << rhsName
                       << "' must have the same type, but have "
                       << lhs.getType() << " and " << rhs.getType();
  return success();
}

LogicalResult
StandardNormalAttr::verifyLatentType(function_ref<InFlightDiagnostic()>,
                                     RankedTensorType) const {
  return success();
}

LogicalResult
DiagNormalAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       DenseFPElementsAttr mean, DenseFPElementsAttr logStd) {
  return verifySameType(emitError, "mean", mean, "log_std", logStd);
}

LogicalResult
DiagNormalAttr::verifyLatentType(function_ref<InFlightDiagnostic()> emitError,
                                 RankedTensorType latentType) const {
  return verifyEventShaped(emitError, "mean", getMean(), latentType);
}

LogicalResult UniformAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  DenseFPElementsAttr low,
                                  DenseFPElementsAttr high) {
  if (failed(verifySameType(emitError, "low", low, "high", high)))
    return failure();
  for (auto [i, bounds] : llvm::enumerate(
           llvm::zip(low.getValues<APFloat>(), high.getValues<APFloat>()))) {
    auto [lo, hi] = bounds;
    if (!(lo < hi))
      return emitError() << "uniform box is empty: low >= high at element "
                         << i;
  }
  return success();
}

LogicalResult
UniformAttr::verifyLatentType(function_ref<InFlightDiagnostic()> emitError,
                              RankedTensorType latentType) const {
  return verifyEventShaped(emitError, "low", getLow(), latentType);
}

//===----------------------------------------------------------------------===//
// Density and sampling builders
//===----------------------------------------------------------------------===//

/// -D/2 log(2 pi) - 1/2 sum_i u_i^2 - sumLogStd, per sample, with u = `u`.
static Value buildGaussianLogProb(OpBuilder &b, Location loc, Value u,
                                  double sumLogStd) {
  auto type = cast<RankedTensorType>(u.getType());
  int64_t eventSize = 1;
  for (int64_t d : type.getShape().drop_front())
    eventSize *= d;
  Type elementType = type.getElementType();
  Value squares =
      mapElementwise(b, loc, u, {u}, 1,
                     [](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{
                           arith::MulFOp::create(nb, nloc, args[0], args[0])};
                     })
          .front();
  Value sum = sumEventDims(b, loc, squares);
  double offset = -0.5 * eventSize * std::log(2.0 * M_PI) - sumLogStd;
  Value half = createFloatConstant(b, loc, elementType, -0.5);
  Value constant = createFloatConstant(b, loc, elementType, offset);
  return mapElementwise(b, loc, sum, {sum}, 1,
                        [&](OpBuilder &nb, Location nloc, ValueRange args) {
                          Value scaled =
                              arith::MulFOp::create(nb, nloc, args[0], half);
                          return SmallVector<Value>{arith::AddFOp::create(
                              nb, nloc, scaled, constant)};
                        })
      .front();
}

/// An `arith.constant` holding a base distribution parameter.
static Value createParameter(OpBuilder &b, Location loc,
                             DenseFPElementsAttr values) {
  return arith::ConstantOp::create(b, loc, values);
}

static double sumOf(DenseFPElementsAttr values) {
  double sum = 0.0;
  for (const APFloat &v : values.getValues<APFloat>())
    sum += v.convertToDouble();
  return sum;
}

Value StandardNormalAttr::buildLogProb(OpBuilder &b, Location loc,
                                       Value z) const {
  return buildGaussianLogProb(b, loc, z, /*sumLogStd=*/0.0);
}

BaseNoise StandardNormalAttr::getNoise() const {
  return BaseNoise::StandardNormal;
}

Value StandardNormalAttr::buildFromNoise(OpBuilder &, Location,
                                         Value noise) const {
  return noise;
}

Value DiagNormalAttr::buildLogProb(OpBuilder &b, Location loc, Value z) const {
  Value mean = createParameter(b, loc, getMean());
  Value logStd = createParameter(b, loc, getLogStd());
  // u = (z - mean) * exp(-log_std)
  Value u =
      mapElementwise(b, loc, z, {z, mean, logStd}, 1,
                     [](OpBuilder &nb, Location nloc, ValueRange args) {
                       Value centered =
                           arith::SubFOp::create(nb, nloc, args[0], args[1]);
                       Value invStd = math::ExpOp::create(
                           nb, nloc, arith::NegFOp::create(nb, nloc, args[2]));
                       return SmallVector<Value>{
                           arith::MulFOp::create(nb, nloc, centered, invStd)};
                     })
          .front();
  return buildGaussianLogProb(b, loc, u, sumOf(getLogStd()));
}

BaseNoise DiagNormalAttr::getNoise() const { return BaseNoise::StandardNormal; }

Value DiagNormalAttr::buildFromNoise(OpBuilder &b, Location loc,
                                     Value noise) const {
  Value mean = createParameter(b, loc, getMean());
  Value logStd = createParameter(b, loc, getLogStd());
  return mapElementwise(b, loc, noise, {noise, mean, logStd}, 1,
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          Value std = math::ExpOp::create(nb, nloc, args[2]);
                          Value scaled =
                              arith::MulFOp::create(nb, nloc, args[0], std);
                          return SmallVector<Value>{
                              arith::AddFOp::create(nb, nloc, scaled, args[1])};
                        })
      .front();
}

Value UniformAttr::buildLogProb(OpBuilder &b, Location loc, Value z) const {
  Value low = createParameter(b, loc, getLow());
  Value high = createParameter(b, loc, getHigh());
  Type elementType = cast<RankedTensorType>(z.getType()).getElementType();
  Value negInf = createFloatConstant(b, loc, elementType,
                                     -std::numeric_limits<double>::infinity());
  // Per element: -log(high - low) inside [low, high), -inf outside.
  Value terms =
      mapElementwise(
          b, loc, z, {z, low, high}, 1,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value width = arith::SubFOp::create(nb, nloc, args[2], args[1]);
            Value logDensity = arith::NegFOp::create(
                nb, nloc, math::LogOp::create(nb, nloc, width));
            Value aboveLow = arith::CmpFOp::create(
                nb, nloc, arith::CmpFPredicate::OGE, args[0], args[1]);
            Value belowHigh = arith::CmpFOp::create(
                nb, nloc, arith::CmpFPredicate::OLT, args[0], args[2]);
            Value inside = arith::AndIOp::create(nb, nloc, aboveLow, belowHigh);
            return SmallVector<Value>{
                arith::SelectOp::create(nb, nloc, inside, logDensity, negInf)};
          })
          .front();
  return sumEventDims(b, loc, terms);
}

BaseNoise UniformAttr::getNoise() const { return BaseNoise::UnitUniform; }

Value UniformAttr::buildFromNoise(OpBuilder &b, Location loc,
                                  Value noise) const {
  Value low = createParameter(b, loc, getLow());
  Value high = createParameter(b, loc, getHigh());
  return mapElementwise(b, loc, noise, {noise, low, high}, 1,
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          Value width =
                              arith::SubFOp::create(nb, nloc, args[2], args[1]);
                          Value scaled =
                              arith::MulFOp::create(nb, nloc, args[0], width);
                          return SmallVector<Value>{
                              arith::AddFOp::create(nb, nloc, scaled, args[1])};
                        })
      .front();
}

//===----------------------------------------------------------------------===//
// Permuted latents
//===----------------------------------------------------------------------===//

/// The parameters (event-shaped) of v for z[:, i] = v[:, permutation[i]]:
/// along dimension 0 of the event, result[j] = values[permutation^-1[j]].
static DenseFPElementsAttr permuteFeatures(DenseFPElementsAttr values,
                                           ArrayRef<int64_t> permutation) {
  SmallVector<int64_t> from(permutation.size());
  for (auto [i, p] : llvm::enumerate(permutation))
    from[p] = i;
  auto type = cast<RankedTensorType>(values.getType());
  SmallVector<APFloat> all(values.getValues<APFloat>());
  int64_t inner = all.size() / type.getDimSize(0);
  SmallVector<APFloat> permuted;
  permuted.reserve(all.size());
  for (int64_t i : from)
    for (int64_t j = 0; j < inner; ++j)
      permuted.push_back(all[i * inner + j]);
  return cast<DenseFPElementsAttr>(DenseElementsAttr::get(type, permuted));
}

BaseDistributionAttrInterface
StandardNormalAttr::getPermuted(ArrayRef<int64_t>) const {
  return *this;
}

BaseDistributionAttrInterface
DiagNormalAttr::getPermuted(ArrayRef<int64_t> permutation) const {
  return DiagNormalAttr::get(getContext(),
                             permuteFeatures(getMean(), permutation),
                             permuteFeatures(getLogStd(), permutation));
}

BaseDistributionAttrInterface
UniformAttr::getPermuted(ArrayRef<int64_t> permutation) const {
  return UniformAttr::get(getContext(), permuteFeatures(getLow(), permutation),
                          permuteFeatures(getHigh(), permutation));
}
