//===- FlowBuilders.cpp - Build a whole model's maps into IR --------------===//

#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::nf;

void mlir::nf::cloneModelParameters(OpBuilder &b, ModelOp model, Value context,
                                    IRMapping &mapping) {
  if (BlockArgument modelContext = model.getConditioningContext())
    mapping.map(modelContext, context);
  for (Operation &op : model.getBodyBlock().without_terminator())
    if (!isa<FlowLayerOpInterface>(op))
      b.clone(op, mapping);
}

namespace {

/// The layer's operands in the built IR, `input` in the data slot, and its
/// columns of the model's layer noise appended when it draws any.
struct OperandBuilder {
  Value noise;
  int64_t offset = 0;

  SmallVector<Value> remap(OpBuilder &b, FlowLayerOpInterface layer,
                           Value input, IRMapping &mapping, bool inverse) {
    SmallVector<Value> operands = {input};
    for (Value operand : layer->getOperands().drop_front())
      operands.push_back(mapping.lookup(operand));
    if (int64_t size = layer.getNoiseSize(inverse)) {
      operands.push_back(sliceFeatures(b, layer.getLoc(), noise, offset, size));
      offset += size;
    }
    return operands;
  }
};

/// Accumulates V terms, keeping sample-independent ones apart so they are
/// added once, at the end.
struct LogDetSum {
  Value perSample, perCall;

  void add(OpBuilder &b, Location loc, Value term) {
    if (!term)
      return;
    bool sampleIndependent =
        cast<RankedTensorType>(term.getType()).getRank() == 0;
    Value &sum = sampleIndependent ? perCall : perSample;
    sum = addLogDets(b, loc, sum, term);
  }

  /// The total as a `tensor<?xT>` with the batch size of `batch`.
  Value finish(OpBuilder &b, Location loc, Value batch) {
    if (!perSample) {
      auto type = cast<RankedTensorType>(batch.getType());
      Value empty = tensor::EmptyOp::create(
          b, loc, {tensor::getMixedSize(b, loc, batch, 0)},
          type.getElementType());
      Value zero = createFloatConstant(b, loc, type.getElementType(), 0.0);
      perSample = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    }
    return addLogDets(b, loc, perSample, perCall);
  }
};

} // namespace

int64_t mlir::nf::getModelNoiseSize(ModelOp model, bool inverse) {
  int64_t size = 0;
  for (FlowLayerOpInterface layer : model.getLayers())
    size += layer.getNoiseSize(inverse);
  return size;
}

std::pair<unsigned, SmallVector<int64_t>>
mlir::nf::getTrailingPermutation(ModelOp model) {
  SmallVector<FlowLayerOpInterface> layers = model.getLayers();
  unsigned count = 0;
  SmallVector<int64_t> permutation;
  for (FlowLayerOpInterface layer : llvm::reverse(layers)) {
    SmallVector<int64_t> q;
    if (auto permute = dyn_cast<PermuteOp>(layer.getOperation())) {
      q = llvm::to_vector(permute.getPermutation());
    } else if (isa<ReverseOp>(layer.getOperation())) {
      int64_t n =
          cast<RankedTensorType>(layer.getInput().getType()).getDimSize(1);
      q = llvm::to_vector(llvm::reverse(llvm::seq<int64_t>(0, n)));
    } else {
      break;
    }
    // Earlier permutations apply first: p = q_earlier o p_later.
    if (permutation.empty())
      permutation = q;
    else
      for (int64_t &i : permutation)
        i = q[i];
    ++count;
  }
  return {count, permutation};
}

FailureOr<LayerValues> mlir::nf::buildModelForward(OpBuilder &b, ModelOp model,
                                                   Value x, IRMapping &mapping,
                                                   bool withLogDet,
                                                   Value noise) {
  Value unused;
  return buildModelForward(b, model, x, mapping, withLogDet, noise, 0, unused);
}

FailureOr<LayerValues> mlir::nf::buildModelForward(OpBuilder &b, ModelOp model,
                                                   Value x, IRMapping &mapping,
                                                   bool withLogDet, Value noise,
                                                   unsigned suffix,
                                                   Value &beforeSuffix) {
  Value current = x;
  LogDetSum sum;
  OperandBuilder operands{noise};
  SmallVector<FlowLayerOpInterface> layers = model.getLayers();
  for (auto [index, layer] : llvm::enumerate(layers)) {
    if (index + suffix == layers.size())
      beforeSuffix = current;
    FailureOr<LayerValues> built = layer.buildForward(
        b, operands.remap(b, layer, current, mapping, /*inverse=*/false),
        withLogDet);
    if (failed(built))
      return layer->emitOpError("cannot build its normalizing map");
    current = built->value;
    sum.add(b, model.getLoc(), built->logDet);
  }
  if (suffix == 0)
    beforeSuffix = current;
  Value logDet = withLogDet ? sum.finish(b, model.getLoc(), current) : Value();
  return LayerValues{current, logDet};
}

FailureOr<LayerValues> mlir::nf::buildModelInverse(OpBuilder &b, ModelOp model,
                                                   Value z, IRMapping &mapping,
                                                   bool withLogDet,
                                                   Value noise) {
  Value current = z;
  LogDetSum sum;
  OperandBuilder operands{noise};
  SmallVector<FlowLayerOpInterface> layers = model.getLayers();
  for (FlowLayerOpInterface layer : llvm::reverse(layers)) {
    // The data slot is unknown in this direction; builders ignore it.
    FailureOr<LayerValues> built = layer.buildInverse(
        b, current,
        operands.remap(b, layer, Value(), mapping, /*inverse=*/true),
        withLogDet);
    if (failed(built))
      return layer->emitOpError("cannot build its inverse");
    current = built->value;
    sum.add(b, model.getLoc(), built->logDet);
  }
  Value logDet = withLogDet ? sum.finish(b, model.getLoc(), current) : Value();
  return LayerValues{current, logDet};
}
