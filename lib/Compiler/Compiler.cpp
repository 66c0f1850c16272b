//===- Compiler.cpp - nf models to a native library -----------------------===//

#include "nf/Compiler/Compiler.h"

#include "nf/Dialect/NF/Transforms/Passes.h"
#include "nf/Pipelines/Pipelines.h"
#include "nf/Target/CInterface.h"
#include "nf/Target/EntryPoints.h"
#include "nf/Target/Linker.h"
#include "nf/Target/ObjectEmitter.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CrashRecoveryContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/ToolOutputFile.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::nf;
using llvm::createStringError;

CompilerOutputs mlir::nf::getCompilerOutputs(StringRef inputFile,
                                             StringRef output, EmitKind emit) {
  std::string stem = llvm::sys::path::stem(inputFile).str();
  CompilerOutputs outputs;
  outputs.output = output.str();
  if (output.empty()) {
    switch (emit) {
    case EmitKind::SharedLibrary:
      outputs.output = "lib" + stem + ".so";
      break;
    case EmitKind::Header:
      outputs.output = stem + ".h";
      break;
    case EmitKind::Object:
      outputs.output = stem + ".o";
      break;
    case EmitKind::LLVMIR:
      outputs.output = stem + ".ll";
      break;
    case EmitKind::Glue:
      outputs.output = stem + "_glue.c";
      break;
    case EmitKind::MLIR:
      outputs.output = stem + ".llvm.mlir";
      break;
    case EmitKind::PTX:
      outputs.output = stem + ".ptx";
      break;
    }
  }
  // libmodel.so -> model.h beside it.
  StringRef headerStem = llvm::sys::path::stem(outputs.output);
  headerStem.consume_front("lib");
  llvm::SmallString<256> header(llvm::sys::path::parent_path(outputs.output));
  llvm::sys::path::append(header, headerStem + ".h");
  outputs.header = emit == EmitKind::Header ? outputs.output : header.str();
  outputs.headerGuard = getHeaderGuard(headerStem);
  return outputs;
}

/// Where the nesting of (), [] and {} outside strings and comments first
/// exceeds `limit` in `text`, if it does.
static std::optional<const char *> findExcessiveNesting(StringRef text,
                                                        unsigned limit) {
  unsigned depth = 0;
  for (const char *p = text.begin(), *end = text.end(); p < end; ++p) {
    switch (*p) {
    case '"':
      for (++p; p < end && *p != '"'; ++p)
        if (*p == '\\')
          ++p;
      break;
    case '/':
      if (p + 1 < end && p[1] == '/')
        while (p < end && *p != '\n')
          ++p;
      break;
    case '(':
    case '[':
    case '{':
      if (++depth > limit)
        return p;
      break;
    case ')':
    case ']':
    case '}':
      if (depth > 0)
        --depth;
      break;
    default:
      break;
    }
  }
  return std::nullopt;
}

OwningOpRef<ModuleOp> mlir::nf::parseModelSource(llvm::SourceMgr &sourceMgr,
                                                 MLIRContext *context) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  if (std::optional<const char *> deep =
          findExcessiveNesting(buffer->getBuffer(), kMaxInputNesting)) {
    auto [line, column] =
        sourceMgr.getLineAndColumn(llvm::SMLoc::getFromPointer(*deep));
    emitError(FileLineColLoc::get(context, buffer->getBufferIdentifier(), line,
                                  column))
        << "brackets nested deeper than " << kMaxInputNesting << " levels";
    return nullptr;
  }
  // Some upstream parsers crash on malformed input after reporting it (e.g.
  // linalg.broadcast's on a bad `dimensions` list, found by nf-fuzz-ir): a
  // crash while parsing becomes an error.
  llvm::CrashRecoveryContext::Enable();
  llvm::CrashRecoveryContext recovery;
  OwningOpRef<ModuleOp> module;
  if (!recovery.RunSafely(
          [&] { module = parseSourceFile<ModuleOp>(sourceMgr, context); })) {
    (void)module.release(); // Half built: leaked, never touched again.
    emitError(FileLineColLoc::get(context, buffer->getBufferIdentifier(), 0, 0))
        << "MLIR's parser crashed on this input (an upstream bug, after "
           "the errors above if any): the input is malformed";
    return nullptr;
  }
  return module;
}

/// Writes what `write` prints to `path`.
static llvm::Error writeFile(StringRef path,
                             llvm::function_ref<void(raw_ostream &)> write) {
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> file = openOutputFile(path, &error);
  if (!file)
    return createStringError(error);
  write(file->os());
  file->keep();
  return llvm::Error::success();
}

/// A temporary file `prefix-*.suffix`, removed with `remover`.
static llvm::Expected<std::string> createTemporary(StringRef prefix,
                                                   StringRef suffix,
                                                   llvm::FileRemover &remover) {
  llvm::SmallString<256> path;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile(prefix, suffix, path))
    return createStringError("cannot create a temporary file: " + ec.message());
  remover.setFile(path);
  return path.str().str();
}

/// Functions PTX may declare without defining: the driver's system calls.
static constexpr const char *kPTXSystemCalls[] = {"malloc", "free", "vprintf"};

/// An error naming the functions `ptx` calls but neither defines nor gets
/// from the driver (libdevice's `__nv_*` without a CUDA toolkit).
static llvm::Error checkPTXExterns(StringRef ptx) {
  SmallVector<std::string> missing;
  SmallVector<StringRef> lines;
  ptx.split(lines, '\n');
  for (StringRef line : lines) {
    line = line.trim();
    if (!line.consume_front(".extern .func"))
      continue;
    // `.extern .func (.param ...) name(` or `.extern .func name(`.
    line = line.trim();
    if (line.starts_with("("))
      line = line.drop_until([](char c) { return c == ')'; }).drop_front();
    StringRef name = line.trim().take_until(
        [](char c) { return c == '(' || c == ';' || llvm::isSpace(c); });
    if (!llvm::is_contained(kPTXSystemCalls, name))
      missing.push_back(name.str());
  }
  if (missing.empty())
    return llvm::Error::success();
  return createStringError(
      "the PTX calls " + llvm::join(missing, ", ") +
      ", which the CUDA driver does not provide: f64 transcendentals need "
      "libdevice from a CUDA toolkit (--cuda-toolkit=<dir>)");
}

/// Whether `dir` is a CUDA toolkit with libdevice.
static bool hasLibdevice(StringRef dir) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "nvvm", "libdevice", "libdevice.10.bc");
  return !dir.empty() && llvm::sys::fs::exists(path);
}

/// The CUDA toolkit whose libdevice the PTX links, or "" for none. A toolkit
/// named by `--cuda-toolkit` must have libdevice; one named by CUDA_ROOT,
/// CUDA_HOME or CUDA_PATH is taken as is (a toolkit without libdevice is
/// the user's choice). Otherwise, as clang does: the toolkit of the `ptxas`
/// on PATH (through symbolic links), then /usr/local/cuda.
static llvm::Expected<std::string> findCUDAToolkit(StringRef requested) {
  if (!requested.empty()) {
    if (!hasLibdevice(requested))
      return createStringError("--cuda-toolkit=" + requested +
                               ": no nvvm/libdevice/libdevice.10.bc there");
    return requested.str();
  }
  for (const char *variable : {"CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"})
    if (const char *dir = std::getenv(variable))
      return hasLibdevice(dir) ? std::string(dir) : std::string();
  SmallVector<std::string> candidates;
  if (llvm::ErrorOr<std::string> ptxas =
          llvm::sys::findProgramByName("ptxas")) {
    llvm::SmallString<256> real;
    if (!llvm::sys::fs::real_path(*ptxas, real))
      candidates.push_back(
          llvm::sys::path::parent_path(llvm::sys::path::parent_path(real))
              .str());
  }
  candidates.push_back("/usr/local/cuda");
  for (const std::string &dir : candidates)
    if (hasLibdevice(dir))
      return dir;
  return std::string();
}

/// The device code of the CUDA target: the kernels on tensors in `module`
/// (left unchanged) through nf-cuda-pipeline, as PTX text.
static llvm::Expected<std::string>
compileForCUDA(ModuleOp module, StringRef inputName,
               const CompilerOptions &options, TimingScope &timing) {
  OwningOpRef<ModuleOp> device = cast<ModuleOp>(module->clone());
  PassManager pm(module.getContext());
  CUDAPipelineOptions pipeline;
  pipeline.gpuArch = options.gpuArch;
  pipeline.sharedMemoryBytes = options.gpuSharedMemoryBytes;
  llvm::Expected<std::string> toolkit = findCUDAToolkit(options.cudaToolkit);
  if (!toolkit)
    return toolkit.takeError();
  pipeline.cudaToolkit = *toolkit;
  pipeline.fuseLayers = options.fuseLayers;
  pipeline.incrementalInverse = options.incrementalInverse;
  buildCUDAPipeline(pm, pipeline);
  {
    TimingScope scope = timing.nest("CUDA pipeline (to PTX)");
    pm.enableTiming(scope);
    if (failed(pm.run(*device)))
      return createStringError("lowering '" + inputName +
                               "' for the CUDA target failed");
  }
  std::string ptx;
  device->walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
        ptx += object.getObject().getValue();
  });
  if (ptx.empty())
    return createStringError("the CUDA pipeline produced no PTX");
  if (llvm::Error err = checkPTXExterns(ptx))
    return std::move(err);
  return ptx;
}

static llvm::Error compile(ModuleOp module, StringRef inputName,
                           const CompilerOptions &options,
                           const CompilerOutputs &outputs, TimingScope &timing);

llvm::Error mlir::nf::compileModels(ModuleOp module, StringRef inputName,
                                    const CompilerOptions &options,
                                    const CompilerOutputs &outputs,
                                    TimingScope &timing) {
  // A library's header is written first; it goes if the library fails, so
  // that a failed compile leaves no partial output.
  llvm::FileRemover header;
  if (options.emit == EmitKind::SharedLibrary)
    header.setFile(outputs.header);
  llvm::Error err = compile(module, inputName, options, outputs, timing);
  if (!err)
    header.releaseFile();
  return err;
}

static llvm::Error compile(ModuleOp module, StringRef inputName,
                           const CompilerOptions &options,
                           const CompilerOutputs &outputs,
                           TimingScope &timing) {
  if (options.optLevel > 3)
    return createStringError("optimization level must be 0 to 3");
  SmallVector<ModelInterface> models = collectModelInterfaces(module);
  if (models.empty())
    return createStringError("'" + inputName + "' holds no nf.model");
  EmitKind emit = options.emit;
  unsigned targets = options.targets;
  bool cpu = targets & abi::kCPU, cuda = targets & abi::kCUDA;
  if (!cpu && !cuda)
    return createStringError("no target: choose cpu, cuda or both");
  if (emit == EmitKind::PTX && !cuda)
    return createStringError("--emit=ptx needs the cuda target");
  if (!cpu && (emit == EmitKind::Object || emit == EmitKind::LLVMIR ||
               emit == EmitKind::MLIR))
    return createStringError("this output is CPU code; add the cpu target");

  // Near-singular constant linear layers: a warning, or an error by option.
  {
    PassManager pm(module.getContext());
    NFCheckConditioningPassOptions conditioning;
    conditioning.error = options.illConditionedError;
    pm.addPass(createNFCheckConditioningPass(conditioning));
    if (failed(pm.run(module)))
      return createStringError("'" + inputName +
                               "' has a near-singular linear layer");
  }

  // The CPU target's machine, and what it needs of the CPU it runs on.
  LibraryTarget library;
  library.targets = targets;
  std::unique_ptr<llvm::TargetMachine> machine;
  if (cpu) {
    auto created = createHostTargetMachine(options.cpu, options.optLevel);
    if (!created)
      return created.takeError();
    machine = std::move(*created);
    library.cpu = machine->getTargetCPU().str();
    library.cpuFeatures = getRequiredCPUFeatures(*machine);
  }

  // The C side comes from the models, before they become kernels.
  if (emit == EmitKind::Header || emit == EmitKind::SharedLibrary)
    if (llvm::Error err = writeFile(outputs.header, [&](raw_ostream &os) {
          emitCHeader(os, outputs.headerGuard, models, library);
        }))
      return err;
  if (emit == EmitKind::Header)
    return llvm::Error::success();

  // The device code, from the kernels on tensors both targets share.
  std::string ptx;
  if (cuda && (emit == EmitKind::SharedLibrary || emit == EmitKind::Glue ||
               emit == EmitKind::PTX)) {
    PassManager pm(module.getContext());
    KernelPipelineOptions kernels;
    kernels.fuseLayers = options.fuseLayers;
    kernels.incrementalInverse = options.incrementalInverse;
    buildKernelPipeline(pm, kernels);
    {
      TimingScope scope = timing.nest("MLIR kernel pipeline");
      pm.enableTiming(scope);
      if (failed(pm.run(module)))
        return createStringError("lowering '" + inputName + "' failed");
    }
    auto compiled = compileForCUDA(module, inputName, options, timing);
    if (!compiled)
      return compiled.takeError();
    library.ptx = std::move(*compiled);
    if (emit == EmitKind::PTX)
      return writeFile(outputs.output,
                       [&](raw_ostream &os) { os << library.ptx; });
  }
  auto writeGlue = [&](StringRef path) {
    return writeFile(path,
                     [&](raw_ostream &os) { emitCGlue(os, models, library); });
  };
  if (emit == EmitKind::Glue)
    return writeGlue(outputs.output);
  // Glue + kernel objects + runtime -> the shared library.
  auto link = [&](ArrayRef<std::string> objectPaths) -> llvm::Error {
    llvm::FileRemover glueRemover;
    auto gluePath = createTemporary("nf-glue", "c", glueRemover);
    if (!gluePath)
      return gluePath.takeError();
    if (llvm::Error err = writeGlue(*gluePath))
      return err;
    TimingScope linking = timing.nest("glue compile and link");
    return linkSharedLibrary(*gluePath, objectPaths, options.runtimeDir,
                             outputs.output);
  };
  if (!cpu)
    return link({});

  PassManager pm(module.getContext());
  CPUPipelineOptions pipeline;
  pipeline.approximateMath = options.approximateMath;
  pipeline.tileRows = options.tileRows;
  pipeline.fuseLayers = options.fuseLayers;
  pipeline.incrementalInverse = options.incrementalInverse;
  pipeline.vectorBits = getVectorBits(*machine);
  // With the CUDA target the kernel pipeline has run already.
  if (cuda && !library.ptx.empty())
    buildCPUCodegenPipeline(pm, pipeline);
  else
    buildCPUPipeline(pm, pipeline);
  {
    TimingScope scope = timing.nest("MLIR pipeline");
    pm.enableTiming(scope);
    if (failed(pm.run(module)))
      return createStringError("lowering '" + inputName + "' failed");
  }
  if (emit == EmitKind::MLIR)
    return writeFile(outputs.output,
                     [&](raw_ostream &os) { module->print(os); });

  if (emit == EmitKind::LLVMIR || emit == EmitKind::Object) {
    llvm::LLVMContext llvmContext;
    TimingScope translation = timing.nest("LLVM translation and optimization");
    auto llvmModule =
        translateAndOptimize(module, llvmContext, *machine, options.optLevel,
                             llvm::sys::path::stem(inputName));
    translation.stop();
    if (!llvmModule)
      return llvmModule.takeError();
    if (emit == EmitKind::Object)
      return emitObjectFile(**llvmModule, *machine, outputs.output);
    return writeFile(outputs.output, [&](raw_ostream &os) {
      (*llvmModule)->print(os, nullptr);
    });
  }

  // Kernels (in parallel parts) + glue + runtime -> the shared library.
  TimingScope codegen =
      timing.nest("LLVM optimization and code generation (parallel)");
  unsigned parts =
      std::clamp(llvm::hardware_concurrency().compute_thread_count(), 1u, 8u);
  SmallVector<std::string> objectPaths;
  std::vector<llvm::FileRemover> objectRemovers(parts);
  for (unsigned part = 0; part < parts; ++part) {
    auto path = createTemporary("nf-kernels", "o", objectRemovers[part]);
    if (!path)
      return path.takeError();
    objectPaths.push_back(*path);
  }
  if (llvm::Error err = emitObjectFilesInParallel(
          module, options.cpu, options.optLevel,
          llvm::sys::path::stem(inputName), objectPaths))
    return err;
  codegen.stop();
  return link(objectPaths);
}
