//===- ScalarDerivatives.cpp - Forward-mode rules for scalar arith/math ---===//
//
// The chain and product rules of the scalar arith/math ops, used where the
// compiler differentiates user-written code: log|f'(x)| of nf.elementwise
// and the payloads of linalg ops in derived energy gradients.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/ScalarDerivatives.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::nf;

bool mlir::nf::hasScalarDerivativeRule(Operation *op) {
  return isa<arith::ConstantOp, arith::AddFOp, arith::SubFOp, arith::MulFOp,
             arith::DivFOp, arith::NegFOp, arith::MaximumFOp, arith::MinimumFOp,
             arith::SelectOp, math::ExpOp, math::LogOp, math::Log1pOp,
             math::ExpM1Op, math::TanhOp, math::AtanhOp, math::SinhOp,
             math::AsinhOp, math::SqrtOp, math::PowFOp, math::AbsFOp,
             math::SinOp, math::CosOp>(op);
}

void mlir::nf::cloneWithDerivatives(OpBuilder &b, Location loc,
                                    iterator_range<Block::iterator> ops,
                                    IRMapping &mapping,
                                    DenseMap<Value, Value> &derivatives) {
  // Null derivative = 0 (the value does not depend on the seeds).
  auto d = [&](Value v) { return derivatives.lookup(v); };
  for (Operation &original : ops) {
    Operation *clone = b.clone(original, mapping);
    if (original.getNumResults() != 1 ||
        !original.getResult(0).getType().isFloat())
      continue;
    ScalarBuilder s = scalarFor(b, loc, clone->getResult(0));
    auto sum = [&](Value u, Value v) -> Value {
      return !u ? v : !v ? u : s.add(u, v);
    };
    auto times = [&](Value u, Value factor) -> Value {
      return u ? s.mul(u, factor) : Value();
    };
    auto orZero = [&](Value v) { return v ? v : s.c(0.0); };
    auto operand = [&](unsigned i) {
      return mapping.lookup(original.getOperand(i));
    };
    Value da =
        original.getNumOperands() > 0 ? d(original.getOperand(0)) : Value();
    Value db =
        original.getNumOperands() > 1 ? d(original.getOperand(1)) : Value();
    Value dc =
        original.getNumOperands() > 2 ? d(original.getOperand(2)) : Value();
    if (!da && !db && !dc)
      continue;
    Value r = clone->getResult(0), derivative;
    if (isa<arith::AddFOp>(original)) {
      derivative = sum(da, db);
    } else if (isa<arith::SubFOp>(original)) {
      derivative = sum(da, db ? s.neg(db) : Value());
    } else if (isa<arith::MulFOp>(original)) {
      derivative = sum(times(da, operand(1)), times(db, operand(0)));
    } else if (isa<arith::DivFOp>(original)) {
      // (da b - a db) / b^2 = da / b - r db / b
      Value bv = operand(1);
      derivative = sum(da ? s.div(da, bv) : Value(),
                       db ? s.neg(s.div(s.mul(r, db), bv)) : Value());
    } else if (isa<arith::NegFOp>(original)) {
      derivative = s.neg(da);
    } else if (isa<arith::MaximumFOp, arith::MinimumFOp>(original)) {
      Value pickFirst = s.cmp(arith::CmpFPredicate::OEQ, r, operand(0));
      derivative = s.select(pickFirst, orZero(da), orZero(db));
    } else if (isa<arith::SelectOp>(original)) {
      derivative = s.select(operand(0), orZero(db), orZero(dc));
    } else if (isa<math::ExpOp>(original)) {
      derivative = s.mul(r, da);
    } else if (isa<math::LogOp>(original)) {
      derivative = s.div(da, operand(0));
    } else if (isa<math::Log1pOp>(original)) {
      derivative = s.div(da, s.add(s.c(1.0), operand(0)));
    } else if (isa<math::ExpM1Op>(original)) {
      derivative = s.mul(s.add(r, s.c(1.0)), da);
    } else if (isa<math::TanhOp>(original)) {
      derivative = s.mul(s.sub(s.c(1.0), s.mul(r, r)), da);
    } else if (isa<math::AtanhOp>(original)) {
      Value a = operand(0);
      derivative = s.div(da, s.sub(s.c(1.0), s.mul(a, a)));
    } else if (isa<math::SinhOp>(original)) {
      derivative = s.mul(math::CoshOp::create(b, loc, operand(0)), da);
    } else if (isa<math::AsinhOp>(original)) {
      Value a = operand(0);
      derivative = s.div(da, s.sqrt(s.add(s.c(1.0), s.mul(a, a))));
    } else if (isa<math::SqrtOp>(original)) {
      derivative = s.div(da, s.mul(s.c(2.0), r));
    } else if (isa<math::AbsFOp>(original)) {
      derivative =
          s.mul(math::CopySignOp::create(b, loc, s.c(1.0), operand(0)), da);
    } else if (isa<math::SinOp>(original)) {
      derivative = s.mul(math::CosOp::create(b, loc, operand(0)), da);
    } else if (isa<math::CosOp>(original)) {
      derivative = s.neg(s.mul(math::SinOp::create(b, loc, operand(0)), da));
    } else if (isa<math::PowFOp>(original)) {
      // d(a^c) = c a^(c-1) da + a^c log(a) dc
      Value a = operand(0), c = operand(1);
      Value lower = math::PowFOp::create(b, loc, a, s.sub(c, s.c(1.0)));
      derivative = sum(da ? s.mul(s.mul(c, lower), da) : Value(),
                       db ? s.mul(s.mul(r, s.log(a)), db) : Value());
    }
    derivatives[original.getResult(0)] = derivative;
  }
}

void mlir::nf::cloneWithLogDerivatives(
    OpBuilder &b, Location loc, iterator_range<Block::iterator> ops,
    IRMapping &mapping, DenseMap<Value, LogDerivative> &derivatives) {
  for (Operation &original : ops) {
    Operation *clone = b.clone(original, mapping);
    if (original.getNumResults() != 1 ||
        !original.getResult(0).getType().isFloat())
      continue;
    ScalarBuilder s = scalarFor(b, loc, clone->getResult(0));
    // The dependent operands (at most three) and their log derivatives.
    SmallVector<unsigned> dependent;
    for (auto [i, operand] : llvm::enumerate(original.getOperands()))
      if (derivatives.count(operand))
        dependent.push_back(i);
    if (dependent.empty())
      continue;
    auto in = [&](unsigned i) {
      return mapping.lookup(original.getOperand(i));
    };
    auto logOf = [&](unsigned i) {
      return derivatives.lookup(original.getOperand(i));
    };
    auto signOf = [&](Value v) {
      return math::CopySignOp::create(b, loc, s.c(1.0), v).getResult();
    };
    // log|d| + log|factor| and sign(d) sign(factor).
    auto scaled = [&](LogDerivative d, Value logFactor, Value signFactor) {
      return LogDerivative{s.add(d.logAbs, logFactor),
                           signFactor ? s.mul(d.sign, signFactor) : d.sign};
    };
    auto linear = [&](LogDerivative d) {
      return s.mul(d.sign, s.exp(d.logAbs));
    };
    auto fromLinear = [&](Value d) {
      return LogDerivative{s.log(s.abs(d)), signOf(d)};
    };
    Value r = clone->getResult(0);
    LogDerivative result;
    unsigned first = dependent.front();
    LogDerivative da = logOf(first);
    bool single = dependent.size() == 1;
    if (isa<arith::AddFOp>(original) && single) {
      result = da;
    } else if (isa<arith::SubFOp>(original) && single) {
      result = first == 0 ? da : LogDerivative{da.logAbs, s.neg(da.sign)};
    } else if (isa<arith::MulFOp>(original) && single) {
      Value other = in(1 - first);
      result = scaled(da, s.log(s.abs(other)), signOf(other));
    } else if (isa<arith::DivFOp>(original) && single) {
      if (first == 0) {
        Value other = in(1);
        result = scaled(da, s.neg(s.log(s.abs(other))), signOf(other));
      } else {
        // d(c / u) = -(r / u) du
        Value u = in(1);
        result = scaled(da, s.sub(s.log(s.abs(r)), s.log(s.abs(u))),
                        s.neg(s.mul(signOf(r), signOf(u))));
      }
    } else if (isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp>(
                   original)) {
      // Both operands depend on x: the linear rules on exp(log|d|).
      DenseMap<Value, Value> linearDerivatives;
      for (unsigned i : dependent)
        linearDerivatives[original.getOperand(i)] = linear(logOf(i));
      Value u = in(0), v = in(1);
      Value du = linearDerivatives[original.getOperand(0)],
            dv = linearDerivatives[original.getOperand(1)];
      Value d;
      if (isa<arith::AddFOp>(original))
        d = s.add(du, dv);
      else if (isa<arith::SubFOp>(original))
        d = s.sub(du, dv);
      else if (isa<arith::MulFOp>(original))
        d = s.add(s.mul(du, v), s.mul(dv, u));
      else
        d = s.sub(s.div(du, v), s.div(s.mul(r, dv), v));
      result = fromLinear(d);
    } else if (isa<arith::NegFOp>(original)) {
      result = {da.logAbs, s.neg(da.sign)};
    } else if (isa<math::ExpOp>(original)) {
      result = scaled(da, in(0), nullptr); // log exp(u) = u
    } else if (isa<math::ExpM1Op>(original)) {
      result = scaled(da, in(0), nullptr); // d expm1(u) = exp(u) du
    } else if (isa<math::LogOp>(original)) {
      result = scaled(da, s.neg(s.log(s.abs(in(0)))), signOf(in(0)));
    } else if (isa<math::Log1pOp>(original)) {
      Value onePlus = s.add(s.c(1.0), in(0));
      result = scaled(da, s.neg(s.log(s.abs(onePlus))), signOf(onePlus));
    } else if (isa<math::SinhOp>(original)) {
      // log cosh(u) = |u| + log1p(exp(-2|u|)) - log 2
      Value a = s.abs(in(0));
      Value logCosh = s.sub(s.add(a, s.log1p(s.exp(s.mul(s.c(-2.0), a)))),
                            s.c(std::log(2.0)));
      result = scaled(da, logCosh, nullptr);
    } else if (isa<math::TanhOp>(original)) {
      // log(1 - tanh(u)^2) = 2 (log 2 - |u| - softplus(-2|u|))
      Value a = s.abs(in(0));
      Value logSech2 = s.mul(s.c(2.0), s.sub(s.sub(s.c(std::log(2.0)), a),
                                             s.softplus(s.mul(s.c(-2.0), a))));
      result = scaled(da, logSech2, nullptr);
    } else if (isa<math::AtanhOp>(original)) {
      Value a = in(0);
      Value oneMinus = s.sub(s.c(1.0), s.mul(a, a));
      result = scaled(da, s.neg(s.log(s.abs(oneMinus))), signOf(oneMinus));
    } else if (isa<math::AsinhOp>(original)) {
      // -log sqrt(1 + u^2) = -0.5 log1p(u^2)
      Value a = in(0);
      result = scaled(da, s.mul(s.c(-0.5), s.log1p(s.mul(a, a))), nullptr);
    } else if (isa<math::SqrtOp>(original)) {
      result = scaled(da, s.neg(s.add(s.c(std::log(2.0)), s.log(r))), nullptr);
    } else if (isa<math::AbsFOp>(original)) {
      result = {da.logAbs, s.mul(da.sign, signOf(in(0)))};
    } else if (isa<math::SinOp>(original)) {
      Value cos = math::CosOp::create(b, loc, in(0));
      result = scaled(da, s.log(s.abs(cos)), signOf(cos));
    } else if (isa<math::CosOp>(original)) {
      Value sin = math::SinOp::create(b, loc, in(0));
      result = scaled(da, s.log(s.abs(sin)), s.neg(signOf(sin)));
    } else if (isa<math::PowFOp>(original) && single && first == 0) {
      // d(u^c) = c u^(c-1) du
      Value c = in(1);
      Value lower = math::PowFOp::create(b, loc, in(0), s.sub(c, s.c(1.0)));
      result = scaled(da, s.add(s.log(s.abs(c)), s.log(s.abs(lower))),
                      s.mul(signOf(c), signOf(lower)));
    } else if (isa<math::PowFOp>(original)) {
      // A dependent exponent: d(a^c) = c a^(c-1) da + a^c log(a) dc.
      Value a = in(0), c = in(1);
      Value d = s.c(0.0);
      if (derivatives.count(original.getOperand(0)))
        d = s.add(d, s.mul(s.mul(c, math::PowFOp::create(b, loc, a,
                                                         s.sub(c, s.c(1.0)))),
                           linear(logOf(0))));
      if (derivatives.count(original.getOperand(1)))
        d = s.add(d, s.mul(s.mul(r, s.log(a)), linear(logOf(1))));
      result = fromLinear(d);
    } else if (isa<arith::MaximumFOp, arith::MinimumFOp>(original)) {
      Value pickFirst = s.cmp(arith::CmpFPredicate::OEQ, r, in(0));
      auto orNone = [&](unsigned i) {
        return derivatives.count(original.getOperand(i))
                   ? logOf(i)
                   : LogDerivative{s.minusInfinity(), s.c(1.0)};
      };
      LogDerivative d0 = orNone(0), d1 = orNone(1);
      result = {s.select(pickFirst, d0.logAbs, d1.logAbs),
                s.select(pickFirst, d0.sign, d1.sign)};
    } else if (isa<arith::SelectOp>(original)) {
      auto orNone = [&](unsigned i) {
        return derivatives.count(original.getOperand(i))
                   ? logOf(i)
                   : LogDerivative{s.minusInfinity(), s.c(1.0)};
      };
      LogDerivative d1 = orNone(1), d2 = orNone(2);
      result = {s.select(in(0), d1.logAbs, d2.logAbs),
                s.select(in(0), d1.sign, d2.sign)};
    } else {
      continue; // constants; callers check hasScalarDerivativeRule
    }
    derivatives[original.getResult(0)] = result;
  }
}
