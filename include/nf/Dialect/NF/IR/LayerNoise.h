//===- LayerNoise.h - Uniform noise of random layers ------------*- C++ -*-===//
//
// Layers whose directions draw randomness take uniforms from the kernel's
// layer noise, or an explicit noise operand (LayerNoise.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_LAYERNOISE_H
#define NF_DIALECT_NF_IR_LAYERNOISE_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::nf {

/// A layer's noise: `explicitNoise` if given, else the layer-noise slice
/// (`tensor<?xNxT>` of uniforms) appended after its operands, reshaped to
/// `type`'s event shape.
Value getLayerNoise(OpBuilder &b, Location loc, Value explicitNoise,
                    ValueRange operands, RankedTensorType type);

/// Checks an explicit noise operand's type against `expected` (its event
/// shape and element type); `what` describes its contents in the error.
LogicalResult verifyNoiseType(Operation *op, Value noise,
                              RankedTensorType expected, StringRef what);

/// Standard normal draws of `type`'s event shape from 2 uniforms each
/// (`tensor<?x2NxT>`, N = getEventSize(type)), by Box-Muller.
Value buildStandardNormal(OpBuilder &b, Location loc, Value uniforms,
                          RankedTensorType type);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_LAYERNOISE_H
