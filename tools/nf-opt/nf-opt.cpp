//===- nf-opt.cpp - mlir-opt with the nf dialect and passes ---------------===//
//
// Every upstream dialect, pass and extension of mlir-opt, plus the nf
// dialect, its passes and pipelines.
//
//===----------------------------------------------------------------------===//

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "nf/InitAllNF.h"
#include "llvm/Support/Compiler.h"
#include "llvm/Support/thread.h"

static constexpr unsigned kStackBytes = 1u << 30;

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::nf::registerAllNFPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // nf-cuda-pipeline translates its gpu.module to PTX.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::nf::registerAllNFDialects(registry);

  // MLIR's parser and many passes recurse per level of region nesting: a
  // large stack lets deeply nested input get an answer, not a crash.
  // (AddressSanitizer cannot release a 1 GiB thread stack at exit: the
  // sanitizer build parses on the main thread.)
  mlir::LogicalResult result = mlir::failure();
  auto run = [&] {
    result = mlir::MlirOptMain(
        argc, argv, "nf-opt: the nf normalizing-flow compiler driver\n",
        registry);
  };
#if LLVM_ADDRESS_SANITIZER_BUILD
  run();
#else
  llvm::thread worker(std::optional<unsigned>(kStackBytes), run);
  worker.join();
#endif
  return mlir::asMainReturnCode(result);
}
