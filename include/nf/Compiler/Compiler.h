//===- Compiler.h - nf models to a native library ---------------*- C++ -*-===//
//
// What nf-compile does, as a library: run the CPU pipeline on a module of nf
// models, translate and optimize it, emit the kernels' object, write the C
// header and glue, and link the library. The tool only reads options and
// the input (tools/nf-compile).
//
//===----------------------------------------------------------------------===//

#ifndef NF_COMPILER_COMPILER_H
#define NF_COMPILER_COMPILER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/Error.h"

#include <string>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir::nf {

/// What a compilation writes.
enum class EmitKind {
  SharedLibrary, ///< the library and its C header (the default)
  Object,        ///< the kernels' object file
  LLVMIR,        ///< optimized LLVM IR
  MLIR,          ///< MLIR in the LLVM dialect
  Header,        ///< the C header only
  Glue,          ///< the C glue between the ABI and the kernels
  PTX,           ///< the device code of the CUDA target
};

struct CompilerOptions {
  EmitKind emit = EmitKind::SharedLibrary;
  unsigned optLevel = 3;
  /// Target CPU: an LLVM CPU name, "native" (the host's CPU with its
  /// features), or empty: the portable baseline (x86-64-v3 on x86-64).
  std::string cpu;
  /// Polynomial f32 transcendentals instead of libm calls.
  bool approximateMath = true;
  /// Rows per kernel tile (0: chosen from the model's widths and the cache).
  int64_t tileRows = 0;
  /// Fuse layers at the nf level (nf-fuse-layers).
  bool fuseLayers = true;
  /// Solve MADE-conditioned sequential directions incrementally.
  bool incrementalInverse = true;
  /// Refuse near-singular constant linear layers (nf-check-conditioning)
  /// instead of warning.
  bool illConditionedError = false;
  /// Where the runtime is: libnf_runtime.a and nf_runtime.h.
  std::string runtimeDir;
  /// The targets (abi::TargetBits) the library has entries for.
  unsigned targets = 1;
  /// The GPU architecture of the CUDA target's PTX.
  std::string gpuArch = "sm_90";
  /// Shared memory per kernel for staged constants (conditioner weights).
  int64_t gpuSharedMemoryBytes = 48 * 1024;
  /// A CUDA toolkit for libdevice (f64 transcendentals on the GPU); empty:
  /// CUDA_ROOT, CUDA_HOME or CUDA_PATH if set, else the toolkit of the
  /// `ptxas` on PATH, else /usr/local/cuda.
  std::string cudaToolkit;
};

/// The files a compilation writes: `output`, and for a shared library the
/// header beside it (libmodel.so -> model.h).
struct CompilerOutputs {
  std::string output;
  std::string header;
  std::string headerGuard;
};

/// The outputs for `inputFile` with `-o output` (empty: derived from the
/// input's stem and the emit kind).
CompilerOutputs getCompilerOutputs(StringRef inputFile, StringRef output,
                                   EmitKind emit);

/// Bracket nesting deeper than this is refused before parsing: MLIR's
/// parser recurses per level and would overflow the stack (at ~10^5).
inline constexpr unsigned kMaxInputNesting = 1000;

/// Parses the main buffer of `sourceMgr` into a verified module, or reports
/// why not through the context's diagnostics and returns null. Input nested
/// deeper than kMaxInputNesting is refused at its first excess bracket.
OwningOpRef<ModuleOp> parseModelSource(llvm::SourceMgr &sourceMgr,
                                       MLIRContext *context);

/// Compiles the nf models of `module` (parsed and verified, read from
/// `inputName`) and writes `outputs`. Pipeline diagnostics go to the
/// context's diagnostic handler; other failures come back as the error.
/// Each stage (every MLIR pass, LLVM optimization, code generation, link) is
/// timed in a scope nested in `timing`.
llvm::Error compileModels(ModuleOp module, StringRef inputName,
                          const CompilerOptions &options,
                          const CompilerOutputs &outputs, TimingScope &timing);

} // namespace mlir::nf

#endif // NF_COMPILER_COMPILER_H
