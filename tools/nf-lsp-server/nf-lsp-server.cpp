//===- nf-lsp-server.cpp - MLIR's language server with the nf dialect -----===//
//
// mlir-lsp-server for nf models: diagnostics (the nf verifiers' located
// errors), hover, go-to-definition and symbols in editors, for every
// upstream dialect plus nf.
//
//===----------------------------------------------------------------------===//

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Tools/mlir-lsp-server/MlirLspServerMain.h"
#include "nf/InitAllNF.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::nf::registerAllNFDialects(registry);
  return mlir::failed(mlir::MlirLspServerMain(argc, argv, registry)) ? 1 : 0;
}
