//===- ElementwiseOps.cpp - Elementwise bijections ------------------------===//
//
// Each op gives z = f(x), x = f^-1(z) and log|f'(x)| for one element, in the
// numerically stable forms of survae's elementwise_nonlinear.py; the layer
// builders shared by all of them (buildElementwiseLayer) do the rest.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/IR/ScalarDerivatives.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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

/// `v` as printf's %g writes it.
static std::string formatShort(double v) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%g", v);
  return text;
}

namespace {
/// Verifies that `value` lies in (low, high) (open bounds).
LogicalResult verifyInRange(Operation *op, StringRef name, double value,
                            double low, double high, bool closedLow = false) {
  bool aboveLow = closedLow ? value >= low : value > low;
  if (aboveLow && value < high)
    return success();
  return op->emitOpError(name)
         << " must be in " << (closedLow ? "[" : "(") << formatShort(low)
         << ", " << formatShort(high) << "), but is " << formatShort(value);
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
  ScalarBuilder s = scalarFor(b, loc, x);
  return s.sigmoid(s.mul(s.c(getTemperature().convertToDouble()), x));
}

Value SigmoidOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  ScalarBuilder s = scalarFor(b, loc, z);
  Value logit = s.sub(s.log(z), s.log1p(s.neg(z)));
  return s.div(logit, s.c(getTemperature().convertToDouble()));
}

Value SigmoidOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                             Value x) {
  ScalarBuilder s = scalarFor(b, loc, x);
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

/// x' = alpha + (1 - 2 alpha) x.
static Value rescaleForLogit(ScalarBuilder &s, double alpha, Value x) {
  return s.add(s.c(alpha), s.mul(s.c(1 - 2 * alpha), x));
}

/// x' clamped to [eps, 1 - eps].
static Value clampForLogit(ScalarBuilder &s, Value rescaled) {
  Value low = arith::MaximumFOp::create(s.b, s.loc, rescaled, s.c(kLogitEps));
  return arith::MinimumFOp::create(s.b, s.loc, low, s.c(1 - kLogitEps));
}

/// Whether x' is in [0, 1], i.e. x in the support
/// [-alpha / (1 - 2 alpha), (1 - alpha) / (1 - 2 alpha)].
static Value inUnitInterval(ScalarBuilder &s, Value rescaled) {
  Value aboveZero = s.cmp(arith::CmpFPredicate::OGE, rescaled, s.c(0.0));
  Value belowOne = s.cmp(arith::CmpFPredicate::OLE, rescaled, s.c(1.0));
  return arith::AndIOp::create(s.b, s.loc, aboveZero, belowOne);
}

Value LogitOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  ScalarBuilder s = scalarFor(b, loc, x);
  Value rescaled = rescaleForLogit(s, getAlpha().convertToDouble(), x);
  Value p = clampForLogit(s, rescaled);
  Value logit = s.div(s.sub(s.log(p), s.log1p(s.neg(p))),
                      s.c(getTemperature().convertToDouble()));
  return s.select(inUnitInterval(s, rescaled), logit, s.c(0.0));
}

Value LogitOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  ScalarBuilder s = scalarFor(b, loc, z);
  double alpha = getAlpha().convertToDouble();
  Value p = s.sigmoid(s.mul(s.c(getTemperature().convertToDouble()), z));
  return s.div(s.sub(p, s.c(alpha)), s.c(1 - 2 * alpha));
}

Value LogitOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                           Value x) {
  ScalarBuilder s = scalarFor(b, loc, x);
  double alpha = getAlpha().convertToDouble();
  double t = getTemperature().convertToDouble();
  Value rescaled = rescaleForLogit(s, alpha, x);
  Value p = clampForLogit(s, rescaled);
  Value constant = s.c(std::log(1 - 2 * alpha) - std::log(t));
  Value value = s.sub(s.sub(constant, s.log(p)), s.log1p(s.neg(p)));
  return s.select(inUnitInterval(s, rescaled), value, s.minusInfinity());
}

//===----------------------------------------------------------------------===//
// nf.tanh
//===----------------------------------------------------------------------===//

Value TanhOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  return math::TanhOp::create(b, loc, x);
}

Value TanhOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  ScalarBuilder s = scalarFor(b, loc, z);
  return s.mul(s.c(0.5), s.sub(s.log1p(z), s.log1p(s.neg(z))));
}

Value TanhOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc, Value x) {
  // log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x))
  ScalarBuilder s = scalarFor(b, loc, x);
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
  ScalarBuilder s = scalarFor(b, loc, z);
  Value expm1 = math::ExpM1Op::create(b, loc, s.neg(z));
  return s.add(z, s.log(s.neg(expm1)));
}

Value SoftplusOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                              Value x) {
  // log sigmoid(x) = -softplus(-x)
  ScalarBuilder s = scalarFor(b, loc, x);
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
  ScalarBuilder s = scalarFor(b, loc, x);
  Value negative = s.cmp(arith::CmpFPredicate::OLT, x, s.c(0.0));
  return s.select(negative, s.mul(s.c(getSlope().convertToDouble()), x), x);
}

Value LeakyReLUOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  ScalarBuilder s = scalarFor(b, loc, z);
  Value negative = s.cmp(arith::CmpFPredicate::OLT, z, s.c(0.0));
  return s.select(negative, s.div(z, s.c(getSlope().convertToDouble())), z);
}

Value LeakyReLUOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                               Value x) {
  ScalarBuilder s = scalarFor(b, loc, x);
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
static Value isPositive(ScalarBuilder &s, Value x) {
  return s.cmp(arith::CmpFPredicate::OGT, x, s.c(0.0));
}

Value LogOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  ScalarBuilder s = scalarFor(b, loc, x);
  return s.select(isPositive(s, x), s.log(x), s.c(0.0));
}

Value LogOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  return math::ExpOp::create(b, loc, z);
}

Value LogOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc, Value x) {
  ScalarBuilder s = scalarFor(b, loc, x);
  return s.select(isPositive(s, x), s.neg(s.log(x)), s.minusInfinity());
}

//===----------------------------------------------------------------------===//
// nf.elementwise: a user-written forward; inverse and log|f'| derived
//===----------------------------------------------------------------------===//

/// The body's values that depend on x (the block argument).
static DenseSet<Value> getValuesDependingOnX(Block &body) {
  DenseSet<Value> dependent = {body.getArgument(0)};
  for (Operation &op : body)
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return dependent.contains(v); }))
      dependent.insert(op.result_begin(), op.result_end());
  return dependent;
}

/// The value of a float constant, if `v` is one.
static std::optional<double> getConstantValue(Value v) {
  FloatAttr attr;
  if (matchPattern(v, m_Constant(&attr)))
    return attr.getValueAsDouble();
  return std::nullopt;
}

/// Whether `v` is provably > 0 for every x: a positive constant, an exp, or
/// products, quotients and sums of such values.
static bool isProvenPositive(Value v) {
  if (std::optional<double> c = getConstantValue(v))
    return *c > 0;
  Operation *def = v.getDefiningOp();
  if (!def)
    return false;
  if (isa<math::ExpOp>(def))
    return true;
  if (isa<arith::MulFOp, arith::DivFOp, arith::AddFOp>(def))
    return isProvenPositive(def->getOperand(0)) &&
           isProvenPositive(def->getOperand(1));
  return false;
}

/// Whether `v` is provably nonzero for every x: a nonzero constant, a
/// positive value, or products, quotients and negations of such values.
static bool isProvenNonzero(Value v) {
  if (std::optional<double> c = getConstantValue(v))
    return *c != 0;
  if (isProvenPositive(v))
    return true;
  Operation *def = v.getDefiningOp();
  if (def && isa<arith::MulFOp, arith::DivFOp>(def))
    return isProvenNonzero(def->getOperand(0)) &&
           isProvenNonzero(def->getOperand(1));
  if (def && isa<arith::NegFOp>(def))
    return isProvenNonzero(def->getOperand(0));
  return false;
}

/// Whether `op`, a function of x through its operand `index` (the others do
/// not depend on x), is injective, so that it can be undone symbolically;
/// if not, `why` says which operand breaks it.
static bool isInvertibleIn(Operation *op, unsigned index, std::string &why) {
  std::string name = "'" + op->getName().getStringRef().str() + "'";
  if (isa<arith::AddFOp, arith::SubFOp, arith::NegFOp, math::ExpOp, math::LogOp,
          math::Log1pOp, math::ExpM1Op, math::TanhOp, math::AtanhOp,
          math::SinhOp, math::AsinhOp, math::SqrtOp>(op))
    return true;
  if (isa<arith::MulFOp, arith::DivFOp>(op)) {
    // x * c, x / c and c / x are injective only for c != 0.
    unsigned other = 1 - index;
    if (isProvenNonzero(op->getOperand(other)))
      return true;
    why = name + " is not injective in x unless its operand #" +
          std::to_string(other) +
          " is nonzero, which is not proven (use a nonzero constant or an "
          "exp)";
    return false;
  }
  if (auto pow = dyn_cast<math::PowFOp>(op)) {
    if (index != 0) {
      why = name + " with x in the exponent is not inverted symbolically";
      return false;
    }
    // x^c: injective for odd integer c on all reals, for any c != 0 on a
    // positive base.
    std::optional<double> c = getConstantValue(pow.getRhs());
    bool oddInteger = c && std::fmod(std::abs(*c), 2.0) == 1.0;
    if ((c && *c != 0 && isProvenPositive(pow.getLhs())) || oddInteger)
      return true;
    why = name + " is not injective in x: its exponent (operand #1) must be "
                 "an odd integer constant, or a nonzero constant over a base "
                 "proven positive (operand #0)";
    return false;
  }
  why = name + " is not invertible in x";
  return false;
}

FailureOr<SmallVector<OpOperand *>>
ElementwiseOp::getInversionChain(std::string &why) {
  Block &body = getBody().front();
  DenseSet<Value> dependent = getValuesDependingOnX(body);
  SmallVector<OpOperand *> chain;
  Value value = cast<ScalarYieldOp>(body.getTerminator()).getValue();
  if (!dependent.contains(value)) {
    why = "the result does not depend on x";
    return failure();
  }
  while (value != body.getArgument(0)) {
    Operation *def = value.getDefiningOp();
    SmallVector<OpOperand *> uses;
    for (OpOperand &operand : def->getOpOperands())
      if (dependent.contains(operand.get()))
        uses.push_back(&operand);
    std::string name = "'" + def->getName().getStringRef().str() + "'";
    if (uses.size() != 1) {
      why = name + " uses x in more than one operand";
      return failure();
    }
    if (!isInvertibleIn(def, uses.front()->getOperandNumber(), why))
      return failure();
    chain.push_back(uses.front());
    value = uses.front()->get();
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

/// f(x) of a body of scalar arith/math ops on constants, in double
/// precision; nullopt for an op it does not know.
static std::optional<double> evaluateBody(Block &body, double x) {
  DenseMap<Value, double> values;
  values[body.getArgument(0)] = x;
  for (Operation &op : body.without_terminator()) {
    if (auto c = getConstantValue(op.getResult(0))) {
      values[op.getResult(0)] = *c;
      continue;
    }
    SmallVector<double> in;
    for (Value operand : op.getOperands()) {
      auto it = values.find(operand);
      if (it == values.end())
        return std::nullopt;
      in.push_back(it->second);
    }
    double a = in.empty() ? 0 : in[0], b = in.size() > 1 ? in[1] : 0, r;
    if (isa<arith::AddFOp>(op))
      r = a + b;
    else if (isa<arith::SubFOp>(op))
      r = a - b;
    else if (isa<arith::MulFOp>(op))
      r = a * b;
    else if (isa<arith::DivFOp>(op))
      r = a / b;
    else if (isa<arith::NegFOp>(op))
      r = -a;
    else if (isa<arith::MaximumFOp>(op))
      r = std::max(a, b);
    else if (isa<arith::MinimumFOp>(op))
      r = std::min(a, b);
    else if (isa<math::ExpOp>(op))
      r = std::exp(a);
    else if (isa<math::LogOp>(op))
      r = std::log(a);
    else if (isa<math::Log1pOp>(op))
      r = std::log1p(a);
    else if (isa<math::ExpM1Op>(op))
      r = std::expm1(a);
    else if (isa<math::TanhOp>(op))
      r = std::tanh(a);
    else if (isa<math::AtanhOp>(op))
      r = std::atanh(a);
    else if (isa<math::SinhOp>(op))
      r = std::sinh(a);
    else if (isa<math::AsinhOp>(op))
      r = std::asinh(a);
    else if (isa<math::SqrtOp>(op))
      r = std::sqrt(a);
    else if (isa<math::PowFOp>(op))
      r = std::pow(a, b);
    else if (isa<math::AbsFOp>(op))
      r = std::abs(a);
    else if (isa<math::SinOp>(op))
      r = std::sin(a);
    else if (isa<math::CosOp>(op))
      r = std::cos(a);
    else
      return std::nullopt;
    values[op.getResult(0)] = r;
  }
  auto it = values.find(cast<ScalarYieldOp>(body.getTerminator()).getValue());
  return it == values.end() ? std::nullopt : std::optional<double>(it->second);
}

/// The grid a `monotone` declaration is checked on.
static constexpr double kMonotoneGridBound = 10.0;
static constexpr int kMonotoneGridPoints = 4001;

/// Checks a `monotone` declaration on a grid over [-10, 10] where f is
/// finite; an error names the first pair of points that contradicts it.
static LogicalResult verifyMonotone(ElementwiseOp op, bool increasing) {
  Block &body = op.getBody().front();
  std::optional<double> previous;
  double previousX = 0;
  for (int k = 0; k < kMonotoneGridPoints; ++k) {
    double x = -kMonotoneGridBound +
               2 * kMonotoneGridBound * k / (kMonotoneGridPoints - 1);
    std::optional<double> fx = evaluateBody(body, x);
    if (!fx)
      return success(); // an op the check cannot evaluate
    if (!std::isfinite(*fx))
      continue; // outside the domain
    if (previous) {
      bool violated = increasing ? !(*fx > *previous) : !(*fx < *previous);
      if (violated)
        return op.emitOpError("is declared monotone ")
               << (increasing ? "increasing" : "decreasing") << ", but f("
               << formatShort(previousX) << ") = " << formatShort(*previous)
               << " and f(" << formatShort(x) << ") = " << formatShort(*fx);
    }
    previous = fx;
    previousX = x;
  }
  return success();
}

LogicalResult ElementwiseOp::verifyRegions() {
  Block &body = getBody().front();
  Type elementType = getInput().getType().getElementType();
  if (body.getNumArguments() != 1 ||
      body.getArgument(0).getType() != elementType)
    return emitOpError("body must take one scalar of the data's element type ")
           << elementType;
  auto yield = dyn_cast<ScalarYieldOp>(body.getTerminator());
  if (!yield || yield.getValue().getType() != elementType)
    return emitOpError("body must end with nf.scalar_yield of a ")
           << elementType;
  DenseSet<Value> dependent = getValuesDependingOnX(body);
  for (Operation &op : body.without_terminator()) {
    bool onX = llvm::any_of(op.getResults(),
                            [&](Value v) { return dependent.contains(v); });
    if (!isMemoryEffectFree(&op) || op.getNumRegions() != 0 ||
        op.getNumResults() != 1 || !op.getResult(0).getType().isFloat())
      return op.emitOpError("is not allowed in an nf.elementwise body (only "
                            "side-effect-free scalar float arith/math ops)");
    if (onX && !hasScalarDerivativeRule(&op))
      return op.emitOpError("cannot be differentiated in x, so nf.elementwise "
                            "cannot derive log|f'(x)|");
  }
  std::string why;
  if (!getMonotone() && failed(getInversionChain(why)))
    return emitOpError("cannot derive the inverse: ")
           << why
           << "; declare `monotone increasing` or `monotone "
              "decreasing` to invert it numerically";
  if (!(getTolerance().convertToDouble() > 0))
    return emitOpError("tolerance must be positive");
  if (getMonotone())
    return verifyMonotone(*this, *getMonotone() == Monotonicity::Increasing);
  return success();
}

/// Clones the body's ops into `b` with x mapped to `x`, and returns the
/// yielded value; with `derivatives`, also forward-mode derivatives d/dx of
/// every x-dependent value (keyed by the original values).
static Value cloneBody(ElementwiseOp op, OpBuilder &b, Location loc, Value x,
                       IRMapping &mapping,
                       DenseMap<Value, Value> *derivatives = nullptr) {
  Block &body = op.getBody().front();
  mapping.map(body.getArgument(0), x);
  if (!derivatives) {
    for (Operation &original : body.without_terminator())
      b.clone(original, mapping);
  } else {
    (*derivatives)[body.getArgument(0)] =
        createFloatConstant(b, loc, x.getType(), 1.0);
    cloneWithDerivatives(b, loc, body.without_terminator(), mapping,
                         *derivatives);
  }
  Value yielded = cast<ScalarYieldOp>(body.getTerminator()).getValue();
  return mapping.lookup(yielded);
}

Value ElementwiseOp::buildScalarForward(OpBuilder &b, Location loc, Value x) {
  IRMapping mapping;
  return cloneBody(*this, b, loc, x, mapping);
}

/// f'(x), for the numeric inverse and log|f'(x)|.
static Value buildDerivative(ElementwiseOp op, OpBuilder &b, Location loc,
                             Value x, Value *fx = nullptr) {
  IRMapping mapping;
  DenseMap<Value, Value> derivatives;
  Value value = cloneBody(op, b, loc, x, mapping, &derivatives);
  if (fx)
    *fx = value;
  Value yielded =
      cast<ScalarYieldOp>(op.getBody().front().getTerminator()).getValue();
  Value derivative = derivatives.lookup(yielded);
  return derivative ? derivative : createFloatConstant(b, loc, x.getType(), 0);
}

Value ElementwiseOp::buildScalarLogAbsDerivative(OpBuilder &b, Location loc,
                                                 Value x) {
  // In log space, so that log|f'| stays finite where f' overflows.
  Block &body = getBody().front();
  IRMapping mapping;
  mapping.map(body.getArgument(0), x);
  DenseMap<Value, LogDerivative> derivatives;
  derivatives[body.getArgument(0)] = {
      createFloatConstant(b, loc, x.getType(), 0.0),
      createFloatConstant(b, loc, x.getType(), 1.0)};
  cloneWithLogDerivatives(b, loc, body.without_terminator(), mapping,
                          derivatives);
  Value yielded = cast<ScalarYieldOp>(body.getTerminator()).getValue();
  auto it = derivatives.find(yielded);
  if (it == derivatives.end())
    return createFloatConstant(b, loc, x.getType(),
                               -std::numeric_limits<double>::infinity());
  return it->second.logAbs;
}

/// Undoes `op` on its x-dependent operand `index`: returns a with
/// op(..., a, ...) = v; `other` is its other operand (mapped).
static Value invertStep(ScalarBuilder &s, Operation *op, unsigned index,
                        Value v, Value other) {
  if (isa<arith::AddFOp>(op))
    return s.sub(v, other);
  if (isa<arith::SubFOp>(op))
    return index == 0 ? s.add(v, other) : s.sub(other, v);
  if (isa<arith::MulFOp>(op))
    return s.div(v, other);
  if (isa<arith::DivFOp>(op))
    return index == 0 ? s.mul(v, other) : s.div(other, v);
  if (isa<arith::NegFOp>(op))
    return s.neg(v);
  if (isa<math::ExpOp>(op))
    return s.log(v);
  if (isa<math::LogOp>(op))
    return s.exp(v);
  if (isa<math::Log1pOp>(op))
    return math::ExpM1Op::create(s.b, s.loc, v);
  if (isa<math::ExpM1Op>(op))
    return s.log1p(v);
  if (isa<math::TanhOp>(op))
    return s.mul(s.c(0.5), s.sub(s.log1p(v), s.log1p(s.neg(v))));
  if (isa<math::AtanhOp>(op))
    return math::TanhOp::create(s.b, s.loc, v);
  if (isa<math::SinhOp>(op))
    return math::AsinhOp::create(s.b, s.loc, v);
  if (isa<math::AsinhOp>(op))
    return math::SinhOp::create(s.b, s.loc, v);
  if (isa<math::SqrtOp>(op))
    return s.mul(v, v);
  assert(isa<math::PowFOp>(op) && "not an invertible primitive");
  // x = sign(v) |v|^(1/c): odd powers of negative x come back negative.
  Value root =
      math::PowFOp::create(s.b, s.loc, s.abs(v), s.div(s.c(1.0), other));
  return math::CopySignOp::create(s.b, s.loc, root, v);
}

/// Solves f(x) = z for a monotone f (see buildMonotoneSolve).
static Value buildNumericInverse(ElementwiseOp op, OpBuilder &b, Location loc,
                                 Value z) {
  bool increasing = *op.getMonotone() == Monotonicity::Increasing;
  // g(x) = +-(f(x) - z) is increasing; returns g and g'.
  auto g = [&](OpBuilder &nb, Location nloc, Value x) {
    Value fx;
    Value dfx = buildDerivative(op, nb, nloc, x, &fx);
    ScalarBuilder ns = scalarFor(nb, nloc, x);
    Value diff = ns.sub(fx, z);
    return increasing ? std::make_pair(diff, dfx)
                      : std::make_pair(ns.neg(diff), ns.neg(dfx));
  };
  return buildMonotoneSolve(b, loc, z.getType(), g,
                            op.getTolerance().convertToDouble());
}

Value ElementwiseOp::buildScalarInverse(OpBuilder &b, Location loc, Value z) {
  std::string why;
  FailureOr<SmallVector<OpOperand *>> chain = getInversionChain(why);
  if (failed(chain))
    return buildNumericInverse(*this, b, loc, z);
  // x-independent values (constants, parameters of the chain) first.
  Block &body = getBody().front();
  DenseSet<Value> dependent = getValuesDependingOnX(body);
  IRMapping mapping;
  for (Operation &op : body.without_terminator())
    if (!dependent.contains(op.getResult(0)))
      b.clone(op, mapping);
  ScalarBuilder s = scalarFor(b, loc, z);
  Value value = z;
  for (OpOperand *use : llvm::reverse(*chain)) {
    Operation *op = use->getOwner();
    unsigned index = use->getOperandNumber();
    Value other = op->getNumOperands() > 1
                      ? mapping.lookup(op->getOperand(1 - index))
                      : Value();
    value = invertStep(s, op, index, value, other);
  }
  return value;
}

//===----------------------------------------------------------------------===//
// nf.elementwise_chain
//===----------------------------------------------------------------------===//

SmallVector<ElementwiseBijectionOpInterface> ElementwiseChainOp::getMembers() {
  return llvm::to_vector(
      getBody().front().getOps<ElementwiseBijectionOpInterface>());
}

LogicalResult ElementwiseChainOp::verifyRegions() {
  Block &block = getBody().front();
  Type type = getInput().getType();
  if (block.getNumArguments() != 1 || block.getArgument(0).getType() != type)
    return emitOpError("body must take one argument of the data's type ")
           << type;
  Value current = block.getArgument(0);
  for (Operation &op : block.without_terminator()) {
    if (!isa<ElementwiseBijectionOpInterface>(op))
      return op.emitOpError("is not an elementwise bijection; an "
                            "nf.elementwise_chain holds only those");
    if (op.getNumOperands() != 1 || op.getOperand(0) != current)
      return op.emitOpError("must take the previous member's result (or the "
                            "chain's argument) as its only operand");
    current = op.getResult(0);
  }
  if (block.getTerminator()->getOperand(0) != current)
    return emitOpError("must yield its last member's result");
  return success();
}

Value ElementwiseChainOp::buildScalarForward(OpBuilder &b, Location loc,
                                             Value x) {
  for (ElementwiseBijectionOpInterface member : getMembers())
    x = member.buildScalarForward(b, loc, x);
  return x;
}

Value ElementwiseChainOp::buildScalarInverse(OpBuilder &b, Location loc,
                                             Value z) {
  SmallVector<ElementwiseBijectionOpInterface> members = getMembers();
  for (ElementwiseBijectionOpInterface member : llvm::reverse(members))
    z = member.buildScalarInverse(b, loc, z);
  return z;
}

Value ElementwiseChainOp::buildScalarLogAbsDerivative(OpBuilder &b,
                                                      Location loc, Value x) {
  // log|(f_n o ... o f_1)'(x)| = sum_i log|f_i'(x_i)|, x_i = f_(i-1)(...).
  Value sum;
  for (ElementwiseBijectionOpInterface member : getMembers()) {
    Value term = member.buildScalarLogAbsDerivative(b, loc, x);
    sum = sum ? arith::AddFOp::create(b, loc, sum, term).getResult() : term;
    x = member.buildScalarForward(b, loc, x);
  }
  return sum;
}
