//===- FlowBuilders.cpp - Build a whole model's maps into IR --------------===//

#include "nf/Dialect/NF/Transforms/FlowBuilders.h"
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

/// The layer's operands in the built IR, `input` in the data slot.
SmallVector<Value> remapOperands(FlowLayerOpInterface layer, Value input,
                                 IRMapping &mapping) {
  SmallVector<Value> operands = {input};
  for (Value operand : layer->getOperands().drop_front())
    operands.push_back(mapping.lookup(operand));
  return operands;
}

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

FailureOr<LayerValues> mlir::nf::buildModelForward(OpBuilder &b, ModelOp model,
                                                   Value x, IRMapping &mapping,
                                                   bool withLogDet) {
  Value current = x;
  LogDetSum sum;
  for (FlowLayerOpInterface layer : model.getLayers()) {
    FailureOr<LayerValues> built = layer.buildForward(
        b, remapOperands(layer, current, mapping), withLogDet);
    if (failed(built))
      return layer->emitOpError("cannot build its normalizing map");
    current = built->value;
    sum.add(b, model.getLoc(), built->logDet);
  }
  Value logDet = withLogDet ? sum.finish(b, model.getLoc(), current) : Value();
  return LayerValues{current, logDet};
}

FailureOr<LayerValues> mlir::nf::buildModelInverse(OpBuilder &b, ModelOp model,
                                                   Value z, IRMapping &mapping,
                                                   bool withLogDet) {
  Value current = z;
  LogDetSum sum;
  SmallVector<FlowLayerOpInterface> layers = model.getLayers();
  for (FlowLayerOpInterface layer : llvm::reverse(layers)) {
    // The data slot is unknown in this direction; builders ignore it.
    FailureOr<LayerValues> built = layer.buildInverse(
        b, current, remapOperands(layer, Value(), mapping), withLogDet);
    if (failed(built))
      return layer->emitOpError("cannot build its inverse");
    current = built->value;
    sum.add(b, model.getLoc(), built->logDet);
  }
  Value logDet = withLogDet ? sum.finish(b, model.getLoc(), current) : Value();
  return LayerValues{current, logDet};
}
