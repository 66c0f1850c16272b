//===- ElementwiseOps.cpp - Elementwise bijections ------------------------===//
//
// Each op gives z = f(x), x = f^-1(z) and log|f'(x)| for one element, in the
// numerically stable forms of survae's elementwise_nonlinear.py; the layer
// builders shared by all of them (buildElementwiseLayer) do the rest.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "llvm/Support/Format.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::nf;

FailureOr<LayerValues>
mlir::nf::buildElementwiseLayer(ElementwiseBijectionOpInterface op,
                                OpBuilder &b, Value in, bool inverse,
                                bool withLogDet) {
  Location loc = op.getLoc();
  SmallVector<Value> results =
      mapElementwise(b, loc, in, {in}, withLogDet ? 2 : 1,
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       Value out =
                           inverse ? op.buildScalarInverse(nb, nloc, args[0])
                                   : op.buildScalarForward(nb, nloc, args[0]);
                       SmallVector<Value> values = {out};
                       if (withLogDet)
                         values.push_back(op.buildScalarLogAbsDerivative(
                             nb, nloc, inverse ? out : args[0]));
                       return values;
                     });
  Value logDet = withLogDet ? sumEventDims(b, loc, results[1]) : Value();
  return LayerValues{results[0], logDet};
}

namespace {
/// Scalar arithmetic on values of one float type, to keep formulas short.
struct Scalar {
  OpBuilder &b;
  Location loc;
  Type type;

  Value c(double v) { return createFloatConstant(b, loc, type, v); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value log(Value x) { return math::LogOp::create(b, loc, x); }
  Value log1p(Value x) { return math::Log1pOp::create(b, loc, x); }
  Value softplus(Value x) { return buildScalarSoftplus(b, loc, x); }
  Value sigmoid(Value x) { return buildScalarSigmoid(b, loc, x); }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
  Value minusInfinity() { return c(-std::numeric_limits<double>::infinity()); }
};

Scalar scalarFor(OpBuilder &b, Location loc, Value x) {
  return {b, loc, x.getType()};
}

/// Verifies that `value` lies in (low, high) (open bounds).
LogicalResult verifyInRange(Operation *op, StringRef name, double value,
                            double low, double high, bool closedLow = false) {
  bool aboveLow = closedLow ? value >= low : value > low;
  if (aboveLow && value < high)
    return success();
  auto format = [](double v) {
    std::string text;
    llvm::raw_string_ostream(text) << llvm::format("%g", v);
    return text;
  };
  return op->emitOpError(name)
         << " must be in " << (closedLow ? "[" : "(") << format(low) << ", "
         << format(high) << "), but is " << format(value);
}
} // namespace

//===----------------------------------------------------------------------===//
// nf.sigmoid
//===----------------------------------------------------------------------===//

LogicalResult SigmoidOp::verify() {
  return verifyInRange(*this, "temperature", getTemperature().convertToDouble(),
                       0.0, std::numeric_limits<double>::infinity());
}

Value SigmoidOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  Scalar s = scalarFor(b, loc, x);
  return s.sigmoid(s.mul(s.c(getTemperature().convertToDouble()), x));
}

Value SigmoidOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  Scalar s = scalarFor(b, loc, z);
  Value logit = s.sub(s.log(z), s.log1p(s.neg(z)));
  return s.div(logit, s.c(getTemperature().convertToDouble()));
}

Value SigmoidOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                             Value x) {
  Scalar s = scalarFor(b, loc, x);
  double t = getTemperature().convertToDouble();
  Value tx = s.mul(s.c(t), x);
  return s.sub(s.sub(s.c(std::log(t)), s.softplus(s.neg(tx))), s.softplus(tx));
}

//===----------------------------------------------------------------------===//
// nf.logit
//===----------------------------------------------------------------------===//

/// Clamp of x' (survae): keeps the logit finite at the ends of [0, 1].
static constexpr double kLogitEps = 1e-6;

LogicalResult LogitOp::verify() {
  if (failed(verifyInRange(*this, "alpha", getAlpha().convertToDouble(), 0.0,
                           0.5, /*closedLow=*/true)))
    return failure();
  return verifyInRange(*this, "temperature", getTemperature().convertToDouble(),
                       0.0, std::numeric_limits<double>::infinity());
}

/// x' = alpha + (1 - 2 alpha) x, clamped to [eps, 1 - eps].
static Value rescaleForLogit(Scalar &s, double alpha, Value x) {
  Value rescaled = s.add(s.c(alpha), s.mul(s.c(1 - 2 * alpha), x));
  Value low = arith::MaximumFOp::create(s.b, s.loc, rescaled, s.c(kLogitEps));
  return arith::MinimumFOp::create(s.b, s.loc, low, s.c(1 - kLogitEps));
}

/// Whether x is in the support [0, 1].
static Value inUnitInterval(Scalar &s, Value x) {
  Value aboveZero = s.cmp(arith::CmpFPredicate::OGE, x, s.c(0.0));
  Value belowOne = s.cmp(arith::CmpFPredicate::OLE, x, s.c(1.0));
  return arith::AndIOp::create(s.b, s.loc, aboveZero, belowOne);
}

Value LogitOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  Scalar s = scalarFor(b, loc, x);
  Value p = rescaleForLogit(s, getAlpha().convertToDouble(), x);
  Value logit = s.div(s.sub(s.log(p), s.log1p(s.neg(p))),
                      s.c(getTemperature().convertToDouble()));
  return s.select(inUnitInterval(s, x), logit, s.c(0.0));
}

Value LogitOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  Scalar s = scalarFor(b, loc, z);
  double alpha = getAlpha().convertToDouble();
  Value p = s.sigmoid(s.mul(s.c(getTemperature().convertToDouble()), z));
  return s.div(s.sub(p, s.c(alpha)), s.c(1 - 2 * alpha));
}

Value LogitOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                           Value x) {
  Scalar s = scalarFor(b, loc, x);
  double alpha = getAlpha().convertToDouble();
  double t = getTemperature().convertToDouble();
  Value p = rescaleForLogit(s, alpha, x);
  Value constant = s.c(std::log(1 - 2 * alpha) - std::log(t));
  Value value = s.sub(s.sub(constant, s.log(p)), s.log1p(s.neg(p)));
  return s.select(inUnitInterval(s, x), value, s.minusInfinity());
}

//===----------------------------------------------------------------------===//
// nf.tanh
//===----------------------------------------------------------------------===//

Value TanhOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  return math::TanhOp::create(b, loc, x);
}

Value TanhOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  Scalar s = scalarFor(b, loc, z);
  return s.mul(s.c(0.5), s.sub(s.log1p(z), s.log1p(s.neg(z))));
}

Value TanhOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc, Value x) {
  // log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x))
  Scalar s = scalarFor(b, loc, x);
  Value inner =
      s.sub(s.sub(s.c(std::log(2.0)), x), s.softplus(s.mul(s.c(-2.0), x)));
  return s.mul(s.c(2.0), inner);
}

//===----------------------------------------------------------------------===//
// nf.softplus
//===----------------------------------------------------------------------===//

Value SoftplusOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  return buildScalarSoftplus(b, loc, x);
}

Value SoftplusOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  // x = z + log(-expm1(-z))
  Scalar s = scalarFor(b, loc, z);
  Value expm1 = math::ExpM1Op::create(b, loc, s.neg(z));
  return s.add(z, s.log(s.neg(expm1)));
}

Value SoftplusOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                              Value x) {
  // log sigmoid(x) = -softplus(-x)
  Scalar s = scalarFor(b, loc, x);
  return s.neg(s.softplus(s.neg(x)));
}

//===----------------------------------------------------------------------===//
// nf.leaky_relu
//===----------------------------------------------------------------------===//

LogicalResult LeakyReLUOp::verify() {
  return verifyInRange(*this, "slope", getSlope().convertToDouble(), 0.0,
                       std::numeric_limits<double>::infinity());
}

Value LeakyReLUOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  Scalar s = scalarFor(b, loc, x);
  Value negative = s.cmp(arith::CmpFPredicate::OLT, x, s.c(0.0));
  return s.select(negative, s.mul(s.c(getSlope().convertToDouble()), x), x);
}

Value LeakyReLUOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  Scalar s = scalarFor(b, loc, z);
  Value negative = s.cmp(arith::CmpFPredicate::OLT, z, s.c(0.0));
  return s.select(negative, s.div(z, s.c(getSlope().convertToDouble())), z);
}

Value LeakyReLUOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                               Value x) {
  Scalar s = scalarFor(b, loc, x);
  Value negative = s.cmp(arith::CmpFPredicate::OLT, x, s.c(0.0));
  return s.select(negative, s.c(std::log(getSlope().convertToDouble())),
                  s.c(0.0));
}

//===----------------------------------------------------------------------===//
// nf.exp and nf.log
//===----------------------------------------------------------------------===//

Value ExpOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  return math::ExpOp::create(b, loc, x);
}

Value ExpOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  return math::LogOp::create(b, loc, z);
}

Value ExpOp::buildScalarLogAbsDerivative(OpBuilder &, Location, Value x) {
  return x;
}

/// Whether x > 0, the support of the log.
static Value isPositive(Scalar &s, Value x) {
  return s.cmp(arith::CmpFPredicate::OGT, x, s.c(0.0));
}

Value LogOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  Scalar s = scalarFor(b, loc, x);
  return s.select(isPositive(s, x), s.log(x), s.c(0.0));
}

Value LogOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  return math::ExpOp::create(b, loc, z);
}

Value LogOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc, Value x) {
  Scalar s = scalarFor(b, loc, x);
  return s.select(isPositive(s, x), s.neg(s.log(x)), s.minusInfinity());
}
