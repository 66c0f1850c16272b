//===- ObjectEmitter.cpp - LLVM dialect to a host object file -------------===//

#include "nf/Target/ObjectEmitter.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;
using llvm::createStringError;

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
mlir::nf::createHostTargetMachine(StringRef cpu, unsigned optLevel) {
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return createStringError(error);
  bool native = cpu == "native";
  std::string cpuName = native ? llvm::sys::getHostCPUName().str() : cpu.str();
  llvm::SubtargetFeatures features;
  if (native)
    for (auto &feature : llvm::sys::getHostCPUFeatures())
      features.AddFeature(feature.first(), feature.second);
  llvm::CodeGenOptLevel level = optLevel == 0   ? llvm::CodeGenOptLevel::None
                                : optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                : optLevel == 2
                                    ? llvm::CodeGenOptLevel::Default
                                    : llvm::CodeGenOptLevel::Aggressive;
  llvm::TargetOptions options;
  // Fuse multiply-adds (matmul accumulations, affine maps) into FMAs.
  options.AllowFPOpFusion = llvm::FPOpFusion::Fast;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpuName, features.getString(), options, llvm::Reloc::PIC_,
      std::nullopt, level));
  if (!machine)
    return createStringError("cannot create a target machine for CPU '" +
                             cpuName + "'");
  return machine;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
mlir::nf::translateAndOptimize(ModuleOp module, llvm::LLVMContext &context,
                               llvm::TargetMachine &machine, unsigned optLevel,
                               StringRef name) {
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context, name);
  if (!llvmModule)
    return createStringError("translation to LLVM IR failed");
  llvmModule->setTargetTriple(machine.getTargetTriple());
  llvmModule->setDataLayout(machine.createDataLayout());
  if (llvm::Error err =
          makeOptimizingTransformer(optLevel, 0, &machine)(llvmModule.get()))
    return createStringError("LLVM optimization failed: " +
                             llvm::toString(std::move(err)));
  return llvmModule;
}

llvm::Error mlir::nf::emitObjectFile(llvm::Module &module,
                                     llvm::TargetMachine &machine,
                                     StringRef path) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return createStringError("cannot write '" + path + "': " + ec.message());
  llvm::legacy::PassManager codegen;
  if (machine.addPassesToEmitFile(codegen, os, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
    return createStringError("the target cannot emit object files");
  codegen.run(module);
  return llvm::Error::success();
}
