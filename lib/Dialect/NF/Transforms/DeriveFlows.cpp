//===- DeriveFlows.cpp - Derive normalizing and generative functions ------===//
//
// nf-derive-logdet builds x -> (z, V) and nf-derive-inverse builds z -> x for
// every model, layer by layer through FlowLayerOpInterface.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFDERIVELOGDETPASS
#define GEN_PASS_DEF_NFDERIVEINVERSEPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// Adds `func.func @<model><suffix>(argType [, context] [, noise]) ->
/// resultTypes` after `model` and fills it with `build(builder, arg, noise,
/// mapping)`, which returns the values to return. `noise` is a
/// `tensor<?xNxT>` of uniforms when the direction draws N > 0 per sample.
/// Fails on a name clash or if `build` fails.
LogicalResult addDerivedFunction(ModelOp model, StringRef suffix, Type argType,
                                 TypeRange resultTypes, bool inverse,
                                 function_ref<FailureOr<SmallVector<Value>>(
                                     OpBuilder &, Value, Value, IRMapping &)>
                                     build) {
  std::string name = (model.getSymName() + suffix).str();
  if (SymbolTable::lookupNearestSymbolFrom(
          model, StringAttr::get(model.getContext(), name)))
    return model.emitOpError("cannot derive @")
           << name << ": a symbol of that name already exists";
  OpBuilder b(model);
  b.setInsertionPointAfter(model);
  SmallVector<Type> argTypes = {argType};
  BlockArgument modelContext = model.getConditioningContext();
  if (modelContext)
    argTypes.push_back(modelContext.getType());
  int64_t noiseSize = getModelNoiseSize(model, inverse);
  if (noiseSize > 0)
    argTypes.push_back(
        RankedTensorType::get({ShapedType::kDynamic, noiseSize},
                              model.getDataType().getElementType()));
  auto fn = func::FuncOp::create(b, model.getLoc(), name,
                                 b.getFunctionType(argTypes, resultTypes));
  Block *entry = fn.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  IRMapping mapping;
  Value context = modelContext ? entry->getArgument(1) : Value();
  Value noise = noiseSize > 0 ? entry->getArguments().back() : Value();
  cloneModelParameters(fb, model, context, mapping);
  FailureOr<SmallVector<Value>> results =
      build(fb, entry->getArgument(0), noise, mapping);
  if (failed(results)) {
    fn.erase();
    return failure();
  }
  func::ReturnOp::create(fb, model.getLoc(), *results);
  return success();
}

/// Adds `@<model>_forward`: x -> (z, V).
LogicalResult deriveForward(ModelOp model) {
  RankedTensorType dataType = model.getDataType();
  auto logDetType =
      RankedTensorType::get({ShapedType::kDynamic}, dataType.getElementType());
  return addDerivedFunction(
      model, "_forward", dataType, {model.getLatent().getType(), logDetType},
      /*inverse=*/false,
      [&](OpBuilder &b, Value x, Value noise,
          IRMapping &mapping) -> FailureOr<SmallVector<Value>> {
        FailureOr<LayerValues> built =
            buildModelForward(b, model, x, mapping, /*withLogDet=*/true, noise);
        if (failed(built))
          return failure();
        return SmallVector<Value>{built->value, built->logDet};
      });
}

/// Adds `@<model>_inverse`: z -> x.
LogicalResult deriveInverse(ModelOp model) {
  return addDerivedFunction(
      model, "_inverse", model.getLatent().getType(), {model.getDataType()},
      /*inverse=*/true,
      [&](OpBuilder &b, Value z, Value noise,
          IRMapping &mapping) -> FailureOr<SmallVector<Value>> {
        FailureOr<LayerValues> built = buildModelInverse(
            b, model, z, mapping, /*withLogDet=*/false, noise);
        if (failed(built))
          return failure();
        return SmallVector<Value>{built->value};
      });
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
