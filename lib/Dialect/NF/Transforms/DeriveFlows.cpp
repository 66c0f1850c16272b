//===- DeriveFlows.cpp - Derive normalizing and generative functions ------===//
//
// nf-derive-logdet builds x -> (z, V) and nf-derive-inverse builds z -> x for
// every model, layer by layer through FlowLayerOpInterface.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/FlowBuilders.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFDERIVELOGDETPASS
#define GEN_PASS_DEF_NFDERIVEINVERSEPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// Adds `func.func @<model><suffix>(argType [, context]) -> resultTypes`
/// after `model` and fills it with `build(builder, arg, mapping)`, which
/// returns the values to return. Fails on a name clash or if `build` fails.
LogicalResult addDerivedFunction(
    ModelOp model, StringRef suffix, Type argType, TypeRange resultTypes,
    function_ref<FailureOr<SmallVector<Value>>(OpBuilder &, Value, IRMapping &)>
        build) {
  std::string name = (model.getSymName() + suffix).str();
  if (SymbolTable::lookupNearestSymbolFrom(
          model, StringAttr::get(model.getContext(), name)))
    return model.emitOpError("cannot derive @")
           << name << ": a symbol of that name already exists";
  OpBuilder b(model);
  b.setInsertionPointAfter(model);
  SmallVector<Type> argTypes = {argType};
  if (BlockArgument context = model.getConditioningContext())
    argTypes.push_back(context.getType());
  auto fn = func::FuncOp::create(b, model.getLoc(), name,
                                 b.getFunctionType(argTypes, resultTypes));
  Block *entry = fn.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  IRMapping mapping;
  Value context = argTypes.size() > 1 ? entry->getArgument(1) : Value();
  cloneModelParameters(fb, model, context, mapping);
  FailureOr<SmallVector<Value>> results =
      build(fb, entry->getArgument(0), mapping);
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
      [&](OpBuilder &b, Value x,
          IRMapping &mapping) -> FailureOr<SmallVector<Value>> {
        FailureOr<LayerValues> built =
            buildModelForward(b, model, x, mapping, /*withLogDet=*/true);
        if (failed(built))
          return failure();
        return SmallVector<Value>{built->value, built->logDet};
      });
}

/// Adds `@<model>_inverse`: z -> x.
LogicalResult deriveInverse(ModelOp model) {
  return addDerivedFunction(
      model, "_inverse", model.getLatent().getType(), {model.getDataType()},
      [&](OpBuilder &b, Value z,
          IRMapping &mapping) -> FailureOr<SmallVector<Value>> {
        FailureOr<LayerValues> built =
            buildModelInverse(b, model, z, mapping, /*withLogDet=*/false);
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
