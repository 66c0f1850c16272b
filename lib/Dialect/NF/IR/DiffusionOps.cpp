//===- DiffusionOps.cpp - DiffFlow SDE steps ------------------------------===//
//
// nf.diffusion_step: one Euler-Maruyama step of a forward SDE with learned
// drift, sampled by the backward SDE with learned score. V is the exact
// Gaussian-kernel ratio log p_B(x | z) - log p_F(z | x) of the pair.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/Conditioned.h"
#include "nf/Dialect/NF/IR/LayerNoise.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nf;

LogicalResult DiffusionStepOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT>, but got ") << type;
  double t0 = getT0().convertToDouble(), t1 = getT1().convertToDouble();
  if (!(t1 > t0))
    return emitOpError("needs t1 > t0, but has t0 = ")
           << t0 << " and t1 = " << t1;
  if (!(getG0().convertToDouble() > 0) || !(getG1().convertToDouble() > 0))
    return emitOpError("needs positive diffusion coefficients g0 and g1");
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  if (failed(verifyNoiseType(*this, getForwardNoise(), type,
                             "standard normal draws of the data's shape")))
    return failure();
  return verifyNoiseType(*this, getInverseNoise(), type,
                         "standard normal draws of the data's shape");
}

/// Checks a drift or score function: (y, t [, context], params...) -> y.
static LogicalResult verifyFieldFunction(DiffusionStepOp op,
                                         SymbolTableCollection &table,
                                         FlatSymbolRefAttr function,
                                         ValueRange params, StringRef role) {
  RankedTensorType type = op.getInput().getType();
  Type state = getBatchType(type.getDimSize(1), {}, type.getElementType());
  SmallVector<Type> inputs = {state, type.getElementType()};
  if (Value context = op.getCtx())
    inputs.push_back(context.getType());
  llvm::append_range(inputs, params.getTypes());
  return verifyConditionerType(op, table, function, inputs, state,
                               "the field at (y, t)", role);
}

LogicalResult DiffusionStepOp::verifySymbolUses(SymbolTableCollection &table) {
  return failure(failed(verifyFieldFunction(*this, table, getDriftAttr(),
                                            getDriftParams(), "drift")) ||
                 failed(verifyFieldFunction(*this, table, getScoreAttr(),
                                            getScoreParams(), "score")));
}

NoiseDraws DiffusionStepOp::getNoiseDraws(bool inverse) {
  return {inverse ? getInverseNoise() : getForwardNoise(), /*uniforms=*/0,
          /*normals=*/getEventSize(getInput().getType())};
}

/// `function`(y, t [, context], params...).
static Value callField(DiffusionStepOp op, OpBuilder &b, Location loc,
                       FlatSymbolRefAttr function, Value y, double t,
                       Value context, ValueRange params) {
  Type element = op.getInput().getType().getElementType();
  SmallVector<Value> args = {castToDynamicBatch(b, loc, y),
                             createFloatConstant(b, loc, element, t)};
  if (context)
    args.push_back(context);
  llvm::append_range(args, params);
  Type result =
      getBatchType(op.getInput().getType().getDimSize(1), {}, element);
  return func::CallOp::create(b, loc, function, TypeRange{result}, args)
      .getResult(0);
}

namespace {
/// The step's constants and fields.
struct DiffusionStep {
  DiffusionStepOp op;
  DiffusionStepOp::Adaptor adaptor;
  double t0, t1, g0, g1, dt;

  DiffusionStep(DiffusionStepOp op, ValueRange operands)
      : op(op), adaptor(operands, op), t0(op.getT0().convertToDouble()),
        t1(op.getT1().convertToDouble()), g0(op.getG0().convertToDouble()),
        g1(op.getG1().convertToDouble()), dt(t1 - t0) {}

  /// f(y, t0).
  Value forwardDrift(OpBuilder &b, Location loc, Value y) {
    return callField(op, b, loc, op.getDriftAttr(), y, t0, adaptor.getCtx(),
                     adaptor.getDriftParams());
  }

  /// f(y, t1) - g1^2 s(y, t1), the backward SDE's drift.
  Value backwardDrift(OpBuilder &b, Location loc, Value y) {
    Value f = callField(op, b, loc, op.getDriftAttr(), y, t1, adaptor.getCtx(),
                        adaptor.getDriftParams());
    Value s = callField(op, b, loc, op.getScoreAttr(), y, t1, adaptor.getCtx(),
                        adaptor.getScoreParams());
    double g1Squared = g1 * g1;
    return mapSingleResult(
        b, loc, {f, s}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
          ScalarBuilder sb = scalarFor(nb, nloc, args[0]);
          return sb.sub(args[0], sb.mul(sb.c(g1Squared), args[1]));
        });
  }

  /// from + sign * drift dt + g sqrt(dt) eps.
  Value step(OpBuilder &b, Location loc, Value from, Value drift, double sign,
             double g, Value eps) {
    return mapSingleResult(b, loc, {from, drift, eps},
                           [&](OpBuilder &nb, Location nloc, ValueRange args) {
                             ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                             return s.add(
                                 s.add(args[0], s.mul(s.c(sign * dt), args[1])),
                                 s.mul(s.c(g * std::sqrt(dt)), args[2]));
                           });
  }

  /// (a - b + sign * drift dt) / (g sqrt(dt)): the noise that maps b to a.
  Value noiseBetween(OpBuilder &b, Location loc, Value to, Value from,
                     Value drift, double sign, double g) {
    return mapSingleResult(
        b, loc, {to, from, drift},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          ScalarBuilder s = scalarFor(nb, nloc, args[0]);
          Value difference = s.sub(args[0], args[1]);
          return s.div(s.add(difference, s.mul(s.c(sign * dt), args[2])),
                       s.c(g * std::sqrt(dt)));
        });
  }

  /// V = -(|epsB|^2 - |epsF|^2) / 2 + D log(g0 / g1).
  Value logDet(OpBuilder &b, Location loc, Value epsForward,
               Value epsBackward) {
    Value halfDifference = mapSingleResult(
        b, loc, {epsForward, epsBackward},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          ScalarBuilder s = scalarFor(nb, nloc, args[0]);
          return s.mul(s.c(0.5),
                       s.sub(s.mul(args[0], args[0]), s.mul(args[1], args[1])));
        });
    RankedTensorType type = op.getInput().getType();
    return addLogDets(
        b, loc, sumEventDims(b, loc, halfDifference),
        buildScalarTensor(b, loc, type.getElementType(),
                          getEventSize(type) * std::log(g0 / g1)));
  }
};
} // namespace

/// Standard normals of the data's shape: `given`, else from the layer noise.
static Value getStepNormals(DiffusionStepOp op, OpBuilder &b, Location loc,
                            Value given, ValueRange operands) {
  return given ? given
               : buildStandardNormal(b, loc, operands.back(),
                                     op.getInput().getType());
}

FailureOr<LayerValues> DiffusionStepOp::buildForward(OpBuilder &b,
                                                     ValueRange operands,
                                                     bool withLogDet) {
  DiffusionStep s(*this, operands);
  Location loc = getLoc();
  Value x = s.adaptor.getInput();
  Value epsForward =
      getStepNormals(*this, b, loc, s.adaptor.getForwardNoise(), operands);
  Value z = s.step(b, loc, x, s.forwardDrift(b, loc, x), 1.0, s.g0, epsForward);
  if (!withLogDet)
    return LayerValues{z, Value()};
  Value epsBackward =
      s.noiseBetween(b, loc, x, z, s.backwardDrift(b, loc, z), 1.0, s.g1);
  return LayerValues{z, s.logDet(b, loc, epsForward, epsBackward)};
}

FailureOr<LayerValues> DiffusionStepOp::buildInverse(OpBuilder &b, Value z,
                                                     ValueRange operands,
                                                     bool withLogDet) {
  DiffusionStep s(*this, operands);
  Location loc = getLoc();
  Value epsBackward =
      getStepNormals(*this, b, loc, s.adaptor.getInverseNoise(), operands);
  Value x =
      s.step(b, loc, z, s.backwardDrift(b, loc, z), -1.0, s.g1, epsBackward);
  if (!withLogDet)
    return LayerValues{x, Value()};
  Value epsForward =
      s.noiseBetween(b, loc, z, x, s.forwardDrift(b, loc, x), -1.0, s.g0);
  return LayerValues{x, s.logDet(b, loc, epsForward, epsBackward)};
}
