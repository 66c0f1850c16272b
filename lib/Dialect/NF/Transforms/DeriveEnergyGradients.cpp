//===- DeriveEnergyGradients.cpp - Energy gradients for Langevin blocks ---===//
//
// nf-derive-energy-gradients gives every nf.langevin without a hand-written
// gradient one derived by reverse-mode AD (Gradient.h).
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/Gradient.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFDERIVEENERGYGRADIENTSPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// A fresh symbol name `<base>_grad`, `<base>_grad_1`, ...
std::string getFreshName(SymbolTable &table, StringRef base) {
  std::string name = (base + "_grad").str();
  for (int i = 1; table.lookup(name); ++i)
    name = (base + "_grad_" + Twine(i)).str();
  return name;
}

struct NFDeriveEnergyGradientsPass
    : public nf::impl::NFDeriveEnergyGradientsPassBase<
          NFDeriveEnergyGradientsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable table(module);
    llvm::StringMap<FlatSymbolRefAttr> derived;
    WalkResult result = module.walk([&](LangevinOp op) {
      if (op.getGradientAttr())
        return WalkResult::advance();
      StringRef energyName = op.getEnergy();
      FlatSymbolRefAttr &gradient = derived[energyName];
      if (!gradient) {
        auto energy = table.lookup<func::FuncOp>(energyName);
        if (!energy) {
          op.emitOpError("energy @")
              << energyName << " does not name a func.func";
          return WalkResult::interrupt();
        }
        FailureOr<func::FuncOp> function =
            buildGradientFunction(energy, getFreshName(table, energyName));
        if (failed(function)) {
          op.emitOpError("cannot derive the gradient of energy @")
              << energyName << " (see the error above); give one as `gradient`";
          return WalkResult::interrupt();
        }
        table.insert(*function);
        gradient = FlatSymbolRefAttr::get(*function);
      }
      op.setGradientAttr(gradient);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
