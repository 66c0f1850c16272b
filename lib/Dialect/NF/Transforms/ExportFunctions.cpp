//===- ExportFunctions.cpp - Kernels as functions on tensors --------------===//
//
// Other MLIR-based stacks take a model as plain functions on tensors. The
// kernel bodies nf-expand-model builds read their inputs through
// bufferization.to_tensor and write their outputs with
// materialize_in_destination into the caller's memrefs; here each body
// becomes a function from the input tensors to the output tensors, and the
// exported entries call them.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/Transforms/Passes.h"

#include "nf/Target/EntryPoints.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFEXPORTFUNCTIONSPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// The tensor type of the rows of `type` (a memref).
RankedTensorType getTensorType(Type type) {
  auto memref = cast<MemRefType>(type);
  return RankedTensorType::get(memref.getShape(), memref.getElementType());
}

/// Rewrites the kernel body `body` (memref arguments in destination-passing
/// style) into a function on tensors: arguments read through to_tensor
/// become tensor arguments, in order; those written by
/// materialize_in_destination become results, in order.
LogicalResult tensorizeBody(func::FuncOp body) {
  Block &entry = body.front();
  unsigned numArgs = entry.getNumArguments();
  SmallVector<Type> inputs, results;
  SmallVector<Value> resultValues;
  llvm::BitVector erase(numArgs);
  for (unsigned i = 0; i < numArgs; ++i) {
    BlockArgument arg = entry.getArgument(i);
    SmallVector<Operation *> users(arg.getUsers());
    if (users.empty()) { // an output the body does not write
      erase.set(i);
      continue;
    }
    auto reads = llvm::make_filter_range(users, [](Operation *op) {
      return isa<bufferization::ToTensorOp>(op);
    });
    if (!reads.empty()) {
      // An input: its to_tensor (and any dimension query) reads the new
      // tensor argument.
      Type type = (*reads.begin())->getResult(0).getType();
      Value tensor = entry.addArgument(type, arg.getLoc());
      inputs.push_back(type);
      for (Operation *user : users) {
        OpBuilder b(user);
        if (auto dim = dyn_cast<memref::DimOp>(user))
          dim.replaceAllUsesWith(
              tensor::DimOp::create(b, dim.getLoc(), tensor, dim.getIndex())
                  .getResult());
        else if (isa<bufferization::ToTensorOp>(user))
          user->replaceAllUsesWith(ValueRange{tensor});
        else
          return body.emitOpError("input argument #")
                 << i << " has a use other than to_tensor and memref.dim";
        user->erase();
      }
      erase.set(i);
      continue;
    }
    auto write =
        dyn_cast<bufferization::MaterializeInDestinationOp>(users.front());
    if (!write || users.size() != 1)
      return body.emitOpError("argument #")
             << i
             << " is neither read by one to_tensor nor written by one "
                "materialize_in_destination";
    results.push_back(getTensorType(arg.getType()));
    resultValues.push_back(write.getSource());
    write.erase();
    erase.set(i);
  }
  entry.eraseArguments(erase);
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  OpBuilder b(ret);
  func::ReturnOp::create(b, ret.getLoc(), resultValues);
  ret.erase();
  body.setFunctionType(FunctionType::get(body.getContext(), inputs, results));
  body->removeAttr("nf.kernel_body");
  return success();
}

struct NFExportFunctionsPass
    : public nf::impl::NFExportFunctionsPassBase<NFExportFunctionsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    // The models: the names in their normalize bodies'.
    std::string suffix = std::string("_") + abi::kNormalizeBody.name;
    SmallVector<std::string> models;
    for (auto fn : module.getOps<func::FuncOp>()) {
      StringRef name = fn.getSymName();
      if (fn->hasAttr("nf.kernel_body") && name.starts_with("nfk_") &&
          name.ends_with(suffix))
        models.push_back(name.drop_front(4).drop_back(suffix.size()).str());
    }
    if (models.empty()) {
      module.emitError("nf-export-functions: no kernel bodies; run "
                       "nf-expand-model and convert-nf-to-linalg first (the "
                       "nf-export pipeline)");
      return signalPassFailure();
    }
    // The memref kernels go; the bodies become functions on tensors.
    for (auto fn : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (fn->hasAttr("llvm.emit_c_interface") &&
          fn.getSymName().starts_with("nfk_"))
        fn.erase();
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr("nf.kernel_body") && failed(tensorizeBody(fn)))
        return signalPassFailure();
    for (const std::string &model : models)
      if (failed(addEntries(module, model)))
        return signalPassFailure();
  }

  /// The public entries of `model`, calling its tensor bodies.
  LogicalResult addEntries(ModuleOp module, StringRef model) {
    auto lookup = [&](const char *body) {
      return module.lookupSymbol<func::FuncOp>(
          abi::getKernelSymbol(model.str(), body));
    };
    func::FuncOp normalize = lookup(abi::kNormalizeBody.name);
    func::FuncOp generate = lookup(abi::kGenerateBody.name);
    func::FuncOp baseFromNoise = lookup(abi::kBaseFromNoise);
    if (!normalize || !generate || !baseFromNoise)
      return module.emitError("model @")
             << model << " lacks a kernel body nf-expand-model builds";
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = normalize.getLoc();
    // `M_name`(the body's inputs) -> the body's results `keep`; with
    // `first`, the first input goes through `first` (one input, one
    // result).
    auto addEntry = [&](StringRef name, func::FuncOp body,
                        ArrayRef<unsigned> keep,
                        func::FuncOp first) -> LogicalResult {
      FunctionType bodyType = body.getFunctionType();
      SmallVector<Type> inputs(bodyType.getInputs());
      if (first)
        inputs.front() = first.getFunctionType().getInput(0);
      SmallVector<Type> results;
      for (unsigned k : keep)
        results.push_back(bodyType.getResult(k));
      FunctionType type = b.getFunctionType(inputs, results);
      std::string symbol = (model + "_" + name).str();
      // A declaration of the entry (a caller's module) gets defined.
      if (auto declared = module.lookupSymbol<func::FuncOp>(symbol)) {
        if (!declared.isDeclaration() || declared.getFunctionType() != type)
          return declared.emitOpError("is the name of an exported entry of "
                                      "model @")
                 << model << "; only a declaration of type " << type
                 << " may have it";
        declared.erase();
      }
      auto fn = func::FuncOp::create(b, loc, symbol, type);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(fn.addEntryBlock());
      SmallVector<Value> args(fn.getArguments());
      if (first)
        args.front() =
            func::CallOp::create(b, loc, first, args.front()).getResult(0);
      auto call = func::CallOp::create(b, loc, body, args);
      SmallVector<Value> values;
      for (unsigned k : keep)
        values.push_back(call.getResult(k));
      func::ReturnOp::create(b, loc, values);
      return success();
    };
    // One entry per kernel of the ABI table, returning that kernel's
    // outputs; noise-input kernels take the base noise (`_from_noise`).
    for (const abi::Kernel &kernel : abi::kKernels) {
      const abi::Kernel &body = abi::getBody(kernel);
      SmallVector<unsigned> keep;
      for (int i = 0; i < kernel.numOutputs; ++i)
        keep.push_back(llvm::find(ArrayRef(body.outputs, body.numOutputs),
                                  kernel.outputs[i]) -
                       body.outputs);
      bool fromNoise = kernel.input == abi::Input::Noise;
      if (failed(addEntry(std::string(kernel.name) +
                              (fromNoise ? "_from_noise" : ""),
                          kernel.isGenerative() ? generate : normalize, keep,
                          fromNoise ? baseFromNoise : nullptr)))
        return failure();
    }
    for (func::FuncOp body : {normalize, generate, baseFromNoise})
      body.setPrivate();
    return success();
  }
};

} // namespace
