//===- ExpandModel.cpp - Kernel entry points of each model ----------------===//

#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/Passes.h"
#include "nf/Target/EntryPoints.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
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
  }

  LogicalResult buildAll() {
    if (failed(buildBody(abi::kNormalizeBody)) ||
        failed(buildBody(abi::kGenerateBody)))
      return failure();
    buildBaseFromNoise();
    for (const abi::Kernel &kernel : abi::kKernels)
      buildKernel(kernel);
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

  /// The layer noise a direction draws, as rows of uniforms; null if none.
  MemRefType getNoiseType(bool inverse) {
    int64_t size = getModelNoiseSize(model, inverse);
    if (size == 0)
      return {};
    return MemRefType::get({ShapedType::kDynamic, size}, elementType);
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

  /// log p_Z(z) + V, with NaN read as -inf: for finite data a NaN can only
  /// come from leaving a layer's domain or from overflow (inf - inf, 0 *
  /// inf), where the density is 0 (or below the type's range).
  Value addLogProb(Value logBase, Value logDet) {
    return mapElementwise(builder, loc, logBase, {logBase, logDet}, 1,
                          [](OpBuilder &nb, Location nloc, ValueRange args) {
                            ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                            Value sum = s.add(args[0], args[1]);
                            Value nan =
                                s.cmp(arith::CmpFPredicate::UNO, sum, sum);
                            return SmallVector<Value>{
                                s.select(nan, s.minusInfinity(), sum)};
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

  /// A function `nfk_<model>_<name>(input, [ctx], [layer noise],
  /// outputs...)` with the arguments of `kernel`'s row, its builder inside
  /// its entry block; null (after an error) if the name is taken.
  func::FuncOp createFunction(StringRef name, const abi::Kernel &kernel) {
    std::string symbol =
        abi::getKernelSymbol(model.getSymName().str(), name.str().c_str());
    if (SymbolTable::lookupNearestSymbolFrom(
            model, StringAttr::get(model.getContext(), symbol))) {
      model.emitOpError("cannot add kernel @")
          << symbol << ": a symbol of that name already exists";
      return {};
    }
    SmallVector<Type> argTypes = {getFlatBatchMemRef(getInputType(kernel))};
    if (contextType)
      argTypes.push_back(contextType);
    if (MemRefType noiseType = getNoiseType(kernel.isGenerative()))
      argTypes.push_back(noiseType);
    for (abi::Output output :
         ArrayRef<abi::Output>(kernel.outputs, kernel.numOutputs))
      argTypes.push_back(getOutputType(kernel, output));
    auto fn = func::FuncOp::create(builder, loc, symbol,
                                   builder.getFunctionType(argTypes, {}));
    builder.setInsertionPointToEnd(fn.addEntryBlock());
    return fn;
  }

  /// Adds the body of a direction: every output of `body` from the input
  /// rows (and context and layer noise).
  LogicalResult buildBody(const abi::Kernel &body) {
    OpBuilder::InsertionGuard guard(builder);
    func::FuncOp fn = createFunction(body.name, body);
    if (!fn)
      return failure();
    fn.setPrivate();
    // nf-tile-kernels tiles bodies like kernels.
    fn->setAttr("nf.kernel_body", builder.getUnitAttr());
    Block *entry = &fn.getBody().front();
    bool inverse = body.isGenerative();
    Value input = readArgument(entry->getArgument(0), getInputType(body));
    unsigned next = 1;
    Value context, noise;
    if (contextType)
      context = bufferization::ToTensorOp::create(
          builder, loc,
          RankedTensorType::get(contextType.getShape(), elementType),
          entry->getArgument(next++), /*restrict=*/builder.getUnitAttr());
    if (MemRefType noiseType = getNoiseType(inverse))
      noise = bufferization::ToTensorOp::create(
          builder, loc,
          RankedTensorType::get(noiseType.getShape(), elementType),
          entry->getArgument(next++), /*restrict=*/builder.getUnitAttr());
    IRMapping mapping;
    cloneModelParameters(builder, model, context, mapping);

    // The latent the density is evaluated at: the input of the generative
    // map; for the normalizing map its value before trailing permutations,
    // under the base distribution they permute (no data moves for them).
    BaseDistributionAttrInterface base = model.getBase();
    Value latent = input;
    FailureOr<LayerValues> mapped;
    if (inverse) {
      mapped = buildModelInverse(builder, model, input, mapping,
                                 /*withLogDet=*/true, noise);
    } else {
      auto [count, permutation] = getTrailingPermutation(model);
      if (count > 0)
        base = base.getPermuted(permutation);
      mapped = buildModelForward(builder, model, input, mapping,
                                 /*withLogDet=*/true, noise, count, latent);
    }
    if (failed(mapped)) {
      fn.erase();
      return failure();
    }
    for (int i = 0; i < body.numOutputs; ++i) {
      Value out = entry->getArgument(next + i);
      switch (body.outputs[i]) {
      case abi::Output::Mapped:
        writeResult(mapped->value, out);
        break;
      case abi::Output::LogDet:
        writeResult(mapped->logDet, out);
        break;
      case abi::Output::LogProb:
        writeResult(
            addLogProb(base.buildLogProb(builder, loc, latent), mapped->logDet),
            out);
        break;
      }
    }
    func::ReturnOp::create(builder, loc);
    return success();
  }

  /// Adds `nfk_<model>_base_from_noise(noise, z)`: latent rows from the
  /// runtime's uniform noise.
  void buildBaseFromNoise() {
    OpBuilder::InsertionGuard guard(builder);
    std::string symbol =
        abi::getKernelSymbol(model.getSymName().str(), abi::kBaseFromNoise);
    MemRefType rows = getFlatBatchMemRef(getLatentType());
    auto fn = func::FuncOp::create(builder, loc, symbol,
                                   builder.getFunctionType({rows, rows}, {}));
    fn.setPrivate();
    fn->setAttr("nf.kernel_body", builder.getUnitAttr());
    Block *entry = fn.addEntryBlock();
    builder.setInsertionPointToEnd(entry);
    Value noise = readArgument(entry->getArgument(0), getLatentType());
    writeResult(model.getBase().buildFromNoise(builder, loc, noise),
                entry->getArgument(1));
    func::ReturnOp::create(builder, loc);
  }

  /// Adds the kernel `kernel`: its direction's body, with scratch rows for
  /// the outputs it does not return.
  void buildKernel(const abi::Kernel &kernel) {
    OpBuilder::InsertionGuard guard(builder);
    func::FuncOp fn = createFunction(kernel.name, kernel);
    fn->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
    Block *entry = &fn.getBody().front();
    std::string modelName = model.getSymName().str();
    Value rows = memref::DimOp::create(builder, loc, entry->getArgument(0), 0);
    auto scratch = [&](MemRefType type) -> Value {
      return memref::AllocOp::create(builder, loc, type, ValueRange{rows});
    };
    SmallVector<Value> operands = {entry->getArgument(0)};
    if (kernel.input == abi::Input::Noise) {
      Value latent = scratch(getFlatBatchMemRef(getLatentType()));
      callBody(abi::getKernelSymbol(modelName, abi::kBaseFromNoise),
               {entry->getArgument(0), latent});
      operands.front() = latent;
    }
    unsigned firstOutput = 1 + (contextType ? 1 : 0) +
                           (getNoiseType(kernel.isGenerative()) ? 1 : 0);
    for (unsigned i = 1; i < firstOutput; ++i)
      operands.push_back(entry->getArgument(i));
    const abi::Kernel &body = abi::getBody(kernel);
    ArrayRef<abi::Output> outputs(kernel.outputs, kernel.numOutputs);
    for (abi::Output output :
         ArrayRef<abi::Output>(body.outputs, body.numOutputs)) {
      const abi::Output *returned = llvm::find(outputs, output);
      operands.push_back(
          returned != outputs.end()
              ? entry->getArgument(firstOutput + (returned - outputs.begin()))
              : scratch(getOutputType(body, output)));
    }
    callBody(abi::getKernelSymbol(modelName, body.name), operands);
    func::ReturnOp::create(builder, loc);
  }

  /// Calls a body; the inliner, which inlines conditioners, leaves it.
  void callBody(StringRef symbol, ValueRange operands) {
    auto call =
        func::CallOp::create(builder, loc, symbol, TypeRange{}, operands);
    call.setNoInline(true);
  }

  ModelOp model;
  Location loc;
  OpBuilder builder;
  Type elementType;
  MemRefType contextType;
};

struct NFExpandModelPass
    : public nf::impl::NFExpandModelPassBase<NFExpandModelPass> {
  using Base::Base;

  void runOnOperation() override {
    // The layer builders read this to keep the D-pass loop.
    if (!incrementalInverse)
      getOperation().walk([](ConditionedLayerOpInterface layer) {
        layer->setAttr("nf.naive_sequential",
                       UnitAttr::get(layer->getContext()));
      });
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
