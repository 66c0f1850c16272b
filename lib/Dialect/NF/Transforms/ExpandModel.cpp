//===- ExpandModel.cpp - Kernel entry points of each model ----------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <functional>

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
    // Each kernel runs one direction of the flow and picks its outputs from
    // (the mapped value, V, the latent z).
    auto logProb = [&](Value z, Value logDet) {
      return add(base.buildLogProb(builder, loc, z), logDet);
    };
    auto kernels = {Kernel{"log_prob",
                           Direction::Forward,
                           true,
                           {perSample},
                           [&](Value zOut, Value logDet, Value) {
                             return ValueVec{logProb(zOut, logDet)};
                           }},
                    Kernel{"forward",
                           Direction::Forward,
                           true,
                           {flatLatent, perSample},
                           [](Value zOut, Value logDet, Value) {
                             return ValueVec{zOut, logDet};
                           }},
                    Kernel{"inverse",
                           Direction::Inverse,
                           false,
                           {flatData},
                           [](Value x, Value, Value) { return ValueVec{x}; }},
                    Kernel{"sample",
                           Direction::Sample,
                           false,
                           {flatData},
                           [](Value x, Value, Value) { return ValueVec{x}; }},
                    Kernel{"sample_with_log_prob",
                           Direction::Sample,
                           true,
                           {flatData, perSample},
                           [&](Value x, Value logDet, Value z) {
                             return ValueVec{x, logProb(z, logDet)};
                           }}};
    for (const Kernel &kernel : kernels)
      if (failed(build(kernel)))
        return failure();
    return success();
  }

private:
  using ValueVec = SmallVector<Value>;

  /// What a kernel's input is: data (normalizing map), latents (generative
  /// map), or sampling noise turned into latents by the base distribution.
  enum class Direction { Forward, Inverse, Sample };

  struct Kernel {
    StringRef entry;
    Direction direction;
    bool withLogDet;
    SmallVector<MemRefType> outputTypes;
    /// (mapped value, V or null, latent z) -> the values to write.
    std::function<ValueVec(Value, Value, Value)> results;
  };

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
  /// Adds `nfk_<model>_<entry>(input, [ctx], outputs...)`.
  LogicalResult build(const Kernel &kernel) {
    auto inputTensorType =
        kernel.direction == Direction::Forward
            ? model.getDataType()
            : cast<RankedTensorType>(model.getLatent().getType());
    ArrayRef<MemRefType> outputTypes = kernel.outputTypes;
    StringRef entry = kernel.entry;
    MemRefType inputType = getFlatBatchMemRef(inputTensorType);
    std::string name = ("nfk_" + model.getSymName() + "_" + entry).str();
    if (SymbolTable::lookupNearestSymbolFrom(
            model, StringAttr::get(model.getContext(), name)))
      return model.emitOpError("cannot add kernel @")
             << name << ": a symbol of that name already exists";
    // (input [, context] [, layer noise], outputs...): layer noise only when
    // the direction draws any.
    bool inverse = kernel.direction != Direction::Forward;
    int64_t noiseSize = getModelNoiseSize(model, inverse);
    MemRefType noiseType =
        MemRefType::get({ShapedType::kDynamic, noiseSize}, elementType);
    SmallVector<Type> argTypes = {inputType};
    if (contextType)
      argTypes.push_back(contextType);
    if (noiseSize > 0)
      argTypes.push_back(noiseType);
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
    unsigned firstOutput = contextType ? 2 : 1;
    Value noise;
    if (noiseSize > 0)
      noise = bufferization::ToTensorOp::create(
          builder, loc,
          RankedTensorType::get(noiseType.getShape(), elementType),
          entryBlock->getArgument(firstOutput++),
          /*restrict=*/builder.getUnitAttr());
    IRMapping mapping;
    cloneModelParameters(builder, model, context, mapping);
    Value z = kernel.direction == Direction::Sample
                  ? model.getBase().buildFromNoise(builder, loc, input)
                  : input;
    FailureOr<LayerValues> mapped =
        inverse ? buildModelInverse(builder, model, z, mapping,
                                    kernel.withLogDet, noise)
                : buildModelForward(builder, model, z, mapping,
                                    kernel.withLogDet, noise);
    if (failed(mapped)) {
      fn.erase();
      return failure();
    }
    ValueVec results = kernel.results(mapped->value, mapped->logDet, z);
    for (auto [i, result] : llvm::enumerate(results))
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
    // Models are erased only once every kernel is built: a layer may use
    // another model (an encoder flow).
    SmallVector<ModelOp> models =
        llvm::to_vector(getOperation().getOps<ModelOp>());
    for (ModelOp model : models)
      if (failed(KernelBuilder(model).buildAll()))
        return signalPassFailure();
    for (ModelOp model : models)
      model.erase();
  }
};

} // namespace
