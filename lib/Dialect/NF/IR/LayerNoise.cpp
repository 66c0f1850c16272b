//===- LayerNoise.cpp - The randomness of stochastic layers ---------------===//
//
// Random directions read uniforms [0, 1) per sample: an explicit noise
// operand, or the kernel's layer-noise slice (Philox, keyed by seed, row and
// column) appended to the layer's operands.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/LayerNoise.h"

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::nf;

/// The layer's noise: its explicit operand, else the layer-noise slice
/// (`tensor<?xNxT>`) appended after its operands, reshaped to `type`'s event
/// shape.
Value mlir::nf::getLayerNoise(OpBuilder &b, Location loc, Value explicitNoise,
                              ValueRange operands, RankedTensorType type) {
  if (explicitNoise)
    return explicitNoise;
  Value flat = operands.back();
  if (type.getRank() == 2)
    return flat;
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = ShapedType::kDynamic;
  SmallVector<ReassociationIndices> reassociation = {
      {0}, llvm::to_vector(llvm::seq<int64_t>(1, type.getRank()))};
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), flat,
      reassociation);
}

/// Checks an explicit noise operand's type.
LogicalResult mlir::nf::verifyNoiseType(Operation *op, Value noise,
                                        RankedTensorType expected,
                                        StringRef what) {
  if (!noise)
    return success();
  auto type = cast<RankedTensorType>(noise.getType());
  if (type.getShape().drop_front() != expected.getShape().drop_front() ||
      type.getElementType() != expected.getElementType())
    return op->emitOpError("noise must hold ")
           << what << " (" << expected << "), but has type " << type;
  return success();
}

/// Standard normal draws of `type`'s event shape from 2 uniforms each
/// (`tensor<?x2NxT>`): sqrt(-2 log(1 - u1)) cos(2 pi u2) (Box-Muller).
Value mlir::nf::buildStandardNormal(OpBuilder &b, Location loc, Value uniforms,
                                    RankedTensorType type) {
  int64_t count = getEventSize(type);
  Value flat = mapSingleResult(
      b, loc,
      {sliceFeatures(b, loc, uniforms, 0, count),
       sliceFeatures(b, loc, uniforms, count, count)},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value radius =
            s.sqrt(s.mul(s.c(-2.0), s.log(s.sub(s.c(1.0), args[0]))));
        Value angle = s.mul(s.c(2 * llvm::numbers::pi), args[1]);
        return s.mul(radius, math::CosOp::create(nb, nloc, angle));
      });
  return getLayerNoise(b, loc, Value(), ValueRange{flat}, type);
}
