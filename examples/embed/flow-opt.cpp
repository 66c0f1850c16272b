//===- flow-opt.cpp - An opt-like tool embedding the nf dialect -----------===//
//
// What a user's compiler does to take nf models: register the nf dialect,
// its passes and pipelines (nf/InitAllNF.h) next to the upstream dialects
// and their extensions (bufferization and LLVM-lowering interfaces, which
// the nf pipelines use), and run MLIR's opt driver.
//
//===----------------------------------------------------------------------===//

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "nf/InitAllNF.h"

int main(int argc, char **argv) {
  mlir::nf::registerAllNFPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::nf::registerAllNFDialects(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "flow-opt: a user's tool with the nf dialect\n", registry));
}
