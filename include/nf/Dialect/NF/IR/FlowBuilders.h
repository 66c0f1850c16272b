//===- FlowBuilders.h - Build a whole model's maps into IR ------*- C++ -*-===//
//
// Composes the per-layer builders of FlowLayerOpInterface into a model's
// normalizing map x -> (z, V) and generative map z -> (x, V). Used by the
// derive passes and by nf-expand-model.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_FLOWBUILDERS_H
#define NF_DIALECT_NF_IR_FLOWBUILDERS_H

#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/IR/IRMapping.h"

namespace mlir::nf {

/// Clones the model's parameter computations (every op of its body that is
/// not a layer) at the builder's insertion point, and maps the model's
/// context to `context` (null for unconditional models).
void cloneModelParameters(OpBuilder &b, ModelOp model, Value context,
                          IRMapping &mapping);

/// Uniform noise values per sample that the model's normalizing map (or,
/// with `inverse`, its generative map) draws: the sum over its layers.
int64_t getModelNoiseSize(ModelOp model, bool inverse);

/// The permutation p that the model's last layers apply when they are
/// permutations (z[:, i] = v[:, p[i]] for the value v before them), and how
/// many they are; 0 and an empty p if the last layer is no permutation.
std::pair<unsigned, SmallVector<int64_t>> getTrailingPermutation(ModelOp model);

/// Builds x -> z through every layer. With `withLogDet`, `logDet` is the
/// per-sample sum V (`tensor<?xT>`): sample-independent terms are summed once
/// and added at the end, volume-preserving layers add nothing. `mapping`
/// comes from cloneModelParameters. `noise` (`tensor<?xNxT>`, N =
/// getModelNoiseSize) holds the layers' uniform noise, in the order the
/// direction applies the layers; null when N = 0.
FailureOr<LayerValues> buildModelForward(OpBuilder &b, ModelOp model, Value x,
                                         IRMapping &mapping, bool withLogDet,
                                         Value noise = {});

/// buildModelForward that also sets `beforeSuffix` to the value before the
/// model's last `suffix` layers.
FailureOr<LayerValues> buildModelForward(OpBuilder &b, ModelOp model, Value x,
                                         IRMapping &mapping, bool withLogDet,
                                         Value noise, unsigned suffix,
                                         Value &beforeSuffix);

/// Builds z -> x through every layer in reverse order; with `withLogDet`,
/// `logDet` is V at the returned x. `noise` as for buildModelForward, for the
/// generative direction.
FailureOr<LayerValues> buildModelInverse(OpBuilder &b, ModelOp model, Value z,
                                         IRMapping &mapping, bool withLogDet,
                                         Value noise = {});

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_FLOWBUILDERS_H
