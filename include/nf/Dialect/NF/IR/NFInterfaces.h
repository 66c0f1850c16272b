//===- NFInterfaces.h - Layer and base-distribution interfaces --*- C++ -*-===//
//
// The semantic core every flow layer implements: its SurVAE class, exactness,
// and builders for its normalizing map, inverse and log-likelihood term V.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_NFINTERFACES_H
#define NF_DIALECT_NF_IR_NFINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpDefinition.h"

#include <functional>

#include "nf/Dialect/NF/IR/NFEnums.h.inc"

namespace mlir::nf {

/// What a layer builder produces: the transformed tensor and V.
struct LayerValues {
  /// z for the normalizing map, x for the inverse.
  Value value;
  /// V at x: null when identically zero, a rank-0 tensor when it does not
  /// depend on the sample, else a `tensor<?xT>` with one value per sample.
  Value logDet;
};

/// How a conditioner's output holds P values for each of n features.
enum class ParamLayout {
  Blocked,     ///< P blocks of n values, value k of feature j at k * n + j.
  Interleaved, ///< n runs of P values, value k of feature j at j * P + k.
};

/// The elementwise map of a coupling or autoregressive layer.
struct Transformer {
  /// Conditioner outputs per transformed feature, and their layout.
  int64_t numParams;
  ParamLayout layout;
  /// Scalar builder: (value, its numParams parameters, inverse) -> (output,
  /// log|d z / d x| at x, or null for volume-preserving transformers).
  std::function<std::pair<Value, Value>(OpBuilder &, Location, Value,
                                        ValueRange, bool)>
      apply;
};

/// Uniforms that one standard normal draw takes (Box-Muller).
inline constexpr int64_t kUniformsPerNormal = 2;

/// The randomness one direction of a layer consumes per sample.
struct NoiseDraws {
  /// The op's explicit noise operand for the direction, if it was given
  /// one: then nothing comes from the layer noise.
  Value explicitNoise;
  /// Uniform [0, 1) values and standard normal values.
  int64_t uniforms = 0, normals = 0;

  /// The uniforms they take from the layer noise.
  int64_t getLayerNoiseSize() const {
    return uniforms + kUniformsPerNormal * normals;
  }
};

/// The elementwise noise a base distribution is sampled from.
enum class BaseNoise {
  StandardNormal, ///< N(0, 1)
  UnitUniform,    ///< U[0, 1)
};

/// Exact for bijections and inference surjections, a bound otherwise.
Exactness getDefaultExactness(LayerKind kind);

/// Checks shared by all layers: parameters and context have the data's
/// element type, the context is a `tensor<?xCxT>`.
LogicalResult verifyFlowLayer(Operation *op);

/// Checks that the parameter `param` of `op` broadcasts elementwise over the
/// data `dataType`: it is a scalar `tensor<T>`, has the event shape, or has
/// the data's full shape (per-sample values).
LogicalResult verifyBroadcastParameter(Operation *op, StringRef name,
                                       Value param, RankedTensorType dataType);

/// Checks that `out` is `in` with another number of features along
/// dimension 1: more with `grows` (checked here), fewer otherwise (the
/// caller checks how many).
LogicalResult verifyFeatureChange(Operation *op, RankedTensorType in,
                                  RankedTensorType out, bool grows);

/// Declares a layer op's SurVAE class; attached by NF_LayerOp in ODS.
template <LayerKind Kind> struct LayerKindTrait {
  template <typename ConcreteOp>
  class Impl : public OpTrait::TraitBase<ConcreteOp, Impl> {
  public:
    static constexpr LayerKind kLayerKind = Kind;
  };
};

} // namespace mlir::nf

#include "nf/Dialect/NF/IR/NFAttrInterfaces.h.inc"
#include "nf/Dialect/NF/IR/NFOpInterfaces.h.inc"

namespace mlir::nf {
/// The map (or, with `inverse`, the inverse map on `in` = z) of an
/// elementwise bijection and V = sum log|f'(x)| at x, from its scalar
/// builders. Shared by every elementwise layer op.
FailureOr<LayerValues> buildElementwiseLayer(ElementwiseBijectionOpInterface op,
                                             OpBuilder &b, Value in,
                                             bool inverse, bool withLogDet);
} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_NFINTERFACES_H
