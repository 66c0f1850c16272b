//===- SNFOps.cpp - MCMC blocks of stochastic normalizing flows -----------===//
//
// nf.langevin and nf.metropolis run `steps` MCMC steps on the interpolated
// energy u_lambda(y) = (1 - lambda) |y|^2 / 2 + lambda u(y) in either
// direction (the dynamics are reversible). V is the path term
// log p(x | z) - log q(z | x) of the pair: the SNF paper's Delta S of the
// path x -> z, the negative of the Delta S of the sampling path z -> x:
//   langevin    per step |eta|^2 / 2 - |eta~|^2 / 2 (eta~ the reverse noise)
//   metropolis  u_lambda(z) - u_lambda(x) (detailed balance)
// Steps are an scf.for over the state; the energy (and for Langevin its
// gradient, hand-written or derived by nf-derive-energy-gradients) is a
// func.call per step.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/Conditioned.h"
#include "nf/Dialect/NF/IR/LayerNoise.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nf;

//===----------------------------------------------------------------------===//
// Shared by both blocks
//===----------------------------------------------------------------------===//

/// The number of steps (I64Attr reads as unsigned).
template <typename OpT> static int64_t getStepCount(OpT op) {
  return static_cast<int64_t>(op.getSteps());
}

/// Checks the attributes and explicit noise of an SNF block that draws
/// `noisePerStep` values per step, described by `what`.
template <typename OpT>
static LogicalResult verifySNFBlock(OpT op, int64_t noisePerStep,
                                    StringRef what) {
  RankedTensorType type = op.getInput().getType();
  if (type.getRank() != 2)
    return op.emitOpError("expects data of type tensor<?xDxT>, but got ")
           << type;
  if (getStepCount(op) < 1)
    return op.emitOpError("needs at least one step, but has ")
           << getStepCount(op);
  double lambda = op.getLambda().convertToDouble();
  if (!(lambda >= 0 && lambda <= 1))
    return op.emitOpError("lambda must be in [0, 1], but is ") << lambda;
  auto noiseType = RankedTensorType::get(
      {ShapedType::kDynamic, getStepCount(op) * noisePerStep},
      type.getElementType());
  if (failed(verifyNoiseType(op, op.getForwardNoise(), noiseType, what)))
    return failure();
  return verifyNoiseType(op, op.getInverseNoise(), noiseType, what);
}

/// Checks that the energy (and `gradient`, if given) take (x, params...) and
/// return one value per sample (the gradient: one per element).
template <typename OpT>
static LogicalResult verifyEnergyFunctions(OpT op, SymbolTableCollection &table,
                                           FlatSymbolRefAttr gradient) {
  RankedTensorType type = op.getInput().getType();
  auto state = RankedTensorType::get({ShapedType::kDynamic, type.getDimSize(1)},
                                     type.getElementType());
  SmallVector<Type> inputs = {state};
  llvm::append_range(inputs, op.getParams().getTypes());
  auto perSample =
      RankedTensorType::get({ShapedType::kDynamic}, type.getElementType());
  if (failed(verifyConditionerType(op, table, op.getEnergyAttr(), inputs,
                                   perSample, "u(y) per sample", "energy")))
    return failure();
  if (!gradient)
    return success();
  return verifyConditionerType(op, table, gradient, inputs, state,
                               "the gradient of u at y", "gradient");
}

/// Noise of one direction: `explicitNoise` or the layer-noise slice at the
/// end of `operands`, as `normalsPerStep` standard normals per step (Box-
/// Muller from two uniforms each), then (with `uniformPerStep`) one uniform
/// per step.
static std::pair<Value, Value>
getStepNoise(OpBuilder &b, Location loc, Value explicitNoise,
             ValueRange operands, Type element, int64_t steps,
             int64_t normalsPerStep, bool uniformPerStep) {
  int64_t normals = steps * normalsPerStep;
  Value uniforms;
  if (explicitNoise) {
    if (uniformPerStep)
      uniforms = sliceFeatures(b, loc, explicitNoise, normals, steps);
    return {sliceFeatures(b, loc, explicitNoise, 0, normals), uniforms};
  }
  Value layerNoise = operands.back();
  if (uniformPerStep)
    uniforms = sliceFeatures(b, loc, layerNoise, 2 * normals, steps);
  auto type = RankedTensorType::get({ShapedType::kDynamic, normals}, element);
  return {buildStandardNormal(
              b, loc, sliceFeatures(b, loc, layerNoise, 0, 2 * normals), type),
          uniforms};
}

/// Columns [step * size, (step + 1) * size) of `noise` (a dynamic step):
/// `tensor<?xsizexT>`, or with `perSample` (size 1) one value per sample,
/// `tensor<?xT>`.
static Value sliceStep(OpBuilder &b, Location loc, Value noise, Value step,
                       int64_t size, bool perSample = false) {
  auto type = cast<RankedTensorType>(noise.getType());
  Value offset = arith::MulIOp::create(
      b, loc, step, arith::ConstantIndexOp::create(b, loc, size));
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), offset};
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, noise, 0),
                                     b.getIndexAttr(size)};
  SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
  assert((!perSample || size == 1) && "one value per sample");
  auto resultType = RankedTensorType::get(
      perSample ? ArrayRef<int64_t>{ShapedType::kDynamic}
                : ArrayRef<int64_t>{ShapedType::kDynamic, size},
      type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, noise, offsets,
                                        sizes, strides);
}

/// Per-sample zeros for a batch like `like`.
static Value buildPerSampleZeros(OpBuilder &b, Location loc, Value like) {
  Type element = getElementTypeOrSelf(like.getType());
  Value empty = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{tensor::getMixedSize(b, loc, like, 0)},
      element);
  return linalg::FillOp::create(
             b, loc, createFloatConstant(b, loc, element, 0.0), empty)
      .getResult(0);
}

/// (1 - lambda) reference + lambda value, elementwise; `value` alone when
/// lambda = 1.
static Value interpolate(OpBuilder &b, Location loc, double lambda,
                         Value reference, Value value) {
  if (lambda == 1.0)
    return value;
  return mapSingleResult(b, loc, {value, reference},
                         [&](OpBuilder &nb, Location nloc, ValueRange args) {
                           ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                           return s.add(s.mul(s.c(lambda), args[0]),
                                        s.mul(s.c(1 - lambda), args[1]));
                         });
}

/// u_lambda(y) per sample; the reference energy is |y|^2 / 2.
template <typename OpT>
static Value buildEnergy(OpT op, OpBuilder &b, Location loc, Value y,
                         ValueRange params) {
  Type element = getElementTypeOrSelf(y.getType());
  auto perSample = RankedTensorType::get({ShapedType::kDynamic}, element);
  Value u = callConditioner(b, loc, op.getEnergyAttr(), y, Value(), params,
                            perSample);
  double lambda = op.getLambda().convertToDouble();
  if (lambda == 1.0)
    return u;
  Value halfSquares = mapSingleResult(
      b, loc, {y}, [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.mul(s.c(0.5), s.mul(args[0], args[0]));
      });
  return interpolate(b, loc, lambda, sumEventDims(b, loc, halfSquares), u);
}

/// Adds `sign * term` to the per-sample sum `v`.
static Value accumulate(OpBuilder &b, Location loc, Value v, Value term,
                        double sign) {
  return mapSingleResult(b, loc, {v, term},
                         [&](OpBuilder &nb, Location nloc, ValueRange args) {
                           ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                           return s.add(args[0], s.mul(s.c(sign), args[1]));
                         });
}

/// Runs `steps` iterations of `step(builder, loc, index, state)` on `init`
/// (scf.for with the state as iter_args) and returns the final state.
static SmallVector<Value> buildSteps(
    OpBuilder &b, Location loc, int64_t steps, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        step) {
  auto loop = scf::ForOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0),
      arith::ConstantIndexOp::create(b, loc, steps),
      arith::ConstantIndexOp::create(b, loc, 1), init,
      [&](OpBuilder &nb, Location nloc, Value index, ValueRange state) {
        scf::YieldOp::create(nb, nloc, step(nb, nloc, index, state));
      });
  return SmallVector<Value>(loop.getResults());
}

//===----------------------------------------------------------------------===//
// nf.langevin
//===----------------------------------------------------------------------===//

LogicalResult LangevinOp::verify() {
  if (!(getStepSize().convertToDouble() > 0))
    return emitOpError("step_size must be positive");
  return verifySNFBlock(*this, getInput().getType().getDimSize(1),
                        "the standard normal draws eta of every step");
}

LogicalResult LangevinOp::verifySymbolUses(SymbolTableCollection &table) {
  return verifyEnergyFunctions(*this, table, getGradientAttr());
}

NoiseDraws LangevinOp::getNoiseDraws(bool inverse) {
  return {inverse ? getInverseNoise() : getForwardNoise(), /*uniforms=*/0,
          /*normals=*/getStepCount(*this) * getInput().getType().getDimSize(1)};
}

/// Langevin dynamics from `y0`, with V negated for the generative direction.
static FailureOr<LayerValues> buildLangevin(LangevinOp op, OpBuilder &b,
                                            ValueRange operands, Value y0,
                                            bool inverse, bool withLogDet) {
  Location loc = op.getLoc();
  if (!op.getGradientAttr())
    return op.emitOpError("has no energy gradient: give one as `gradient` "
                          "or run nf-derive-energy-gradients first");
  LangevinOp::Adaptor adaptor(operands, op);
  ValueRange params = adaptor.getParams();
  int64_t features = op.getInput().getType().getDimSize(1);
  double eps = op.getStepSize().convertToDouble();
  double lambda = op.getLambda().convertToDouble();
  Type element = op.getInput().getType().getElementType();
  Value normals = getStepNoise(b, loc,
                               inverse ? adaptor.getInverseNoise()
                                       : adaptor.getForwardNoise(),
                               operands, element, getStepCount(op), features,
                               /*uniformPerStep=*/false)
                      .first;
  // grad u_lambda(y) = lambda grad u(y) + (1 - lambda) y.
  auto gradient = [&](OpBuilder &nb, Location nloc, Value y) {
    Value g = callConditioner(nb, nloc, op.getGradientAttr(), y, Value(),
                              params, y.getType());
    return interpolate(nb, nloc, lambda, y, g);
  };
  Value start = castToDynamicBatch(b, loc, y0);
  SmallVector<Value> init = {start, gradient(b, loc, start),
                             buildPerSampleZeros(b, loc, start)};
  SmallVector<Value> final = buildSteps(
      b, loc, getStepCount(op), init,
      [&](OpBuilder &nb, Location nloc, Value index, ValueRange state) {
        Value y = state[0], g = state[1], v = state[2];
        Value eta = sliceStep(nb, nloc, normals, index, features);
        Value next = mapSingleResult(
            nb, nloc, {y, g, eta},
            [&](OpBuilder &sb, Location sloc, ValueRange args) {
              ScalarBuilder s = scalarFor(sb, sloc, args[0]);
              return s.add(s.sub(args[0], s.mul(s.c(eps), args[1])),
                           s.mul(s.c(std::sqrt(2 * eps)), args[2]));
            });
        Value nextGradient = gradient(nb, nloc, next);
        if (withLogDet) {
          // eta~ = (y - y' + eps grad u(y')) / sqrt(2 eps); the step's term
          // is (|eta|^2 - |eta~|^2) / 2.
          Value halfDifference = mapSingleResult(
              nb, nloc, {eta, y, next, nextGradient},
              [&](OpBuilder &sb, Location sloc, ValueRange args) {
                ScalarBuilder s = scalarFor(sb, sloc, args[0]);
                Value reverse = s.div(
                    s.add(s.sub(args[1], args[2]), s.mul(s.c(eps), args[3])),
                    s.c(std::sqrt(2 * eps)));
                return s.mul(s.c(0.5), s.sub(s.mul(args[0], args[0]),
                                             s.mul(reverse, reverse)));
              });
          v = accumulate(nb, nloc, v, sumEventDims(nb, nloc, halfDifference),
                         inverse ? -1.0 : 1.0);
        }
        return SmallVector<Value>{next, nextGradient, v};
      });
  return LayerValues{final[0], withLogDet ? final[2] : Value()};
}

FailureOr<LayerValues>
LangevinOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  return buildLangevin(*this, b, operands, operands.front(),
                       /*inverse=*/false, withLogDet);
}

FailureOr<LayerValues> LangevinOp::buildInverse(OpBuilder &b, Value z,
                                                ValueRange operands,
                                                bool withLogDet) {
  return buildLangevin(*this, b, operands, z, /*inverse=*/true, withLogDet);
}

//===----------------------------------------------------------------------===//
// nf.metropolis
//===----------------------------------------------------------------------===//

LogicalResult MetropolisOp::verify() {
  if (!(getProposalScale().convertToDouble() > 0))
    return emitOpError("proposal_scale must be positive");
  return verifySNFBlock(
      *this, getInput().getType().getDimSize(1) + 1,
      "the proposals' standard normal draws, then one uniform per step");
}

LogicalResult MetropolisOp::verifySymbolUses(SymbolTableCollection &table) {
  return verifyEnergyFunctions(*this, table, FlatSymbolRefAttr());
}

NoiseDraws MetropolisOp::getNoiseDraws(bool inverse) {
  // Per step, a normal proposal for every feature and one acceptance uniform.
  int64_t steps = getStepCount(*this);
  return {inverse ? getInverseNoise() : getForwardNoise(),
          /*uniforms=*/steps,
          /*normals=*/steps * getInput().getType().getDimSize(1)};
}

/// Metropolis steps from `y0`; V = +-(u_lambda(end) - u_lambda(start)).
static LayerValues buildMetropolis(MetropolisOp op, OpBuilder &b,
                                   ValueRange operands, Value y0, bool inverse,
                                   bool withLogDet) {
  Location loc = op.getLoc();
  MetropolisOp::Adaptor adaptor(operands, op);
  ValueRange params = adaptor.getParams();
  int64_t features = op.getInput().getType().getDimSize(1);
  double scale = op.getProposalScale().convertToDouble();
  Type element = op.getInput().getType().getElementType();
  Value normals, uniforms;
  std::tie(normals, uniforms) = getStepNoise(
      b, loc, inverse ? adaptor.getInverseNoise() : adaptor.getForwardNoise(),
      operands, element, getStepCount(op), features, /*uniformPerStep=*/true);
  Value start = castToDynamicBatch(b, loc, y0);
  Value startEnergy = buildEnergy(op, b, loc, start, params);
  SmallVector<Value> final = buildSteps(
      b, loc, getStepCount(op), {start, startEnergy},
      [&](OpBuilder &nb, Location nloc, Value index, ValueRange state) {
        Value y = state[0], energy = state[1];
        Value xi = sliceStep(nb, nloc, normals, index, features);
        Value u = sliceStep(nb, nloc, uniforms, index, 1, /*perSample=*/true);
        Value proposal =
            mapSingleResult(nb, nloc, {y, xi},
                            [&](OpBuilder &sb, Location sloc, ValueRange args) {
                              ScalarBuilder s = scalarFor(sb, sloc, args[0]);
                              return s.add(args[0], s.mul(s.c(scale), args[1]));
                            });
        Value proposalEnergy = buildEnergy(op, nb, nloc, proposal, params);
        // Accept iff u < exp(min(0, u(y) - u(y'))); 1 or 0 per sample.
        Value accepted = mapSingleResult(
            nb, nloc, {u, energy, proposalEnergy},
            [](OpBuilder &sb, Location sloc, ValueRange args) {
              ScalarBuilder s = scalarFor(sb, sloc, args[0]);
              Value ratio = s.exp(s.min(s.c(0.0), s.sub(args[1], args[2])));
              return s.select(s.cmp(arith::CmpFPredicate::OLT, args[0], ratio),
                              s.c(1.0), s.c(0.0));
            });
        auto choose = [&](Value flag, Value ifAccepted, Value otherwise) {
          return mapSingleResult(
              nb, nloc, {flag, ifAccepted, otherwise},
              [](OpBuilder &sb, Location sloc, ValueRange args) {
                ScalarBuilder s = scalarFor(sb, sloc, args[0]);
                return s.select(
                    s.cmp(arith::CmpFPredicate::ONE, args[0], s.c(0.0)),
                    args[1], args[2]);
              });
        };
        Value nextY =
            choose(broadcastPerSample(nb, nloc, accepted, y), proposal, y);
        return SmallVector<Value>{nextY,
                                  choose(accepted, proposalEnergy, energy)};
      });
  Value logDet;
  if (withLogDet)
    logDet = accumulate(b, loc, final[1], startEnergy, -1.0);
  return LayerValues{
      final[0], withLogDet && inverse ? negateLogDet(b, loc, logDet) : logDet};
}

FailureOr<LayerValues>
MetropolisOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  return buildMetropolis(*this, b, operands, operands.front(),
                         /*inverse=*/false, withLogDet);
}

FailureOr<LayerValues> MetropolisOp::buildInverse(OpBuilder &b, Value z,
                                                  ValueRange operands,
                                                  bool withLogDet) {
  return buildMetropolis(*this, b, operands, z, /*inverse=*/true, withLogDet);
}
