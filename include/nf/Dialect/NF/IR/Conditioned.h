//===- Conditioned.h - Coupling and autoregressive layers -------*- C++ -*-===//
//
// Coupling and autoregressive layers share one structure: a conditioner
// function computes P parameters per transformed feature, and an elementwise
// "transformer" (affine, additive, rational-quadratic spline) maps each
// feature with its parameters. This header declares the transformer
// structure, the affine transformer and the helpers both layer families
// build with (Conditioned.cpp); the spline transformer is in SplineOps.h.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_CONDITIONED_H
#define NF_DIALECT_NF_IR_CONDITIONED_H

#include "nf/Dialect/NF/IR/NFInterfaces.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::nf {

/// z = scale(raw) x + shift (or (x + shift) * scale with `shiftFirst`) and
/// log scale; `inverse` solves for x instead.
std::pair<Value, Value> buildAffineTransform(OpBuilder &b, Location loc,
                                             ScaleFn fn, bool shiftFirst,
                                             Value in, Value shift, Value raw,
                                             bool inverse);

/// Calls `conditioner` on (input [, context], params...) and returns its
/// `tensor<?xN...xT>` result of type `resultType`.
Value callConditioner(OpBuilder &b, Location loc, FlatSymbolRefAttr conditioner,
                      Value input, Value context, ValueRange params,
                      Type resultType);

/// Checks that `conditioner` names a func.func of type (inputs) -> (result);
/// `layout` describes its result and `role` the function in the error.
LogicalResult verifyConditionerType(Operation *op,
                                    SymbolTableCollection &symbolTable,
                                    FlatSymbolRefAttr conditioner,
                                    TypeRange inputs, Type result,
                                    StringRef layout,
                                    StringRef role = "conditioner");

/// Checks that a conditioned layer's context, if any, is a `tensor<?xCxT>`.
LogicalResult verifyContext(Operation *op, Value context);

/// Applies `transformer` to every element of `in` (`tensor<?xnx...xT>`)
/// with its parameters from `params` (`tensor<?x(P n)x...xT>`); V is the
/// per-sample sum of the log-derivatives (null if volume preserving).
LayerValues applyTransformer(OpBuilder &b, Location loc,
                             const Transformer &transformer, Value in,
                             Value params, bool inverse, bool withLogDet);

/// `tensor<?x<size>x<spatial...>xT>`, a batch of `size` features.
RankedTensorType getBatchType(int64_t size, ArrayRef<int64_t> spatial,
                              Type elementType);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_CONDITIONED_H
