//===- ExpandModel.cpp - Kernel entry points of each model ----------------===//

#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/Passes.h"
#include "nf/Target/EntryPoints.h"

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
  return MemRefType::get({ShapedType::kDynamic, getEventSize(type)},
                         type.getElementType());
}

/// Builds the kernels of one model, one per row of the ABI's kernel table.
class KernelBuilder {
public:
  explicit KernelBuilder(ModelOp model)
      : model(model), loc(model.getLoc()), builder(model) {
    elementType = model.getDataType().getElementType();
    if (BlockArgument context = model.getConditioningContext())
      contextType = MemRefType::get(
          cast<RankedTensorType>(context.getType()).getShape(), elementType);
    builder.setInsertionPointAfter(model);
  }

  LogicalResult buildAll() {
    for (const abi::Kernel &kernel : abi::kKernels)
      if (failed(build(kernel)))
        return failure();
    return success();
  }

private:
  RankedTensorType getLatentType() {
    return cast<RankedTensorType>(model.getLatent().getType());
  }

  /// The tensor type of the kernel's input rows.
  RankedTensorType getInputType(const abi::Kernel &kernel) {
    return kernel.isGenerative() ? getLatentType() : model.getDataType();
  }

  /// The memref a kernel writes `output` to: rows of the mapped value (z of
  /// the normalizing map, x of the generative one), or one value per row.
  MemRefType getOutputType(const abi::Kernel &kernel, abi::Output output) {
    if (!abi::isRowOutput(output))
      return MemRefType::get({ShapedType::kDynamic}, elementType);
    return getFlatBatchMemRef(kernel.isGenerative() ? model.getDataType()
                                                    : getLatentType());
  }

  /// lhs + rhs, per sample.
  Value add(Value lhs, Value rhs) {
    return mapElementwise(builder, loc, lhs, {lhs, rhs}, 1,
                          [](OpBuilder &nb, Location nloc, ValueRange args) {
                            return SmallVector<Value>{arith::AddFOp::create(
                                nb, nloc, args[0], args[1])};
                          })
        .front();
  }

  /// The value of `output` from the mapped value, V and the latent z.
  Value getOutputValue(abi::Output output, Value mapped, Value logDet,
                       Value z) {
    switch (output) {
    case abi::Output::Mapped:
      return mapped;
    case abi::Output::LogDet:
      return logDet;
    case abi::Output::LogProb:
      return add(model.getBase().buildLogProb(builder, loc, z), logDet);
    }
    llvm_unreachable("unknown kernel output");
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

  /// Adds `nfk_<model>_<kernel>(input, [ctx], [layer noise], outputs...)`.
  LogicalResult build(const abi::Kernel &kernel) {
    RankedTensorType inputTensorType = getInputType(kernel);
    std::string name =
        abi::getKernelSymbol(model.getSymName().str(), kernel.name);
    if (SymbolTable::lookupNearestSymbolFrom(
            model, StringAttr::get(model.getContext(), name)))
      return model.emitOpError("cannot add kernel @")
             << name << ": a symbol of that name already exists";
    // Layer noise only when the direction draws any.
    bool inverse = kernel.isGenerative();
    int64_t noiseSize = getModelNoiseSize(model, inverse);
    MemRefType noiseType =
        MemRefType::get({ShapedType::kDynamic, noiseSize}, elementType);
    SmallVector<Type> argTypes = {getFlatBatchMemRef(inputTensorType)};
    if (contextType)
      argTypes.push_back(contextType);
    if (noiseSize > 0)
      argTypes.push_back(noiseType);
    for (abi::Output output :
         ArrayRef<abi::Output>(kernel.outputs, kernel.numOutputs))
      argTypes.push_back(getOutputType(kernel, output));
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
    Value z = kernel.input == abi::Input::Noise
                  ? model.getBase().buildFromNoise(builder, loc, input)
                  : input;
    FailureOr<LayerValues> mapped =
        inverse ? buildModelInverse(builder, model, z, mapping,
                                    kernel.withLogDet(), noise)
                : buildModelForward(builder, model, z, mapping,
                                    kernel.withLogDet(), noise);
    if (failed(mapped)) {
      fn.erase();
      return failure();
    }
    // The latent: the kernel's input (after the base distribution) for the
    // generative map, its result for the normalizing map.
    Value latent = inverse ? z : mapped->value;
    for (int i = 0; i < kernel.numOutputs; ++i)
      writeResult(getOutputValue(kernel.outputs[i], mapped->value,
                                 mapped->logDet, latent),
                  entryBlock->getArgument(firstOutput + i));
    func::ReturnOp::create(builder, loc);
    return success();
  }

  ModelOp model;
  Location loc;
  OpBuilder builder;
  Type elementType;
  MemRefType contextType;
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
