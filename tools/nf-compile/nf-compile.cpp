//===- nf-compile.cpp - nf models to a native library and C header --------===//
//
//   nf-compile model.mlir -o libmodel.so     # libmodel.so + model.h
//   nf-compile model.mlir --emit=llvm -o model.ll
//
// Parses and verifies the input, runs the CPU pipeline, translates to LLVM
// IR, optimizes and emits an object in-process, writes the C header and the
// C ABI glue, and links glue, kernels and the nf runtime with clang.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/InitAllNF.h"
#include "nf/Pipelines/Pipelines.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;
using namespace llvm;

namespace {

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                               cl::Required);
cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                cl::value_desc("path"), cl::init(""));
enum class Emit { SharedLib, Object, LLVMIR, MLIR, Header, Glue };
cl::opt<Emit> emit(
    "emit", cl::desc("What to write"), cl::init(Emit::SharedLib),
    cl::values(clEnumValN(Emit::SharedLib, "so",
                          "shared library and C header (default)"),
               clEnumValN(Emit::Object, "obj", "object file of the kernels"),
               clEnumValN(Emit::LLVMIR, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::MLIR, "mlir", "MLIR in the LLVM dialect"),
               clEnumValN(Emit::Header, "header", "the C header only"),
               clEnumValN(Emit::Glue, "glue",
                          "the C glue between the ABI and the kernels")));
cl::opt<unsigned> optLevel("O", cl::desc("Optimization level (0-3)"),
                           cl::Prefix, cl::init(3));
cl::opt<std::string> mcpu("mcpu", cl::desc("Target CPU (default: host)"),
                          cl::init("native"));
cl::opt<bool>
    approximateMath("approximate-math",
                    cl::desc("Polynomial f32 transcendentals (no libm calls)"),
                    cl::init(true));

/// What the header and glue need to know of a model.
struct ModelInfo {
  std::string name;
  int64_t dim, latentDim, contextDim;
  bool isF64;
  nf::BaseNoise noise;
  /// Layer noise per row of the normalizing and generative kernels.
  int64_t forwardNoise, inverseNoise;
  /// Whether log_prob is exact; if not, it is an IWAE estimate with
  /// iwaePaths paths.
  bool exact;
  int64_t iwaePaths;
};

int64_t eventSize(mlir::Type type) {
  int64_t size = 1;
  for (int64_t d : cast<RankedTensorType>(type).getShape().drop_front())
    size *= d;
  return size;
}

SmallVector<ModelInfo> collectModels(ModuleOp module) {
  SmallVector<ModelInfo> models;
  for (nf::ModelOp model : module.getOps<nf::ModelOp>()) {
    BlockArgument context = model.getConditioningContext();
    models.push_back({model.getSymName().str(), eventSize(model.getDataType()),
                      eventSize(model.getLatent().getType()),
                      context ? eventSize(context.getType()) : 0,
                      model.getDataType().getElementType().isF64(),
                      model.getBase().getNoise(),
                      nf::getModelNoiseSize(model, /*inverse=*/false),
                      nf::getModelNoiseSize(model, /*inverse=*/true),
                      model.isExact(), model.getNumIwaePaths()});
  }
  return models;
}

int fail(const Twine &message) {
  errs() << "nf-compile: error: " << message << "\n";
  return 1;
}

void writeDecls(raw_ostream &os, const ModelInfo &m, bool definitions) {
  std::string T = m.isF64 ? "double" : "float";
  std::string f = "nf_" + m.name;
  std::string api = definitions ? "NF_API " : "";
  auto end = [&](StringRef body) {
    if (definitions)
      os << " {\n  " << body << "\n}\n";
    else
      os << ";\n";
  };
  std::string run = "return nfrt_run(&" + m.name + "_model, " + m.name + "_";
  os << "\n/* Model @" << m.name << ": " << T << " data of " << m.dim
     << " values, latent of " << m.latentDim << ", context of " << m.contextDim
     << ". */\n";
  os << api << "int64_t " << f << "_dim(void)";
  end("return " + std::to_string(m.dim) + ";");
  os << api << "int64_t " << f << "_latent_dim(void)";
  end("return " + std::to_string(m.latentDim) + ";");
  os << api << "int64_t " << f << "_context_dim(void)";
  end("return " + std::to_string(m.contextDim) + ";");
  // Exact models: one pass. Bound models: the IWAE estimate with the
  // model's iwae_paths and seed 0.
  std::string iwae =
      "return nfrt_iwae(&" + m.name + "_model, " + m.name + "_log_prob, x, n, ";
  os << api << "int " << f << "_log_prob(const " << T
     << " *x, int64_t n, const " << T << " *ctx, " << T << " *out_logp)";
  if (m.exact)
    end(run + "log_prob, NFRT_INPUT_DATA, x, n, 0, ctx, 0, 0, out_logp, 1);");
  else
    end(iwae + std::to_string(m.iwaePaths) + ", 0, ctx, out_logp);");
  os << api << "int " << f << "_elbo(const " << T
     << " *x, int64_t n, uint64_t seed, const " << T << " *ctx, " << T
     << " *out)";
  end(iwae + "1, seed, ctx, out);");
  os << api << "int " << f << "_log_prob_iwae(const " << T
     << " *x, int64_t n, int64_t k, uint64_t seed, const " << T << " *ctx, "
     << T << " *out)";
  end(iwae + "k, seed, ctx, out);");
  os << api << "int " << f << "_forward(const " << T
     << " *x, int64_t n, uint64_t seed, const " << T << " *ctx, " << T
     << " *out_z, " << T << " *out_ldj)";
  end(run + "forward, NFRT_INPUT_DATA, x, n, seed, ctx, out_z, " +
      std::to_string(m.latentDim) + ", out_ldj, 1);");
  os << api << "int " << f << "_inverse(const " << T
     << " *z, int64_t n, uint64_t seed, const " << T << " *ctx, " << T
     << " *out_x)";
  end(run + "inverse, NFRT_INPUT_LATENT, z, n, seed, ctx, out_x, " +
      std::to_string(m.dim) + ", 0, 0);");
  os << api << "int " << f << "_sample(int64_t n, uint64_t seed, const " << T
     << " *ctx, " << T << " *out_x)";
  end(run + "sample, NFRT_INPUT_NOISE, 0, n, seed, ctx, out_x, " +
      std::to_string(m.dim) + ", 0, 0);");
  os << api << "int " << f
     << "_sample_with_log_prob(int64_t n, uint64_t seed, const " << T
     << " *ctx, " << T << " *out_x, " << T << " *out_logp)";
  end(run +
      "sample_with_log_prob, NFRT_INPUT_NOISE, 0, n, seed, ctx, "
      "out_x, " +
      std::to_string(m.dim) + ", out_logp, 1);");
}

void writeHeader(raw_ostream &os, StringRef guard, ArrayRef<ModelInfo> models) {
  os << "/* Generated by nf-compile. The C ABI of compiled nf models: arrays\n"
        "   are row-major, n rows of the stated width; ctx may be NULL for\n"
        "   models without context. Functions return 0 on success, 1 for an\n"
        "   invalid argument (n < 0), 2 for a NULL pointer where data is\n"
        "   needed, 3 when out of memory. They are reentrant. */\n";
  os << "#ifndef " << guard << "\n#define " << guard << "\n\n";
  os << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n";
  for (const ModelInfo &m : models)
    writeDecls(os, m, /*definitions=*/false);
  os << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
}

void writeGlue(raw_ostream &os, ArrayRef<ModelInfo> models) {
  os << "/* C ABI glue generated by nf-compile. */\n"
        "#include \"nf_runtime.h\"\n"
        "#define NF_API __attribute__((visibility(\"default\")))\n";
  const char *entries[] = {"log_prob", "forward", "inverse", "sample",
                           "sample_with_log_prob"};
  for (const ModelInfo &m : models) {
    for (StringRef entry : entries) {
      bool hasOut2 = entry != "log_prob";
      bool hasOut1 = entry == "log_prob" || entry == "forward" ||
                     entry == "sample_with_log_prob";
      std::string kernel = ("_mlir_ciface_nfk_" + m.name + "_" + entry).str();
      std::string params = "nfrt_memref2 *";
      std::string args = "in";
      if (m.contextDim > 0) {
        params += ", nfrt_memref2 *";
        args += ", ctx";
      }
      bool normalizing = entry == "log_prob" || entry == "forward";
      if ((normalizing ? m.forwardNoise : m.inverseNoise) > 0) {
        params += ", nfrt_memref2 *";
        args += ", noise";
      }
      if (hasOut2) {
        params += ", nfrt_memref2 *";
        args += ", out2";
      }
      if (hasOut1) {
        params += ", nfrt_memref1 *";
        args += ", out1";
      }
      os << "void " << kernel << "(" << params << ");\n";
      os << "static void " << m.name << "_" << entry
         << "(nfrt_memref2 *in, nfrt_memref2 *ctx, nfrt_memref2 *noise, "
            "nfrt_memref2 *out2, nfrt_memref1 *out1) {\n  (void)ctx; "
            "(void)noise; (void)out2; (void)out1;\n  "
         << kernel << "(" << args << ");\n}\n";
    }
    os << "static const nfrt_model " << m.name << "_model = {" << m.dim << ", "
       << m.latentDim << ", " << m.contextDim << ", " << (m.isF64 ? 8 : 4)
       << ", "
       << (m.noise == nf::BaseNoise::UnitUniform ? "NFRT_NOISE_UNIFORM"
                                                 : "NFRT_NOISE_NORMAL")
       << ", " << m.forwardNoise << ", " << m.inverseNoise << "};\n";
    writeDecls(os, m, /*definitions=*/true);
  }
  // Discovery data for loaders (one line per model: name, element type,
  // dim, latent dim, context dim); not part of the C ABI.
  os << "NF_API const char nf_library_manifest[] =";
  for (const ModelInfo &m : models)
    os << "\n  \"" << m.name << " " << (m.isF64 ? "f64" : "f32") << " " << m.dim
       << " " << m.latentDim << " " << m.contextDim << "\\n\"";
  os << ";\n";
}

/// Writes `text` to `path`.
LogicalResult writeFile(StringRef path,
                        llvm::function_ref<void(raw_ostream &)> fn) {
  std::string error;
  std::unique_ptr<ToolOutputFile> file = openOutputFile(path, &error);
  if (!file) {
    errs() << "nf-compile: error: " << error << "\n";
    return failure();
  }
  fn(file->os());
  file->keep();
  return success();
}

/// A host (or --mcpu) target machine at optLevel.
std::unique_ptr<TargetMachine> createTargetMachine(std::string &error) {
  Triple triple(sys::getDefaultTargetTriple());
  const Target *target = TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpu = mcpu == "native" ? sys::getHostCPUName().str() : mcpu;
  SubtargetFeatures features;
  if (mcpu == "native")
    for (auto &feature : sys::getHostCPUFeatures())
      features.AddFeature(feature.first(), feature.second);
  CodeGenOptLevel level = optLevel == 0   ? CodeGenOptLevel::None
                          : optLevel == 1 ? CodeGenOptLevel::Less
                          : optLevel == 2 ? CodeGenOptLevel::Default
                                          : CodeGenOptLevel::Aggressive;
  TargetOptions targetOptions;
  // Fuse multiply-adds (matmul accumulations, affine maps) into FMAs.
  targetOptions.AllowFPOpFusion = FPOpFusion::Fast;
  std::unique_ptr<TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features.getString(), targetOptions, Reloc::PIC_,
      std::nullopt, level));
  if (!machine)
    error = "cannot create a target machine for CPU '" + cpu + "'";
  return machine;
}

/// clang-22 (or the one in LLVM's bin directory).
std::string findClang() {
  for (StringRef name : {"clang-22", "/usr/lib/llvm-22/bin/clang"})
    if (ErrorOr<std::string> path = sys::findProgramByName(name))
      return *path;
  return "";
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  registerAllPasses();
  nf::registerAllNFPasses();
  cl::ParseCommandLineOptions(argc, argv,
                              "nf-compile: nf models to a native library\n");
  if (optLevel > 3)
    return fail("optimization level must be 0 to 3");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  nf::registerAllNFDialects(registry);
  MLIRContext context(registry);

  std::string error;
  std::unique_ptr<MemoryBuffer> input = openInputFile(inputFile, &error);
  if (!input)
    return fail(error);
  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;
  SmallVector<ModelInfo> models = collectModels(*module);
  if (models.empty())
    return fail("'" + inputFile + "' holds no nf.model");

  // Output paths: libmodel.so -> model.h beside it.
  std::string stem = sys::path::stem(inputFile).str();
  std::string output = outputFile;
  if (output.empty())
    output = emit == Emit::SharedLib ? "lib" + stem + ".so"
             : emit == Emit::Header  ? stem + ".h"
             : emit == Emit::Object  ? stem + ".o"
             : emit == Emit::LLVMIR  ? stem + ".ll"
             : emit == Emit::Glue    ? stem + "_glue.c"
                                     : stem + ".llvm.mlir";
  std::string headerStem = sys::path::stem(output).str();
  if (StringRef(headerStem).starts_with("lib"))
    headerStem = headerStem.substr(3);
  SmallString<256> headerPath(sys::path::parent_path(output));
  sys::path::append(headerPath, headerStem + ".h");
  if (emit == Emit::Header)
    headerPath = output;
  std::string guard = "NF_" + StringRef(headerStem).upper() + "_H";
  for (char &c : guard)
    if (!isAlnum(c))
      c = '_';
  if (emit == Emit::Header || emit == Emit::SharedLib)
    if (failed(writeFile(headerPath, [&](raw_ostream &os) {
          writeHeader(os, guard, models);
        })))
      return 1;
  if (emit == Emit::Header)
    return 0;
  if (emit == Emit::Glue)
    return failed(
        writeFile(output, [&](raw_ostream &os) { writeGlue(os, models); }));

  mlir::PassManager pm(&context);
  nf::CPUPipelineOptions options;
  options.approximateMath = approximateMath;
  nf::buildCPUPipeline(pm, options);
  if (failed(pm.run(*module)))
    return fail("lowering '" + inputFile + "' failed");
  if (emit == Emit::MLIR)
    return failed(
               writeFile(output, [&](raw_ostream &os) { module->print(os); }))
               ? 1
               : 0;

  LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*module, llvmContext, stem);
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  std::unique_ptr<TargetMachine> machine = createTargetMachine(error);
  if (!machine)
    return fail(error);
  llvmModule->setTargetTriple(machine->getTargetTriple());
  llvmModule->setDataLayout(machine->createDataLayout());
  if (Error err = makeOptimizingTransformer(optLevel, 0,
                                            machine.get())(llvmModule.get()))
    return fail("LLVM optimization failed: " + toString(std::move(err)));
  if (emit == Emit::LLVMIR)
    return failed(writeFile(
               output,
               [&](raw_ostream &os) { llvmModule->print(os, nullptr); }))
               ? 1
               : 0;

  // The kernels' object file.
  SmallString<256> objectPath;
  if (emit == Emit::Object) {
    objectPath = output;
  } else if (std::error_code ec =
                 sys::fs::createTemporaryFile("nf-kernels", "o", objectPath)) {
    return fail("cannot create a temporary file: " + ec.message());
  }
  FileRemover objectRemover(emit == Emit::Object ? "" : objectPath.str());
  {
    std::error_code ec;
    raw_fd_ostream os(objectPath, ec);
    if (ec)
      return fail("cannot write '" + objectPath + "': " + ec.message());
    legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    codegen.run(*llvmModule);
  }
  if (emit == Emit::Object)
    return 0;

  // Glue + kernels + runtime -> shared library.
  SmallString<256> gluePath;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("nf-glue", "c", gluePath))
    return fail("cannot create a temporary file: " + ec.message());
  FileRemover glueRemover(gluePath);
  if (failed(
          writeFile(gluePath, [&](raw_ostream &os) { writeGlue(os, models); })))
    return 1;
  std::string clang = findClang();
  if (clang.empty())
    return fail("clang-22 not found (install clang-22)");
  SmallString<256> libDir(sys::path::parent_path(sys::path::parent_path(
      sys::fs::getMainExecutable(argv[0], (void *)&fail))));
  sys::path::append(libDir, "lib");
  SmallString<256> runtime(libDir);
  sys::path::append(runtime, "libnf_runtime.a");
  if (!sys::fs::exists(runtime))
    return fail("runtime library '" + runtime + "' not found");
  std::string include = ("-I" + libDir).str();
  SmallVector<StringRef> args = {
      clang,      "-shared",  "-fPIC",    "-O2",    "-fvisibility=hidden",
      include,    "-x",       "c",        gluePath, "-x",
      "none",     objectPath, runtime,    "-o",     output,
      "-lstdc++", "-lm",      "-lpthread"};
  std::string linkError;
  int rc = sys::ExecuteAndWait(clang, args, std::nullopt, {}, 0, 0, &linkError);
  if (rc != 0)
    return fail("linking '" + output + "' failed" +
                (linkError.empty() ? "" : ": " + linkError));
  return 0;
}
