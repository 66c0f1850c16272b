//===- FuzzIR.cpp - libFuzzer target: IR text through the CPU pipeline ----===//
//
// Each input is MLIR text. It goes the way nf-compile takes a file: the
// nesting guard, parse and verify, then the whole CPU pipeline and the
// translation to LLVM IR (at -O0: LLVM's optimizer is not ours to fuzz),
// in process, with no file written and nothing linked. Rejected input is
// fine; a crash, an abort or a sanitizer report is a finding.
//
//===----------------------------------------------------------------------===//

#include "nf/Compiler/Compiler.h"
#include "nf/InitAllNF.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"

#include <cstdint>

using namespace mlir;

static DialectRegistry &getRegistry() {
  static DialectRegistry *registry = [] {
    auto *registry = new DialectRegistry;
    registerAllDialects(*registry);
    registerAllExtensions(*registry);
    registerAllToLLVMIRTranslations(*registry);
    nf::registerAllNFDialects(*registry);
    return registry;
  }();
  return *registry;
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  getRegistry();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: nothing uniqued by one input reaches the next.
  MLIRContext context(getRegistry(), MLIRContext::Threading::DISABLED);
  context.getDiagEngine().registerHandler([](Diagnostic &) {});
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz.mlir"),
      llvm::SMLoc());
  OwningOpRef<ModuleOp> module = nf::parseModelSource(sourceMgr, &context);
  if (!module)
    return 0;

  nf::CompilerOptions options;
  options.emit = nf::EmitKind::LLVMIR;
  options.optLevel = 0;
  nf::CompilerOutputs outputs =
      nf::getCompilerOutputs("fuzz.mlir", "/dev/null", options.emit);
  DefaultTimingManager timing;
  TimingScope root = timing.getRootScope();
  llvm::consumeError(
      nf::compileModels(*module, "fuzz.mlir", options, outputs, root));
  return 0;
}
