//===- GenerativeSurjectionOps.cpp - Generative surjections ---------------===//
//
// Stochastic x -> z whose inverse is deterministic; V = -log q(z | x) is a
// bound (SurVAE Flows):
//   nf.augment                 z = (x, e), e ~ q(e | x);  inverse drops e
//   nf.uniform_dequantize      z = (x + u) / K;           inverse rounds
//   nf.variational_dequantize  z = (x + sigmoid(v)) / K, v ~ q(v | x)
// The forward direction takes uniform noise from the kernel's layer noise
// unless the op has an explicit noise operand.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"

#include "nf/Dialect/NF/IR/DiagonalNormal.h"
#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/LayerNoise.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nf;

//===----------------------------------------------------------------------===//
// nf.augment
//===----------------------------------------------------------------------===//

/// The drawn part's type: the output's last E features.
static RankedTensorType getAugmentedType(AugmentOp op) {
  RankedTensorType out = op.getOutput().getType();
  SmallVector<int64_t> shape(out.getShape());
  shape[1] -= op.getInput().getType().getDimSize(1);
  return RankedTensorType::get(shape, out.getElementType());
}

LogicalResult AugmentOp::verify() {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (failed(verifyFeatureChange(*this, in, out, /*grows=*/true)))
    return failure();
  if (!getEncoder() && !getParams().empty())
    return emitOpError("has encoder parameters but no encoder");
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  return verifyNoiseType(*this, getNoise(), getAugmentedType(*this),
                         "standard normal draws of the added part");
}

LogicalResult AugmentOp::verifySymbolUses(SymbolTableCollection &table) {
  return verifyDensityFunction(*this, table, getEncoderAttr(),
                               getInput().getType(), getCtx(), getParams(),
                               getAugmentedType(*this));
}

NoiseDraws AugmentOp::getNoiseDraws(bool inverse) {
  if (inverse)
    return {};
  return {getNoise(), /*uniforms=*/0,
          /*normals=*/getEventSize(getAugmentedType(*this))};
}

FailureOr<LayerValues>
AugmentOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  RankedTensorType added = getAugmentedType(*this);
  Value x = adaptor.getInput();
  Value eps = adaptor.getNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), added);
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getParams(), added);
  Value z =
      concatFeatures(b, loc, {x, buildGaussianDraw(b, loc, eps, mean, logStd)});
  // V = -log q(e | x).
  Value logDet =
      withLogDet
          ? negateLogDet(b, loc, buildGaussianLogDensity(b, loc, eps, logStd))
          : Value();
  return LayerValues{z, logDet};
}

FailureOr<LayerValues> AugmentOp::buildInverse(OpBuilder &b, Value z,
                                               ValueRange operands,
                                               bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  int64_t features = getInput().getType().getDimSize(1);
  RankedTensorType added = getAugmentedType(*this);
  Value x = sliceFeatures(b, loc, z, 0, features);
  if (!withLogDet)
    return LayerValues{x, Value()};
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getParams(), added);
  Value eps = buildStandardized(
      b, loc, sliceFeatures(b, loc, z, features, added.getDimSize(1)), mean,
      logStd);
  return LayerValues{
      x, negateLogDet(b, loc, buildGaussianLogDensity(b, loc, eps, logStd))};
}

//===----------------------------------------------------------------------===//
// nf.uniform_dequantize
//===----------------------------------------------------------------------===//

LogicalResult UniformDequantizeOp::verify() {
  if (static_cast<int64_t>(getLevels()) < 2)
    return emitOpError("needs at least 2 levels, but has ")
           << static_cast<int64_t>(getLevels());
  return verifyNoiseType(*this, getNoise(), getInput().getType(),
                         "one uniform per element of the data");
}

NoiseDraws UniformDequantizeOp::getNoiseDraws(bool inverse) {
  if (inverse)
    return {};
  return {getNoise(), /*uniforms=*/getEventSize(getInput().getType())};
}

/// -D log K for data of `type` on K levels, once per call (the uniform
/// dequantizer's V: q(u | x) = 1 on the unit cube).
static Value buildLevelsLogDet(OpBuilder &b, Location loc,
                               RankedTensorType type, int64_t levels) {
  return buildScalarTensor(b, loc, type.getElementType(),
                           -getEventSize(type) *
                               std::log(static_cast<double>(levels)));
}

/// x = clamp(floor(K z), 0, K - 1): the generative map of dequantizers.
static Value buildRounding(OpBuilder &b, Location loc, Value z,
                           int64_t levels) {
  double k = static_cast<double>(levels);
  return mapSingleResult(
      b, loc, {z}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value level = math::FloorOp::create(nb, nloc, s.mul(args[0], s.c(k)));
        return s.min(s.max(level, s.c(0.0)), s.c(k - 1));
      });
}

static Value buildDequantizeLogDet(UniformDequantizeOp op, OpBuilder &b,
                                   Location loc) {
  return buildLevelsLogDet(b, loc, op.getInput().getType(), op.getLevels());
}

FailureOr<LayerValues> UniformDequantizeOp::buildForward(OpBuilder &b,
                                                         ValueRange operands,
                                                         bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  // Without operand segments the adaptor would take an appended layer-noise
  // slice for the optional noise operand: ask the op whether it has one.
  Value noise = getLayerNoise(b, loc, getNoise() ? adaptor.getNoise() : Value(),
                              operands, getInput().getType());
  double levels = getLevels();
  Value z =
      mapSingleResult(b, loc, {adaptor.getInput(), noise},
                      [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                        return s.div(s.add(args[0], args[1]), s.c(levels));
                      });
  return LayerValues{z, withLogDet ? buildDequantizeLogDet(*this, b, loc)
                                   : Value()};
}

FailureOr<LayerValues> UniformDequantizeOp::buildInverse(OpBuilder &b, Value z,
                                                         ValueRange,
                                                         bool withLogDet) {
  Location loc = getLoc();
  return LayerValues{buildRounding(b, loc, z, getLevels()),
                     withLogDet ? buildDequantizeLogDet(*this, b, loc)
                                : Value()};
}

//===----------------------------------------------------------------------===//
// nf.variational_dequantize
//===----------------------------------------------------------------------===//

LogicalResult VariationalDequantizeOp::verify() {
  if (static_cast<int64_t>(getLevels()) < 2)
    return emitOpError("needs at least 2 levels, but has ")
           << static_cast<int64_t>(getLevels());
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  return verifyNoiseType(*this, getNoise(), getInput().getType(),
                         "standard normal draws of the data's shape");
}

/// The encoder when it is a conditional flow (an nf.model), else null.
static ModelOp getEncoderFlow(VariationalDequantizeOp op) {
  return SymbolTable::lookupNearestSymbolFrom<ModelOp>(op, op.getEncoderAttr());
}

LogicalResult
VariationalDequantizeOp::verifySymbolUses(SymbolTableCollection &table) {
  RankedTensorType type = getInput().getType();
  auto flow = table.lookupNearestSymbolFrom<ModelOp>(*this, getEncoderAttr());
  if (!flow)
    return verifyDensityFunction(*this, table, getEncoderAttr(), type, getCtx(),
                                 getParams(), type);
  if (!getParams().empty() || getCtx())
    return emitOpError("encoder flow ")
           << getEncoderAttr()
           << " takes no parameters or context here: it holds its "
              "parameters and gets the data as its context";
  if (type.getRank() != 2)
    return emitOpError("with an encoder flow expects data of type "
                       "tensor<?xDxT>, but got ")
           << type;
  Type data = getBatchType(type.getDimSize(1), {}, type.getElementType());
  BlockArgument context = flow.getConditioningContext();
  if (flow.getDataType() != data || flow.getLatent().getType() != data ||
      !context || context.getType() != data)
    return emitOpError("encoder flow ")
           << getEncoderAttr() << " must map " << data << " to " << data
           << " given the data (" << data << ") as its context";
  if (flow.getExactness() != Exactness::Exact)
    return emitOpError("encoder flow ")
           << getEncoderAttr() << " must be exact (bijective layers only)";
  if (flow.getBase().getNoise() != BaseNoise::StandardNormal)
    return emitOpError("encoder flow ")
           << getEncoderAttr() << " needs a normal base distribution";
  return success();
}

NoiseDraws VariationalDequantizeOp::getNoiseDraws(bool inverse) {
  if (inverse)
    return {};
  return {getNoise(), /*uniforms=*/0,
          /*normals=*/getEventSize(getInput().getType())};
}

/// V = -D log K - log q(u | x) with u = sigmoid(v):
/// log q(u | x) = log q(v | x) - sum log sigmoid'(v).
static Value buildVariationalDequantizeLogDet(VariationalDequantizeOp op,
                                              OpBuilder &b, Location loc,
                                              Value v, Value logQv) {
  // log sigmoid'(v) = -softplus(-v) - softplus(v).
  Value logSlopes = mapSingleResult(
      b, loc, {v}, [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.neg(s.add(s.softplus(s.neg(args[0])), s.softplus(args[0])));
      });
  // -log q(u | x) = sum log sigmoid'(v) - log q(v | x).
  Value negLogQ =
      mapSingleResult(b, loc, {sumEventDims(b, loc, logSlopes), logQv},
                      [](OpBuilder &nb, Location nloc, ValueRange args) {
                        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                        return s.sub(args[0], args[1]);
                      });
  return addLogDets(
      b, loc, negLogQ,
      buildLevelsLogDet(b, loc, op.getInput().getType(), op.getLevels()));
}

/// The encoder flow's map between eps and v given x, and log q(v | x):
/// sampling (eps -> v, its generative map) or evaluating (v -> eps).
static FailureOr<std::pair<Value, Value>>
buildEncoderFlow(VariationalDequantizeOp op, ModelOp flow, OpBuilder &b,
                 Location loc, Value x, Value from, bool sample) {
  IRMapping mapping;
  cloneModelParameters(b, flow, castToDynamicBatch(b, loc, x), mapping);
  Value start = castToDynamicBatch(b, loc, from);
  FailureOr<LayerValues> built =
      sample ? buildModelInverse(b, flow, start, mapping, /*withLogDet=*/true)
             : buildModelForward(b, flow, start, mapping, /*withLogDet=*/true);
  if (failed(built))
    return op.emitOpError("cannot build its encoder flow ")
           << op.getEncoderAttr();
  Value eps = sample ? start : built->value;
  Value v = sample ? built->value : start;
  // log q(v | x) = log p(eps) + V(v).
  Value logQ = mapSingleResult(
      b, loc, {flow.getBase().buildLogProb(b, loc, eps), built->logDet},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.add(args[0], args[1]);
      });
  return std::make_pair(v, logQ);
}

FailureOr<LayerValues>
VariationalDequantizeOp::buildForward(OpBuilder &b, ValueRange operands,
                                      bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  RankedTensorType type = getInput().getType();
  Value x = adaptor.getInput();
  Value eps = adaptor.getNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), type);
  Value v, logQv;
  if (ModelOp flow = getEncoderFlow(*this)) {
    FailureOr<std::pair<Value, Value>> drawn =
        buildEncoderFlow(*this, flow, b, loc, x, eps, /*sample=*/true);
    if (failed(drawn))
      return failure();
    std::tie(v, logQv) = *drawn;
  } else {
    auto [mean, logStd] =
        buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                            adaptor.getParams(), type);
    v = buildGaussianDraw(b, loc, eps, mean, logStd);
    logQv = buildGaussianLogDensity(b, loc, eps, logStd);
  }
  double levels = static_cast<double>(getLevels());
  Value z = mapSingleResult(
      b, loc, {x, v}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.div(s.add(args[0], s.sigmoid(args[1])), s.c(levels));
      });
  return LayerValues{
      z, withLogDet ? buildVariationalDequantizeLogDet(*this, b, loc, v, logQv)
                    : Value()};
}

FailureOr<LayerValues>
VariationalDequantizeOp::buildInverse(OpBuilder &b, Value z,
                                      ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = buildRounding(b, loc, z, getLevels());
  if (!withLogDet)
    return LayerValues{x, Value()};
  // The pair's u = K z - x and v = logit(u); z outside the cells of the
  // levels (u not in (0, 1)) has V = -inf.
  double levels = static_cast<double>(getLevels());
  SmallVector<Value> logitAndSupport = mapElementwise(
      b, loc, z, {z, x}, 2, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value u = s.sub(s.mul(args[0], s.c(levels)), args[1]);
        Value inside = arith::AndIOp::create(
            nb, nloc, s.cmp(arith::CmpFPredicate::OGT, u, s.c(0.0)),
            s.cmp(arith::CmpFPredicate::OLT, u, s.c(1.0)));
        // Outside, any finite v keeps the other terms finite.
        Value safe = s.select(inside, u, s.c(0.5));
        return SmallVector<Value>{
            s.sub(s.log(safe), s.log1p(s.neg(safe))),
            s.select(inside, s.c(0.0), s.minusInfinity())};
      });
  Value v = logitAndSupport[0];
  Value logQv;
  if (ModelOp flow = getEncoderFlow(*this)) {
    FailureOr<std::pair<Value, Value>> evaluated =
        buildEncoderFlow(*this, flow, b, loc, x, v, /*sample=*/false);
    if (failed(evaluated))
      return failure();
    logQv = evaluated->second;
  } else {
    auto [mean, logStd] =
        buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                            adaptor.getParams(), getInput().getType());
    logQv = buildGaussianLogDensity(
        b, loc, buildStandardized(b, loc, v, mean, logStd), logStd);
  }
  return LayerValues{
      x, addLogDets(b, loc,
                    buildVariationalDequantizeLogDet(*this, b, loc, v, logQv),
                    sumEventDims(b, loc, logitAndSupport[1]))};
}
