//===- ModelSummary.cpp - Print the layers of each model ------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFMODELSUMMARYPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// What sum V is for a whole model, in words.
StringRef describeExactness(Exactness exactness) {
  return exactness == Exactness::Bound ? "lower bound"
                                       : stringifyExactness(exactness);
}

/// Number of scalar values in the statically shaped tensors `values`.
int64_t countElements(ValueRange values) {
  int64_t count = 0;
  for (Type type : values.getTypes())
    if (auto tensor = dyn_cast<RankedTensorType>(type);
        tensor && tensor.hasStaticShape())
      count += tensor.getNumElements();
  return count;
}

/// Parameter values a layer reads: its tensor operands other than data and
/// context, and the constants inside the functions it calls.
int64_t countParameters(FlowLayerOpInterface layer, ModelOp model,
                        SymbolTableCollection &symbols) {
  SmallVector<Value> params;
  for (Value operand : layer->getOperands())
    if (operand != layer.getInput() &&
        operand != model.getConditioningContext())
      params.push_back(operand);
  int64_t count = countElements(params);
  for (NamedAttribute attr : layer->getAttrs()) {
    auto ref = dyn_cast<FlatSymbolRefAttr>(attr.getValue());
    if (!ref)
      continue;
    Operation *callee = symbols.lookupNearestSymbolFrom(layer, ref);
    if (!callee)
      continue;
    callee->walk([&](arith::ConstantOp constant) {
      if (auto tensor = dyn_cast<RankedTensorType>(constant.getType()))
        count += tensor.getNumElements();
    });
  }
  return count;
}

struct NFModelSummaryPass
    : public nf::impl::NFModelSummaryPassBase<NFModelSummaryPass> {
  using Base::Base;

  void runOnOperation() override {
    std::string error;
    std::unique_ptr<llvm::ToolOutputFile> file;
    if (outputFile != "-") {
      file = openOutputFile(outputFile, &error);
      if (!file) {
        getOperation().emitError("cannot open summary file: ") << error;
        return signalPassFailure();
      }
      file->keep();
    }
    llvm::raw_ostream &os = file ? file->os() : llvm::errs();
    SymbolTableCollection symbols;
    getOperation().walk([&](ModelOp model) {
      os << "model @" << model.getSymName() << ": " << model.getDataType()
         << " -> " << model.getLatent().getType();
      if (BlockArgument context = model.getConditioningContext())
        os << ", context " << context.getType();
      os << ", base " << model.getBase() << ", "
         << describeExactness(model.getExactness()) << "\n";
      for (auto [index, layer] : llvm::enumerate(model.getLayers()))
        os << "  " << index << ": " << layer->getName() << "  "
           << stringifyLayerKind(layer.getLayerKind()) << ", "
           << stringifyExactness(layer.getExactness())
           << (layer.isVolumePreserving() ? ", volume-preserving" : "") << ", "
           << countParameters(layer, model, symbols) << " parameters\n";
    });
    markAllAnalysesPreserved();
  }
};

} // namespace
