//===- nf-compile.cpp - nf models to a native library and C header --------===//
//
//   nf-compile model.mlir -o libmodel.so     # libmodel.so + model.h
//   nf-compile model.mlir --emit=llvm -o model.ll
//
// Reads the options and the input; the compilation itself is
// mlir::nf::compileModels (lib/Compiler).
//
//===----------------------------------------------------------------------===//

#include "nf/Compiler/Compiler.h"
#include "nf/InitAllNF.h"
#include "nf/Target/EntryPoints.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/CodeGen/CommandFlags.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;
using namespace llvm;
using nf::EmitKind;

namespace {

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                               cl::Required);
cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                cl::value_desc("path"), cl::init(""));
cl::opt<EmitKind> emit(
    "emit", cl::desc("What to write"), cl::init(EmitKind::SharedLibrary),
    cl::values(clEnumValN(EmitKind::SharedLibrary, "so",
                          "shared library and C header (default)"),
               clEnumValN(EmitKind::Object, "obj",
                          "object file of the kernels"),
               clEnumValN(EmitKind::LLVMIR, "llvm", "optimized LLVM IR"),
               clEnumValN(EmitKind::MLIR, "mlir", "MLIR in the LLVM dialect"),
               clEnumValN(EmitKind::Header, "header", "the C header only"),
               clEnumValN(EmitKind::Glue, "glue",
                          "the C glue between the ABI and the kernels"),
               clEnumValN(EmitKind::PTX, "ptx", "the PTX of the cuda target")));
cl::list<std::string>
    targets("target", cl::CommaSeparated,
            cl::desc("Targets the library has entries for: cpu (default), "
                     "cuda, or both (--target=cuda,cpu)"),
            cl::value_desc("cpu|cuda"));
cl::opt<std::string> gpuArch("gpu-arch",
                             cl::desc("GPU architecture of the cuda target"),
                             cl::init("sm_90"));
cl::opt<int64_t> gpuSharedMemory(
    "gpu-shared-memory",
    cl::desc("Bytes of shared memory per kernel for the conditioner weights "
             "of the cuda target (default 49152, the static limit; 0: read "
             "them from global memory)"),
    cl::init(48 * 1024));
cl::opt<std::string> cudaToolkit(
    "cuda-toolkit",
    cl::desc("CUDA toolkit for libdevice (f64 transcendentals "
             "on the GPU; default: CUDA_ROOT, CUDA_HOME, CUDA_PATH, the "
             "ptxas on PATH, /usr/local/cuda)"),
    cl::init(""));
cl::opt<unsigned> optLevel("O", cl::desc("Optimization level (0-3)"),
                           cl::Prefix, cl::init(3));
// --mcpu and LLVM's other code generation flags: registered once for the
// process (lld, linked in, registers them too). Empty --mcpu: a portable
// baseline, x86-64-v3 (AVX2 and FMA) on x86-64; native: this machine's CPU.
// A library run on a CPU without its features returns 7.
static codegen::RegisterCodeGenFlags codegenFlags;
cl::opt<bool>
    approximateMath("approximate-math",
                    cl::desc("Polynomial f32 transcendentals (no libm calls)"),
                    cl::init(true));

cl::opt<int64_t>
    tileRows("tile-rows",
             cl::desc("Rows per kernel tile (default: chosen from the model's "
                      "widths and the host's cache)"),
             cl::init(0));

cl::opt<bool> fuseLayers("fuse-layers",
                         cl::desc("Fuse layers at the nf level (default on)"),
                         cl::init(true));

cl::opt<bool> incrementalInverse(
    "incremental-autoregressive-inverse",
    cl::desc("Solve MADE-conditioned sequential directions incrementally "
             "(default on; off keeps the D-pass loop)"),
    cl::init(true));

enum class IllConditioned { Warn, Error };
cl::opt<IllConditioned> illConditioned(
    "ill-conditioned",
    cl::desc("Near-singular constant linear layers (condition number above "
             "0.01/epsilon of the type)"),
    cl::values(clEnumValN(IllConditioned::Warn, "warn", "warn (default)"),
               clEnumValN(IllConditioned::Error, "error", "refuse the model")),
    cl::init(IllConditioned::Warn));

cl::opt<bool> timeStages(
    "time-stages",
    cl::desc("Print the wall time of every stage (parse, each MLIR pass, "
             "LLVM optimization, code generation, link) to stderr"),
    cl::init(false));

int fail(const Twine &message) {
  errs() << "nf-compile: error: " << message << "\n";
  return 1;
}

/// The directory of the runtime: build/lib beside build/bin/nf-compile.
std::string getRuntimeDir(const char *argv0) {
  SmallString<256> dir(sys::path::parent_path(sys::path::parent_path(
      sys::fs::getMainExecutable(argv0, (void *)&fail))));
  sys::path::append(dir, "lib");
  return dir.str().str();
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  cl::ParseCommandLineOptions(
      argc, argv,
      "nf-compile: nf models to a native library\n\n"
      "  --mcpu=<cpu>: the kernels' target CPU (default: a portable baseline, "
      "x86-64-v3 on x86-64; native: this machine's); a library run on a CPU "
      "without its features returns 7\n");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  nf::registerAllNFDialects(registry);
  MLIRContext context(registry);

  nf::CompilerOptions options;
  options.emit = emit;
  options.optLevel = optLevel;
  options.cpu = codegen::getMCPU();
  options.approximateMath = approximateMath;
  options.tileRows = tileRows;
  options.fuseLayers = fuseLayers;
  options.incrementalInverse = incrementalInverse;
  options.illConditionedError = illConditioned == IllConditioned::Error;
  options.runtimeDir = getRuntimeDir(argv[0]);
  options.gpuArch = gpuArch;
  if (gpuSharedMemory < 0 || gpuSharedMemory > 48 * 1024)
    return fail("--gpu-shared-memory must be between 0 and 49152 bytes (the "
                "static shared memory of a kernel)");
  options.gpuSharedMemoryBytes = gpuSharedMemory;
  options.cudaToolkit = cudaToolkit;
  if (!targets.empty()) {
    options.targets = 0;
    for (const std::string &target : targets) {
      if (target == "cpu")
        options.targets |= nf::abi::kCPU;
      else if (target == "cuda")
        options.targets |= nf::abi::kCUDA;
      else
        return fail("unknown target '" + target + "' (cpu or cuda)");
    }
  }

  DefaultTimingManager timing;
  timing.setEnabled(timeStages);
  TimingScope root = timing.getRootScope();
  TimingScope parsing = root.nest("parse");

  std::string error;
  std::unique_ptr<MemoryBuffer> input = openInputFile(inputFile, &error);
  if (!input)
    return fail(error);
  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = nf::parseModelSource(sourceMgr, &context);
  if (!module)
    return 1;
  parsing.stop();
  if (Error err = nf::compileModels(
          *module, inputFile, options,
          nf::getCompilerOutputs(inputFile, outputFile, emit), root))
    return fail(toString(std::move(err)));
  return 0;
}
