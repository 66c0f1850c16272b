//===- nf-translate.cpp - mlir-translate with the nf translations ---------===//
//
// The translations of nf models: the C interface of their compiled library.
//   nf-translate --nf-emit-c-header model.mlir
//   nf-translate --nf-emit-c-glue model.mlir
//
//===----------------------------------------------------------------------===//

#include "nf/Target/CInterface.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::nf::registerCInterfaceTranslations();
  return mlir::failed(mlir::mlirTranslateMain(
             argc, argv, "nf-translate: translations of nf models"))
             ? 1
             : 0;
}
