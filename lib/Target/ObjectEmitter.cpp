//===- ObjectEmitter.cpp - LLVM dialect to a host object file -------------===//

#include "nf/Target/ObjectEmitter.h"

#include "nf/Target/CPUFeatures.h"

#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Transforms/Utils/Cloning.h"

#include <mutex>

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
  if (cpuName.empty())
    cpuName = triple.getArch() == llvm::Triple::x86_64 ? abi::kBaselineX86CPU
                                                       : "generic";
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

/// Whether `machine` generates code for `feature` (an LLVM name), given
/// explicitly or by its CPU.
static bool hasFeature(const llvm::TargetMachine &machine, StringRef feature) {
  std::string flag = ("+" + feature).str();
  const llvm::MCSubtargetInfo *info = machine.getMCSubtargetInfo();
  return llvm::is_contained(llvm::split(machine.getTargetFeatureString(), ','),
                            flag) ||
         (info && info->checkFeatures(flag));
}

std::string
mlir::nf::getRequiredCPUFeatures(const llvm::TargetMachine &machine) {
  std::string features;
  if (machine.getTargetTriple().getArch() != llvm::Triple::x86_64)
    return features;
  for (const abi::CPUFeature &feature : abi::kX86Features)
    if (hasFeature(machine, feature.name))
      features += (features.empty() ? "" : ",") + std::string(feature.name);
  return features;
}

int64_t mlir::nf::getVectorBits(const llvm::TargetMachine &machine) {
  if (hasFeature(machine, "avx512f"))
    return 512;
  if (hasFeature(machine, "avx"))
    return 256;
  return 128;
}

/// LLVM's default pipeline at `optLevel`, without the SLP vectorizer and loop
/// unrolling: the kernels are register-blocked and vectorized at the MLIR
/// level, and on their vector code SLP vectorization is slow and gains
/// nothing, unrolling grows the code and slows it down (measured). The loop
/// vectorizer stays for the loops MLIR left scalar.
static void optimize(llvm::Module &module, llvm::TargetMachine &machine,
                     unsigned optLevel) {
  llvm::PipelineTuningOptions tuning;
  tuning.SLPVectorization = false;
  tuning.LoopVectorization = optLevel > 1;
  tuning.LoopUnrolling = false;
  llvm::PassBuilder builder(&machine, tuning);
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  llvm::OptimizationLevel level = optLevel == 0   ? llvm::OptimizationLevel::O0
                                  : optLevel == 1 ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager pipeline =
      optLevel == 0 ? builder.buildO0DefaultPipeline(level)
                    : builder.buildPerModuleDefaultPipeline(level);
  pipeline.run(module, modules);
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
  optimize(*llvmModule, machine, optLevel);
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

/// Splits `module` into `parts` modules (bitcode, so that each can load in
/// its own context): local symbols become hidden external ones so that parts
/// can reference each other, every function definition goes to the part with
/// the fewest instructions so far (largest first), and every global variable
/// to the part of its first user.
static SmallVector<SmallVector<char>> splitModule(llvm::Module &module,
                                                  unsigned parts) {
  for (llvm::GlobalValue &value : module.global_values()) {
    if (value.isDeclaration() || !value.hasLocalLinkage())
      continue;
    value.setLinkage(llvm::GlobalValue::ExternalLinkage);
    value.setVisibility(llvm::GlobalValue::HiddenVisibility);
  }
  SmallVector<llvm::Function *> functions;
  for (llvm::Function &fn : module)
    if (!fn.isDeclaration())
      functions.push_back(&fn);
  llvm::stable_sort(functions, [](llvm::Function *a, llvm::Function *b) {
    return a->getInstructionCount() > b->getInstructionCount();
  });
  llvm::DenseMap<const llvm::GlobalValue *, unsigned> owner;
  SmallVector<uint64_t> sizes(parts, 0);
  for (llvm::Function *fn : functions) {
    unsigned part = llvm::min_element(sizes) - sizes.begin();
    owner[fn] = part;
    sizes[part] += fn->getInstructionCount();
  }
  for (llvm::GlobalVariable &global : module.globals()) {
    unsigned part = 0;
    for (const llvm::User *user : global.users())
      if (auto *inst = dyn_cast<llvm::Instruction>(user)) {
        part = owner.lookup(inst->getFunction());
        break;
      }
    owner[&global] = part;
  }
  SmallVector<SmallVector<char>> bitcode(parts);
  for (unsigned part = 0; part < parts; ++part) {
    llvm::ValueToValueMapTy map;
    std::unique_ptr<llvm::Module> clone =
        llvm::CloneModule(module, map, [&](const llvm::GlobalValue *value) {
          auto it = owner.find(value);
          return it != owner.end() && it->second == part;
        });
    llvm::raw_svector_ostream os(bitcode[part]);
    llvm::WriteBitcodeToFile(*clone, os);
  }
  return bitcode;
}

llvm::Error mlir::nf::emitObjectFilesInParallel(ModuleOp module, StringRef cpu,
                                                unsigned optLevel,
                                                StringRef name,
                                                ArrayRef<std::string> paths) {
  SmallVector<SmallVector<char>> parts;
  {
    llvm::LLVMContext context;
    std::unique_ptr<llvm::Module> llvmModule =
        translateModuleToLLVMIR(module, context, name);
    if (!llvmModule)
      return createStringError("translation to LLVM IR failed");
    parts = splitModule(*llvmModule, paths.size());
  }
  std::mutex errorMutex;
  llvm::Error error = llvm::Error::success();
  auto compile = [&](unsigned part) -> llvm::Error {
    auto machine = createHostTargetMachine(cpu, optLevel);
    if (!machine)
      return machine.takeError();
    llvm::LLVMContext context;
    auto loaded = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(StringRef(parts[part].data(), parts[part].size()),
                              name),
        context);
    if (!loaded)
      return loaded.takeError();
    llvm::Module &partModule = **loaded;
    partModule.setTargetTriple((*machine)->getTargetTriple());
    partModule.setDataLayout((*machine)->createDataLayout());
    optimize(partModule, **machine, optLevel);
    return emitObjectFile(partModule, **machine, paths[part]);
  };
  llvm::DefaultThreadPool pool(llvm::hardware_concurrency(paths.size()));
  for (unsigned part = 0; part < paths.size(); ++part)
    pool.async([&, part] {
      if (llvm::Error partError = compile(part)) {
        std::lock_guard<std::mutex> lock(errorMutex);
        error = llvm::joinErrors(std::move(error), std::move(partError));
      }
    });
  pool.wait();
  return error;
}
