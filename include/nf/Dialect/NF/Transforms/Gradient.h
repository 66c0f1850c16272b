//===- Gradient.h - Reverse-mode AD of tensor functions ---------*- C++ -*-===//
//
// The compiler derives the energy gradients that Langevin blocks need by
// reverse-mode differentiation over upstream linalg/tensor/arith/math IR.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_TRANSFORMS_GRADIENT_H
#define NF_DIALECT_NF_TRANSFORMS_GRADIENT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::nf {

/// Adds `name` next to `function`, a func.func (x, params...) -> tensor<?xT>
/// of one value per row of x: the gradient of the sum of its result with
/// respect to x, (x, params...) -> type(x). Rows that do not mix make it the
/// per-row gradient. Differentiates linalg ops (generic and named: a payload
/// of scalar arith/math ops; with reduction loops it must add to the
/// accumulator, without them it may use it in any way), tensor slices,
/// reshapes and casts, and nf.mlp; anything else that depends on x gets a
/// located error and failure. The new function is returned; `function` is
/// unchanged.
FailureOr<func::FuncOp> buildGradientFunction(func::FuncOp function,
                                              StringRef name);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_TRANSFORMS_GRADIENT_H
