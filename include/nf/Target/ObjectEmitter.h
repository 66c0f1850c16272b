//===- ObjectEmitter.h - LLVM dialect to a host object file -----*- C++ -*-===//
//
// The end of the CPU path: translate the LLVM dialect to LLVM IR, run the
// LLVM optimization pipeline for the target CPU and emit object code, all
// in-process.
//
//===----------------------------------------------------------------------===//

#ifndef NF_TARGET_OBJECTEMITTER_H
#define NF_TARGET_OBJECTEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>

namespace mlir::nf {

/// A target machine for the host's architecture and `cpu` at optimization
/// level `optLevel` (0-3), generating position-independent code that fuses
/// multiply-adds. `cpu`: an LLVM CPU name, "native" (the host's CPU and
/// features), or empty: the portable baseline (abi::kBaselineX86CPU on
/// x86-64, "generic" elsewhere).
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createHostTargetMachine(StringRef cpu, unsigned optLevel);

/// The features of abi::kX86Features that `machine` generates code for,
/// comma-separated (empty off x86-64): what the library needs of the CPU
/// it runs on.
std::string getRequiredCPUFeatures(const llvm::TargetMachine &machine);

/// The width in bits of `machine`'s vector registers: 512 with AVX-512, 256
/// with AVX, else 128.
int64_t getVectorBits(const llvm::TargetMachine &machine);

/// Translates `module` (in the LLVM dialect) to LLVM IR named `name` and
/// optimizes it for `machine` at `optLevel`.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(ModuleOp module, llvm::LLVMContext &context,
                     llvm::TargetMachine &machine, unsigned optLevel,
                     StringRef name);

/// Writes the object code of `module` to `path`.
llvm::Error emitObjectFile(llvm::Module &module, llvm::TargetMachine &machine,
                           StringRef path);

/// Translates `module` (in the LLVM dialect) to LLVM IR and writes its
/// object code to the files `paths`, one part each: the functions are split
/// into parts of about equal size, each optimized and compiled on its own
/// thread with its own LLVM context and a target machine for `cpu` at
/// `optLevel`. The parts link into one library.
llvm::Error emitObjectFilesInParallel(ModuleOp module, StringRef cpu,
                                      unsigned optLevel, StringRef name,
                                      ArrayRef<std::string> paths);

} // namespace mlir::nf

#endif // NF_TARGET_OBJECTEMITTER_H
