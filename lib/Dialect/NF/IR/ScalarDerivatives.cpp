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
