//===- DeriveFlows.cpp - Derive normalizing and generative functions ------===//
//
// nf-derive-logdet builds x -> (z, V) and nf-derive-inverse builds z -> x for
// every model, layer by layer through FlowLayerOpInterface.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFDERIVELOGDETPASS
#define GEN_PASS_DEF_NFDERIVEINVERSEPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// A function `@<model><suffix>` placed after `model`, taking `argType` and
/// then the model's context (if any). The model's parameter computations
/// (every op of its body that is not a layer) are cloned into its entry
/// block; `mapping` maps model values to the function's values. Fails if the
/// name is taken.
FailureOr<func::FuncOp> createDerivedFunction(ModelOp model, StringRef suffix,
                                              Type argType,
                                              TypeRange resultTypes,
                                              IRMapping &mapping) {
  std::string name = (model.getSymName() + suffix).str();
  if (SymbolTable::lookupNearestSymbolFrom(
          model, StringAttr::get(model.getContext(), name)))
    return model.emitOpError("cannot derive @")
           << name << ": a symbol of that name already exists";
  OpBuilder b(model);
  b.setInsertionPointAfter(model);
  SmallVector<Type> argTypes = {argType};
  BlockArgument context = model.getConditioningContext();
  if (context)
    argTypes.push_back(context.getType());
  auto fn = func::FuncOp::create(b, model.getLoc(), name,
                                 b.getFunctionType(argTypes, resultTypes));
  Block *entry = fn.addEntryBlock();
  if (context)
    mapping.map(context, entry->getArgument(1));
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  for (Operation &op : model.getBodyBlock().without_terminator())
    if (!isa<FlowLayerOpInterface>(op))
      fb.clone(op, mapping);
  return fn;
}

/// The layer's operands in the derived function, `input` in the data slot.
SmallVector<Value> remapOperands(FlowLayerOpInterface layer, Value input,
                                 IRMapping &mapping) {
  SmallVector<Value> operands = {input};
  for (Value operand : layer->getOperands().drop_front())
    operands.push_back(mapping.lookup(operand));
  return operands;
}

/// tensor<?xT> of zeros with the batch size of `batch`.
Value createZeroLogDet(OpBuilder &b, Location loc, Value batch) {
  auto type = cast<RankedTensorType>(batch.getType());
  Value empty = tensor::EmptyOp::create(
      b, loc, {tensor::getMixedSize(b, loc, batch, 0)}, type.getElementType());
  Value zero = createFloatConstant(b, loc, type.getElementType(), 0.0);
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// Adds `@<model>_forward`: x -> (z, V).
LogicalResult deriveForward(ModelOp model) {
  RankedTensorType dataType = model.getDataType();
  auto latentType = cast<RankedTensorType>(model.getLatent().getType());
  auto logDetType =
      RankedTensorType::get({ShapedType::kDynamic}, dataType.getElementType());
  IRMapping mapping;
  FailureOr<func::FuncOp> fn = createDerivedFunction(
      model, "_forward", dataType, {latentType, logDetType}, mapping);
  if (failed(fn))
    return failure();
  OpBuilder b = OpBuilder::atBlockEnd(&fn->getBody().front());
  Location loc = model.getLoc();

  Value current = fn->getArgument(0);
  Value perSample, perCall;
  for (FlowLayerOpInterface layer : model.getLayers()) {
    FailureOr<LayerValues> built = layer.buildForward(
        b, remapOperands(layer, current, mapping), /*withLogDet=*/true);
    if (failed(built))
      return layer->emitOpError("cannot build its normalizing map");
    current = built->value;
    if (!built->logDet)
      continue;
    bool sampleIndependent =
        cast<RankedTensorType>(built->logDet.getType()).getRank() == 0;
    Value &sum = sampleIndependent ? perCall : perSample;
    sum = addLogDets(b, loc, sum, built->logDet);
  }
  if (!perSample)
    perSample = createZeroLogDet(b, loc, current);
  Value logDet = addLogDets(b, loc, perSample, perCall);
  func::ReturnOp::create(b, loc, ValueRange{current, logDet});
  return success();
}

/// Adds `@<model>_inverse`: z -> x.
LogicalResult deriveInverse(ModelOp model) {
  auto latentType = cast<RankedTensorType>(model.getLatent().getType());
  IRMapping mapping;
  FailureOr<func::FuncOp> fn = createDerivedFunction(
      model, "_inverse", latentType, {model.getDataType()}, mapping);
  if (failed(fn))
    return failure();
  OpBuilder b = OpBuilder::atBlockEnd(&fn->getBody().front());

  Value current = fn->getArgument(0);
  SmallVector<FlowLayerOpInterface> layers = model.getLayers();
  for (FlowLayerOpInterface layer : llvm::reverse(layers)) {
    // The data slot is unknown in this direction; builders ignore it.
    FailureOr<LayerValues> built =
        layer.buildInverse(b, current, remapOperands(layer, Value(), mapping),
                           /*withLogDet=*/false);
    if (failed(built))
      return layer->emitOpError("cannot build its inverse");
    current = built->value;
  }
  func::ReturnOp::create(b, model.getLoc(), current);
  return success();
}

/// Runs `derive` on every model of `module`, stopping at the first failure.
LogicalResult forEachModel(ModuleOp module,
                           function_ref<LogicalResult(ModelOp)> derive) {
  for (ModelOp model : llvm::to_vector(module.getOps<ModelOp>()))
    if (failed(derive(model)))
      return failure();
  return success();
}

struct NFDeriveLogDetPass
    : public nf::impl::NFDeriveLogDetPassBase<NFDeriveLogDetPass> {
  void runOnOperation() override {
    if (failed(forEachModel(getOperation(), deriveForward)))
      signalPassFailure();
  }
};

struct NFDeriveInversePass
    : public nf::impl::NFDeriveInversePassBase<NFDeriveInversePass> {
  void runOnOperation() override {
    if (failed(forEachModel(getOperation(), deriveInverse)))
      signalPassFailure();
  }
};

} // namespace
