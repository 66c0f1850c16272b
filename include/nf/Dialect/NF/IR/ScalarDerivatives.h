//===- ScalarDerivatives.h - Scalar derivative rules ------------*- C++ -*-===//
//
// The derivative rules of scalar arith/math ops (ScalarDerivatives.cpp),
// shared by nf.elementwise (log|f'|) and the energy-gradient AD.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_SCALARDERIVATIVES_H
#define NF_DIALECT_NF_IR_SCALARDERIVATIVES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::nf {

/// Whether cloneWithDerivatives knows the derivative of scalar op `op`.
bool hasScalarDerivativeRule(Operation *op);

/// Clones the scalar ops `ops` at the insertion point (operands remapped by
/// `mapping`) and, by forward-mode differentiation (chain and product rules),
/// records in `derivatives` the derivative of every float result that depends
/// on a value already in it (keyed by the original values; absent = 0).
/// Callers check hasScalarDerivativeRule on the dependent ops first.
void cloneWithDerivatives(OpBuilder &b, Location loc,
                          iterator_range<Block::iterator> ops,
                          IRMapping &mapping,
                          DenseMap<Value, Value> &derivatives);

/// A derivative as log|d| and sign(d) (+-1): finite where d itself would
/// overflow (sinh(2x) at |x| = 45 in f32).
struct LogDerivative {
  Value logAbs, sign;
};

/// cloneWithDerivatives in log space: records log|d| and the sign of every
/// dependent result. Multiplicative steps (exp, sinh, products and
/// quotients by independent values, ...) add logs, with log cosh, log of
/// exp and softplus forms that cannot overflow; a sum or product of two
/// dependent values combines them in linear space.
void cloneWithLogDerivatives(OpBuilder &b, Location loc,
                             iterator_range<Block::iterator> ops,
                             IRMapping &mapping,
                             DenseMap<Value, LogDerivative> &derivatives);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_SCALARDERIVATIVES_H
