//===- NFBuilders.h - Tensor IR builders shared by nf layers ----*- C++ -*-===//
//
// Small helpers that emit upstream linalg/tensor/arith IR on batch-first
// tensors. Layer ops use them to build their normalizing map, inverse and V;
// passes use them to combine V terms.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_NFBUILDERS_H
#define NF_DIALECT_NF_IR_NFBUILDERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::nf {

/// Scalar body of an elementwise map: scalar arguments in, scalar results out.
using ScalarBodyFn =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

/// `tensor.empty` with the shape of `like` (dynamic sizes taken from it) and
/// element type `elementType` (default: that of `like`).
Value createEmptyLike(OpBuilder &b, Location loc, Value like,
                      Type elementType = {});

/// Elementwise map producing `numResults` tensors shaped like `shapeRef`.
/// Each input is broadcast to that shape: it is rank 0 (scalar), has the
/// event shape (shapeRef's shape without the batch dimension), has one value
/// per channel (rank 1 against a shapeRef of rank > 2), or has shapeRef's full
/// shape.
SmallVector<Value> mapElementwise(OpBuilder &b, Location loc, Value shapeRef,
                                  ValueRange inputs, unsigned numResults,
                                  ScalarBodyFn body);

/// Broadcasts a per-sample `tensor<?xT>` to the full shape of `like`.
Value broadcastPerSample(OpBuilder &b, Location loc, Value perSample,
                         Value like);

/// Per-sample sum over all event dimensions: tensor<?x...xT> -> tensor<?xT>.
Value sumEventDims(OpBuilder &b, Location loc, Value batch);

/// Sum of all elements of a statically shaped tensor: -> tensor<T>.
Value sumAll(OpBuilder &b, Location loc, Value tensor);

/// Gathers along dimension 1: out[:, j, ...] = in[:, indices[j], ...].
Value gatherFeatures(OpBuilder &b, Location loc, Value input,
                     ArrayRef<int64_t> indices);

/// A tensor shaped like `like` whose features `indices[i]` (dimension 1) are
/// taken, in order, from `parts[i]`; the index lists partition the features.
/// Contiguous runs are written with tensor.insert_slice (in place after
/// bufferization), anything else is gathered.
Value mergeFeatures(OpBuilder &b, Location loc, Value like, ValueRange parts,
                    ArrayRef<SmallVector<int64_t>> indices);

/// Concatenates along dimension 1.
Value concatFeatures(OpBuilder &b, Location loc, ValueRange inputs);

/// Columns [offset, offset + size) of a rank-2 batch tensor.
Value sliceFeatures(OpBuilder &b, Location loc, Value input, int64_t offset,
                    int64_t size);

/// Casts a batch tensor to a dynamic batch dimension (no-op if it has one).
Value castToDynamicBatch(OpBuilder &b, Location loc, Value batch);

/// Sum of two V terms, each null (zero), rank 0 or per sample (see
/// LayerValues::logDet). A rank-0 term added to a per-sample one is broadcast.
Value addLogDets(OpBuilder &b, Location loc, Value lhs, Value rhs);

/// Scalar float constant of type `type`.
Value createFloatConstant(OpBuilder &b, Location loc, Type type, double value);

/// Scalar softplus(x) = log(1 + e^x), as max(x, 0) + log1p(e^-|x|).
Value buildScalarSoftplus(OpBuilder &b, Location loc, Value x);

/// Scalar sigmoid(x) = 1 / (1 + e^-x).
Value buildScalarSigmoid(OpBuilder &b, Location loc, Value x);

/// The inverse of a permutation: result[perm[i]] = i.
SmallVector<int64_t> invertPermutation(ArrayRef<int64_t> perm);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_NFBUILDERS_H
