//===- ExpandModel.cpp - Kernel entry points of each model ----------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/FlowBuilders.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFEXPANDMODELPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// `memref<?xNxT>` for a batch tensor type with event size N.
MemRefType getFlatBatchMemRef(RankedTensorType type) {
  int64_t eventSize = 1;
  for (int64_t d : type.getShape().drop_front())
    eventSize *= d;
  return MemRefType::get({ShapedType::kDynamic, eventSize},
                         type.getElementType());
}

/// Builds the kernels of one model.
class KernelBuilder {
public:
  explicit KernelBuilder(ModelOp model)
      : model(model), loc(model.getLoc()), builder(model) {
    RankedTensorType dataType = model.getDataType();
    elementType = dataType.getElementType();
    flatData = getFlatBatchMemRef(dataType);
    flatLatent =
        getFlatBatchMemRef(cast<RankedTensorType>(model.getLatent().getType()));
    perSample = MemRefType::get({ShapedType::kDynamic}, elementType);
    if (BlockArgument context = model.getConditioningContext())
      contextType = MemRefType::get(
          cast<RankedTensorType>(context.getType()).getShape(), elementType);
    builder.setInsertionPointAfter(model);
  }

  LogicalResult buildAll() {
    BaseDistributionAttrInterface base = model.getBase();
    RankedTensorType data = model.getDataType();
    auto latent = cast<RankedTensorType>(model.getLatent().getType());
    if (failed(build("log_prob", data, {perSample},
                     [&](Value x, IRMapping &m) -> FailureOr<ValueVec> {
                       FailureOr<LayerValues> f = buildModelForward(
                           builder, model, x, m, /*withLogDet=*/true);
                       if (failed(f))
                         return failure();
                       Value logp =
                           add(base.buildLogProb(builder, loc, f->value),
                               f->logDet);
                       return ValueVec{logp};
                     })) ||
        failed(build("forward", data, {flatLatent, perSample},
                     [&](Value x, IRMapping &m) -> FailureOr<ValueVec> {
                       FailureOr<LayerValues> f = buildModelForward(
                           builder, model, x, m, /*withLogDet=*/true);
                       if (failed(f))
                         return failure();
                       return ValueVec{f->value, f->logDet};
                     })) ||
        failed(build("inverse", latent, {flatData},
                     [&](Value z, IRMapping &m) -> FailureOr<ValueVec> {
                       FailureOr<LayerValues> i = buildModelInverse(
                           builder, model, z, m, /*withLogDet=*/false);
                       if (failed(i))
                         return failure();
                       return ValueVec{i->value};
                     })) ||
        failed(build("sample", latent, {flatData},
                     [&](Value noise, IRMapping &m) -> FailureOr<ValueVec> {
                       Value z = base.buildFromNoise(builder, loc, noise);
                       FailureOr<LayerValues> i = buildModelInverse(
                           builder, model, z, m, /*withLogDet=*/false);
                       if (failed(i))
                         return failure();
                       return ValueVec{i->value};
                     })) ||
        failed(build("sample_with_log_prob", latent, {flatData, perSample},
                     [&](Value noise, IRMapping &m) -> FailureOr<ValueVec> {
                       Value z = base.buildFromNoise(builder, loc, noise);
                       FailureOr<LayerValues> i = buildModelInverse(
                           builder, model, z, m, /*withLogDet=*/true);
                       if (failed(i))
                         return failure();
                       Value logp =
                           add(base.buildLogProb(builder, loc, z), i->logDet);
                       return ValueVec{i->value, logp};
                     })))
      return failure();
    return success();
  }

private:
  using ValueVec = SmallVector<Value>;
  using BodyFn = function_ref<FailureOr<ValueVec>(Value, IRMapping &)>;

  /// lhs + rhs, per sample.
  Value add(Value lhs, Value rhs) {
    return mapElementwise(builder, loc, lhs, {lhs, rhs}, 1,
                          [](OpBuilder &nb, Location nloc, ValueRange args) {
                            return ValueVec{arith::AddFOp::create(
                                nb, nloc, args[0], args[1])};
                          })
        .front();
  }

  /// Reads a flat memref argument as a tensor of `type` (the model's shape).
  Value readArgument(Value memref, RankedTensorType type) {
    auto flatType = RankedTensorType::get(
        cast<MemRefType>(memref.getType()).getShape(), elementType);
    Value flat = bufferization::ToTensorOp::create(
        builder, loc, flatType, memref, /*restrict=*/builder.getUnitAttr());
    if (type.getRank() == flatType.getRank())
      return flat;
    SmallVector<ReassociationIndices> reassociation = {
        {0}, llvm::to_vector(llvm::seq<int64_t>(1, type.getRank()))};
    return tensor::ExpandShapeOp::create(builder, loc, type, flat,
                                         reassociation);
  }

  /// Writes `value` (of the model's shape) into the flat memref `out`.
  void writeResult(Value value, Value out) {
    auto type = cast<RankedTensorType>(value.getType());
    auto memrefType = cast<MemRefType>(out.getType());
    if (type.getRank() != memrefType.getRank()) {
      SmallVector<ReassociationIndices> reassociation = {
          {0}, llvm::to_vector(llvm::seq<int64_t>(1, type.getRank()))};
      value =
          tensor::CollapseShapeOp::create(builder, loc, value, reassociation);
    }
    bufferization::MaterializeInDestinationOp::create(
        builder, loc, TypeRange{}, value, out, /*restrict=*/true,
        /*writable=*/true);
  }

  /// Adds `nfk_<model>_<entry>(input, [ctx], outputs...)` computing `body`.
  LogicalResult build(StringRef entry, RankedTensorType inputTensorType,
                      ArrayRef<MemRefType> outputTypes, BodyFn body) {
    MemRefType inputType = getFlatBatchMemRef(inputTensorType);
    std::string name = ("nfk_" + model.getSymName() + "_" + entry).str();
    if (SymbolTable::lookupNearestSymbolFrom(
            model, StringAttr::get(model.getContext(), name)))
      return model.emitOpError("cannot add kernel @")
             << name << ": a symbol of that name already exists";
    SmallVector<Type> argTypes = {inputType};
    if (contextType)
      argTypes.push_back(contextType);
    llvm::append_range(argTypes, outputTypes);
    auto fn = func::FuncOp::create(builder, loc, name,
                                   builder.getFunctionType(argTypes, {}));
    fn->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
    Block *entryBlock = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToEnd(entryBlock);

    Value input = readArgument(entryBlock->getArgument(0), inputTensorType);
    Value context;
    if (contextType)
      context = bufferization::ToTensorOp::create(
          builder, loc,
          RankedTensorType::get(contextType.getShape(), elementType),
          entryBlock->getArgument(1), /*restrict=*/builder.getUnitAttr());
    IRMapping mapping;
    cloneModelParameters(builder, model, context, mapping);
    FailureOr<ValueVec> results = body(input, mapping);
    if (failed(results)) {
      fn.erase();
      return failure();
    }
    unsigned firstOutput = contextType ? 2 : 1;
    for (auto [i, result] : llvm::enumerate(*results))
      writeResult(result, entryBlock->getArgument(firstOutput + i));
    func::ReturnOp::create(builder, loc);
    return success();
  }

  ModelOp model;
  Location loc;
  OpBuilder builder;
  Type elementType;
  MemRefType flatData, flatLatent, perSample, contextType;
};

struct NFExpandModelPass
    : public nf::impl::NFExpandModelPassBase<NFExpandModelPass> {
  void runOnOperation() override {
    for (ModelOp model : llvm::to_vector(getOperation().getOps<ModelOp>())) {
      if (failed(KernelBuilder(model).buildAll()))
        return signalPassFailure();
      model.erase();
    }
  }
};

} // namespace
