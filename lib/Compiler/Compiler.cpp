//===- Compiler.cpp - nf models to a native library -----------------------===//

#include "nf/Compiler/Compiler.h"

#include "nf/Pipelines/Pipelines.h"
#include "nf/Target/CInterface.h"
#include "nf/Target/Linker.h"
#include "nf/Target/ObjectEmitter.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
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

llvm::Error mlir::nf::compileModels(ModuleOp module, StringRef inputName,
                                    const CompilerOptions &options,
                                    const CompilerOutputs &outputs,
                                    TimingScope &timing) {
  if (options.optLevel > 3)
    return createStringError("optimization level must be 0 to 3");
  SmallVector<ModelInterface> models = collectModelInterfaces(module);
  if (models.empty())
    return createStringError("'" + inputName + "' holds no nf.model");
  EmitKind emit = options.emit;

  // The C side comes from the models, before they become kernels.
  if (emit == EmitKind::Header || emit == EmitKind::SharedLibrary)
    if (llvm::Error err = writeFile(outputs.header, [&](raw_ostream &os) {
          emitCHeader(os, outputs.headerGuard, models);
        }))
      return err;
  if (emit == EmitKind::Header)
    return llvm::Error::success();
  auto writeGlue = [&](StringRef path) {
    return writeFile(path, [&](raw_ostream &os) { emitCGlue(os, models); });
  };
  if (emit == EmitKind::Glue)
    return writeGlue(outputs.output);

  auto machine = createHostTargetMachine(options.cpu, options.optLevel);
  if (!machine)
    return machine.takeError();
  PassManager pm(module.getContext());
  CPUPipelineOptions pipeline;
  pipeline.approximateMath = options.approximateMath;
  pipeline.tileRows = options.tileRows;
  pipeline.fuseLayers = options.fuseLayers;
  pipeline.incrementalInverse = options.incrementalInverse;
  pipeline.vectorBits = getVectorBits(**machine);
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
        translateAndOptimize(module, llvmContext, **machine, options.optLevel,
                             llvm::sys::path::stem(inputName));
    translation.stop();
    if (!llvmModule)
      return llvmModule.takeError();
    if (emit == EmitKind::Object)
      return emitObjectFile(**llvmModule, **machine, outputs.output);
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
  llvm::FileRemover glueRemover;
  auto gluePath = createTemporary("nf-glue", "c", glueRemover);
  if (!gluePath)
    return gluePath.takeError();
  if (llvm::Error err = writeGlue(*gluePath))
    return err;
  TimingScope linking = timing.nest("glue compile and link");
  return linkSharedLibrary(*gluePath, objectPaths, options.runtimeDir,
                           outputs.output);
}
