//===- MLPOp.h - MLP building blocks ----------------------------*- C++ -*-===//
//
// The dense layers, activations and parameter checks of nf.mlp (MLPOp.cpp),
// shared with the other conditioner ops (ResidualOps.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_MLPOP_H
#define NF_DIALECT_NF_IR_MLPOP_H

#include "nf/Dialect/NF/IR/NFAttrs.h"
#include "nf/Dialect/NF/IR/NFInterfaces.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

namespace mlir::nf {

/// Dense layer input W + bias (`tensor<?xIxT>`, W `tensor<IxOxT>`, bias
/// `tensor<OxT>` or null).
Value buildDenseLayer(OpBuilder &b, Location loc, Value input, Value weight,
                      Value bias);

/// An MLP activation applied to a scalar, and its derivative.
Value buildScalarActivation(OpBuilder &b, Location loc, Activation kind,
                            Value x);
Value buildScalarActivationDerivative(OpBuilder &b, Location loc,
                                      Activation kind, Value x);

/// Checks MLP parameters (W_0, b_0, W_1, b_1, ...) mapping `inputWidth`
/// features to `outputWidth`.
LogicalResult verifyMLPParams(Operation *op, ValueRange params,
                              int64_t inputWidth, int64_t outputWidth,
                              Type elementType);

/// A coupling or autoregressive layer's conditioner that is one nf.mlp on
/// the conditioned features (concatenated with the context, if any) whose
/// weights and biases are the layer's parameters.
struct ConditionerMLP {
  /// The nf.mlp op in the conditioner function.
  Operation *mlp;
  /// For each of the MLP's parameters (W_0, b_0, W_1, ...), its index among
  /// the layer's parameters.
  SmallVector<unsigned> paramIndices;
  Activation activation;
};

/// The layer's conditioner as a ConditionerMLP, if it is one.
std::optional<ConditionerMLP>
getConditionerMLP(ConditionedLayerOpInterface layer);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_MLPOP_H
