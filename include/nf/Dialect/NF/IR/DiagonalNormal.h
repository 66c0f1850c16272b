//===- DiagonalNormal.h - Diagonal-normal densities of layers ---*- C++ -*-===//
//
// The diagonal normals of SurVAE layers: decoders of slices, encoders of
// augmentation and dequantization, VAE and CIF densities. A density is
// either the standard normal or the mean and log standard deviation a
// function computes from the layer's input (DiagonalNormal.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_DIAGONALNORMAL_H
#define NF_DIALECT_NF_IR_DIAGONALNORMAL_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

#include <utility>

namespace mlir::nf {

/// mean + exp(logStd) eps, or eps for the standard normal (null mean).
Value buildGaussianDraw(OpBuilder &b, Location loc, Value eps, Value mean,
                        Value logStd);

/// eps = (value - mean) / exp(logStd), or value itself (null mean).
Value buildStandardized(OpBuilder &b, Location loc, Value value, Value mean,
                        Value logStd);

/// Per sample, sum log N(eps; 0, 1) - log std: the log-density of
/// mean + std eps under N(mean, std^2).
Value buildGaussianLogDensity(OpBuilder &b, Location loc, Value eps,
                              Value logStd);

/// The mean and log standard deviation a `density` function computes from
/// (`input` [, context], params...) as one `tensor<?x2Nx...xT>` for values of
/// `type`; null for the standard normal (no function).
std::pair<Value, Value> buildDiagonalNormal(OpBuilder &b, Location loc,
                                            FlatSymbolRefAttr density,
                                            Value input, Value context,
                                            ValueRange params,
                                            RankedTensorType type);

/// Checks a density function's type: (input [, context], params...) ->
/// the means and log standard deviations of values of `type`.
LogicalResult verifyDensityFunction(Operation *op, SymbolTableCollection &table,
                                    FlatSymbolRefAttr density,
                                    RankedTensorType inputType, Value context,
                                    ValueRange params, RankedTensorType type);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_DIAGONALNORMAL_H
