//===- CInterface.cpp - C header, glue and manifest of a library ----------===//
//
// Every function here walks the ABI table (EntryPoints.h); none names an
// entry.
//
//===----------------------------------------------------------------------===//

#include "nf/Target/CInterface.h"

#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFDialect.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Target/EntryPoints.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::nf;
using namespace mlir::nf::abi;

SmallVector<ModelInterface> mlir::nf::collectModelInterfaces(ModuleOp module) {
  SmallVector<ModelInterface> models;
  for (ModelOp model : module.getOps<ModelOp>()) {
    BlockArgument context = model.getConditioningContext();
    models.push_back({model.getSymName().str(),
                      getEventSize(model.getDataType()),
                      getEventSize(model.getLatent().getType()),
                      context ? getEventSize(context.getType()) : 0,
                      model.getDataType().getElementType().isF64(),
                      model.getBase().getNoise(),
                      getModelNoiseSize(model, /*inverse=*/false),
                      getModelNoiseSize(model, /*inverse=*/true),
                      model.getExactness(), model.getNumIwaePaths()});
  }
  return models;
}

std::string mlir::nf::getHeaderGuard(StringRef stem) {
  std::string guard = "NF_" + stem.upper() + "_H";
  for (char &c : guard)
    if (!llvm::isAlnum(c))
      c = '_';
  return guard;
}

namespace {

/// A model's value of `width`.
int64_t getWidth(const ModelInterface &m, Width width) {
  switch (width) {
  case Width::Dim:
    return m.dim;
  case Width::LatentDim:
    return m.latentDim;
  case Width::ContextDim:
    return m.contextDim;
  case Width::One:
    return 1;
  }
  llvm_unreachable("unknown width");
}

StringRef getElementCType(const ModelInterface &m) {
  return m.isF64 ? "double" : "float";
}

/// The C declaration of `param`.
std::string getParamDecl(const ModelInterface &m, const Param &param) {
  std::string T = getElementCType(m).str();
  switch (param.arg) {
  case Arg::InputRows:
  case Arg::Context:
    return "const " + T + " *" + param.name;
  case Arg::OutputRows:
    return T + " *" + param.name;
  case Arg::Count:
  case Arg::Paths:
  case Arg::FirstRow:
    return std::string("int64_t ") + param.name;
  case Arg::Seed:
  case Arg::LayerSeed:
    return std::string("uint64_t ") + param.name;
  case Arg::Stream:
    return std::string("void *") + param.name;
  }
  llvm_unreachable("unknown argument role");
}

ArrayRef<Param> getParams(const Entry &entry) {
  return ArrayRef<Param>(entry.params, entry.numParams);
}

/// The entry's first parameter with a role in `roles`, or null.
const Param *findParam(const Entry &entry, std::initializer_list<Arg> roles) {
  for (const Param &param : getParams(entry))
    if (llvm::is_contained(roles, param.arg))
      return &param;
  return nullptr;
}

/// `int nf_M_entry(args...)`, with `prefix` (visibility) in front.
void emitSignature(raw_ostream &os, const ModelInterface &m, const Entry &entry,
                   StringRef prefix) {
  os << prefix << (entry.returnsStatus() ? "int " : "int64_t ")
     << getEntrySymbol(m.name, entry.name) << "(";
  if (entry.numParams == 0)
    os << "void";
  llvm::interleaveComma(getParams(entry), os, [&](const Param &param) {
    os << getParamDecl(m, param);
  });
  os << ")";
}

void emitModelComment(raw_ostream &os, const ModelInterface &m) {
  os << "\n/* Model @" << m.name << ": " << getElementCType(m) << " data of "
     << m.dim << " values, latent of " << m.latentDim << ", context of "
     << m.contextDim << ". */\n";
}

StringRef getInputCode(Input input) {
  switch (input) {
  case Input::Data:
    return "NFRT_INPUT_DATA";
  case Input::Latent:
    return "NFRT_INPUT_LATENT";
  case Input::Noise:
    return "NFRT_INPUT_NOISE";
  }
  llvm_unreachable("unknown input");
}

/// `name` of `param`, or `fallback` when the entry has no such parameter.
std::string nameOr(const Param *param, StringRef fallback) {
  return param ? param->name : fallback.str();
}

/// One run of the entry's kernel: nfrt_run(model, kernel, input kind, in, n,
/// seed, ctx, row output, its width, per-row output, whether there is one).
std::string getRunCall(const ModelInterface &m, const Entry &entry,
                       bool seeded) {
  const Kernel &kernel = getKernel(entry.kernel);
  const Param *rowOut = nullptr, *perRowOut = nullptr;
  for (const Param &param : getParams(entry))
    if (param.arg == Arg::OutputRows)
      (param.width == Width::One ? perRowOut : rowOut) = &param;
  std::string call;
  llvm::raw_string_ostream os(call);
  const Param *firstRow = findParam(entry, {Arg::FirstRow});
  os << (firstRow ? "nfrt_run_rows(&" : "nfrt_run(&")
     << getGlueModelSymbol(m.name) << ", "
     << getGlueKernelSymbol(m.name, kernel.name) << ", "
     << getInputCode(kernel.input) << ", "
     << nameOr(findParam(entry, {Arg::InputRows}), "0") << ", "
     << (firstRow ? firstRow->name + std::string(", ") : "") << "n, "
     << (seeded ? nameOr(findParam(entry, {Arg::Seed, Arg::LayerSeed}), "0")
                : "0")
     << ", ctx, " << nameOr(rowOut, "0") << ", "
     << (rowOut ? getWidth(m, rowOut->width) : 0) << ", "
     << nameOr(perRowOut, "0") << ", " << (perRowOut ? 1 : 0) << ")";
  return call;
}

/// The importance-weighted estimate over `paths` paths of the entry's kernel.
std::string getEstimateCall(const ModelInterface &m, const Entry &entry,
                            StringRef paths, StringRef seed) {
  const Kernel &kernel = getKernel(entry.kernel);
  const Param *firstRow = findParam(entry, {Arg::FirstRow});
  return ((firstRow ? "nfrt_iwae_rows(&" : "nfrt_iwae(&") +
          getGlueModelSymbol(m.name) + ", " +
          getGlueKernelSymbol(m.name, kernel.name) + ", " +
          nameOr(findParam(entry, {Arg::InputRows}), "0") + ", " +
          (firstRow ? firstRow->name + std::string(", ") : "") + "n, " + paths +
          ", " + seed + ", ctx, " +
          nameOr(findParam(entry, {Arg::OutputRows}), "0") + ")")
      .str();
}

/// The glue's file-local descriptor of the library's PTX.
constexpr const char *kCUDAModuleSymbol = "nf_cuda_module";

/// The entry's kernel on the GPU: nfrt_cuda_run(model, PTX, body,
/// base_from_noise, input kind, in, first row, n, seed, ctx, mapped,
/// log-det, log-prob, stream), each output the entry's parameter or NULL
/// (scratch).
std::string getDeviceRunCall(const ModelInterface &m, const Entry &entry) {
  const Kernel &kernel = getKernel(entry.kernel);
  std::string outputs[3] = {"0", "0", "0"}; // mapped, log-det, log-prob
  int next = 0;
  for (const Param &param : getParams(entry)) {
    if (param.arg != Arg::OutputRows)
      continue;
    outputs[static_cast<int>(kernel.outputs[next++])] = param.name;
  }
  std::string baseFromNoise =
      kernel.input == Input::Noise
          ? "\"" + getKernelSymbol(m.name, kBaseFromNoise) + "\""
          : "0";
  std::string call;
  llvm::raw_string_ostream os(call);
  os << "nfrt_cuda_run(&" << getGlueModelSymbol(m.name) << ", &"
     << kCUDAModuleSymbol << ", \""
     << getKernelSymbol(m.name, getBody(kernel).name) << "\", " << baseFromNoise
     << ", " << getInputCode(kernel.input) << ", "
     << nameOr(findParam(entry, {Arg::InputRows}), "0") << ", "
     << nameOr(findParam(entry, {Arg::FirstRow}), "0") << ", "
     << nameOr(findParam(entry, {Arg::Count}), "n") << ", "
     << nameOr(findParam(entry, {Arg::Seed, Arg::LayerSeed}), "0") << ", "
     << nameOr(findParam(entry, {Arg::Context}), "0") << ", " << outputs[0]
     << ", " << outputs[1] << ", " << outputs[2] << ", "
     << nameOr(findParam(entry, {Arg::Stream}), "0") << ")";
  return call;
}

/// The importance-weighted estimate over `paths` paths on the GPU:
/// nfrt_cuda_iwae(model, PTX, normalize body, x, first row, n, k, seed,
/// ctx, out, stream).
std::string getDeviceEstimateCall(const ModelInterface &m, const Entry &entry,
                                  StringRef paths, StringRef seed) {
  return ("nfrt_cuda_iwae(&" + getGlueModelSymbol(m.name) + ", &" +
          kCUDAModuleSymbol + ", \"" +
          getKernelSymbol(m.name, getBody(getKernel(entry.kernel)).name) +
          "\", " + nameOr(findParam(entry, {Arg::InputRows}), "0") + ", " +
          nameOr(findParam(entry, {Arg::FirstRow}), "0") + ", n, " + paths +
          ", " + seed + ", " + nameOr(findParam(entry, {Arg::Context}), "0") +
          ", " + nameOr(findParam(entry, {Arg::OutputRows}), "0") + ", " +
          nameOr(findParam(entry, {Arg::Stream}), "0") + ")")
      .str();
}

/// The statement that implements `entry` for model `m`.
std::string getEntryBody(const ModelInterface &m, const Entry &entry) {
  std::string paths = nameOr(findParam(entry, {Arg::Paths}), "1");
  std::string seed = nameOr(findParam(entry, {Arg::Seed}), "0");
  std::string modelPaths = std::to_string(m.iwaePaths);
  bool exact = m.exactness == Exactness::Exact;
  switch (entry.impl) {
  case Impl::Constant:
    return "return " + std::to_string(getWidth(m, entry.value)) + ";";
  case Impl::Run:
    return "return " + getRunCall(m, entry, /*seeded=*/true) + ";";
  case Impl::Estimate:
    return "return " + getEstimateCall(m, entry, paths, seed) + ";";
  case Impl::Density:
    if (exact)
      return "return " + getRunCall(m, entry, /*seeded=*/false) + ";";
    return "return " + getEstimateCall(m, entry, modelPaths, "0") + ";";
  case Impl::DeviceRun:
    return "return " + getDeviceRunCall(m, entry) + ";";
  case Impl::DeviceEstimate:
    return "return " + getDeviceEstimateCall(m, entry, paths, seed) + ";";
  case Impl::DeviceDensity:
    if (exact)
      return "return " + getDeviceRunCall(m, entry) + ";";
    return "return " + getDeviceEstimateCall(m, entry, modelPaths, "0") + ";";
  }
  llvm_unreachable("unknown entry implementation");
}

/// The kernel's C-interface declaration and the wrapper with the runtime's
/// uniform kernel signature (in, ctx, noise, row output, per-row output).
void emitKernelWrapper(raw_ostream &os, const ModelInterface &m,
                       const Kernel &kernel) {
  std::string symbol = "_mlir_ciface_" + getKernelSymbol(m.name, kernel.name);
  SmallVector<std::pair<StringRef, StringRef>> args = {{"nfrt_memref2", "in"}};
  if (m.contextDim > 0)
    args.push_back({"nfrt_memref2", "ctx"});
  if ((kernel.isGenerative() ? m.inverseNoise : m.forwardNoise) > 0)
    args.push_back({"nfrt_memref2", "noise"});
  for (int i = 0; i < kernel.numOutputs; ++i)
    args.push_back(isRowOutput(kernel.outputs[i])
                       ? std::make_pair("nfrt_memref2", "out2")
                       : std::make_pair("nfrt_memref1", "out1"));
  os << "void " << symbol << "(";
  llvm::interleaveComma(args, os, [&](auto arg) { os << arg.first << " *"; });
  os << ");\n";
  os << "static void " << getGlueKernelSymbol(m.name, kernel.name)
     << "(nfrt_memref2 *in, nfrt_memref2 *ctx, nfrt_memref2 *noise, "
        "nfrt_memref2 *out2, nfrt_memref1 *out1) {\n  (void)ctx; "
        "(void)noise; (void)out2; (void)out1;\n  "
     << symbol << "(";
  llvm::interleaveComma(args, os, [&](auto arg) { os << arg.second; });
  os << ");\n}\n";
}

StringRef getRoleName(Arg arg) {
  switch (arg) {
  case Arg::InputRows:
    return "rows";
  case Arg::Count:
    return "n";
  case Arg::Paths:
    return "k";
  case Arg::Seed:
    return "seed";
  case Arg::LayerSeed:
    return "layer_seed";
  case Arg::Context:
    return "ctx";
  case Arg::OutputRows:
    return "out";
  case Arg::Stream:
    return "stream";
  case Arg::FirstRow:
    return "first_row";
  }
  llvm_unreachable("unknown argument role");
}

StringRef getWidthName(Width width) {
  switch (width) {
  case Width::Dim:
    return "dim";
  case Width::LatentDim:
    return "latent_dim";
  case Width::ContextDim:
    return "context_dim";
  case Width::One:
    return "1";
  }
  llvm_unreachable("unknown width");
}

/// The entries of a library compiled for `targets`.
SmallVector<const Entry *> getEntries(unsigned targets) {
  SmallVector<const Entry *> entries;
  for (const Entry &entry : kEntries)
    if (entry.targets & targets)
      entries.push_back(&entry);
  return entries;
}

/// The library-level functions of CUDA libraries, as `{return type, name,
/// parameters, runtime call}`.
struct LibraryFunction {
  const char *result, *name, *params, *body, *summary;
};
constexpr LibraryFunction kLibraryFunctions[] = {
    {"const char *", kLastErrorSymbol, "void",
     "return nfrt_last_error_message();",
     "The calling thread's last error message (\"\" if none)."},
};
constexpr LibraryFunction kCUDALibraryFunctions[] = {
    {"int", kDeviceAllocSymbol, "void **d_ptr, int64_t bytes",
     "return nfrt_cuda_malloc(d_ptr, bytes);",
     "Device memory on the current (or device 0's primary) context."},
    {"int", kDeviceFreeSymbol, "void *d_ptr", "return nfrt_cuda_free(d_ptr);",
     "Frees memory from nf_cuda_malloc."},
    {"int", kDeviceCopySymbol,
     "void *dst, const void *src, int64_t bytes, int kind",
     "return nfrt_cuda_memcpy(dst, src, bytes, kind);",
     "Synchronous copy; kind 0: host to device, 1: device to host."},
};

/// Whether an argument of this role is an array with a width.
bool isArray(Arg arg) {
  return arg == Arg::InputRows || arg == Arg::Context || arg == Arg::OutputRows;
}

} // namespace

/// The declarations of `functions`.
static void emitDeclarations(raw_ostream &os,
                             ArrayRef<LibraryFunction> functions) {
  for (const LibraryFunction &fn : functions)
    os << "/* " << fn.summary << " */\n"
       << fn.result << (StringRef(fn.result).ends_with("*") ? "" : " ")
       << fn.name << "(" << fn.params << ");\n";
}

/// The definitions of `functions`.
static void emitDefinitions(raw_ostream &os,
                            ArrayRef<LibraryFunction> functions) {
  for (const LibraryFunction &fn : functions)
    os << "NF_API " << fn.result
       << (StringRef(fn.result).ends_with("*") ? "" : " ") << fn.name << "("
       << fn.params << ") {\n  " << fn.body << "\n}\n";
}

void mlir::nf::emitCHeader(raw_ostream &os, StringRef guard,
                           ArrayRef<ModelInterface> models,
                           const LibraryTarget &target) {
  unsigned targets = target.targets;
  os << "/* Generated by nf-compile. The C ABI of compiled nf models: arrays\n"
        "   are row-major, n rows of the stated width; ctx may be NULL for\n"
        "   models without context. Functions return 0 on success, 1 for an\n"
        "   invalid argument (n < 0, k < 1, first_row < 0), 2 for a NULL\n"
        "   pointer where data is needed, 3 when out of memory. They are\n"
        "   reentrant. */\n";
  os << "#ifndef " << guard << "\n#define " << guard << "\n\n";
  os << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n";
  if ((targets & kCPU) && !target.cpu.empty())
    os << "\n/* CPU entries: compiled for CPU " << target.cpu << " ("
       << (target.cpuFeatures.empty() ? "no checked features"
                                      : target.cpuFeatures)
       << "); on a CPU\n   without these they return 7 and " << kLastErrorSymbol
       << "() names the missing ones. */\n";
  os << "\n";
  emitDeclarations(os, kLibraryFunctions);
  if (targets & kCUDA) {
    os << "\n/* CUDA: device entries return 4 without a driver or GPU, 5 when "
          "a driver\n   call fails, 6 for what the target lacks; "
       << kLastErrorSymbol << "() says why. */\n";
    emitDeclarations(os, kCUDALibraryFunctions);
  }
  for (const ModelInterface &m : models) {
    emitModelComment(os, m);
    for (const Entry *entry : getEntries(targets)) {
      os << "/* " << entry->summary << " */\n";
      emitSignature(os, m, *entry, "");
      os << ";\n";
    }
  }
  os << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
}

/// `text` as a C string literal, a line per source line.
static void emitStringLiteral(raw_ostream &os, StringRef text) {
  SmallVector<StringRef> lines;
  text.split(lines, '\n', -1, /*KeepEmpty=*/false);
  for (StringRef line : lines) {
    os << "\n  \"";
    os.write_escaped(line);
    os << "\\n\"";
  }
}

void mlir::nf::emitCGlue(raw_ostream &os, ArrayRef<ModelInterface> models,
                         const LibraryTarget &target) {
  unsigned targets = target.targets;
  os << "/* C ABI glue generated by nf-compile. */\n"
        "#include \"nf_runtime.h\"\n"
        "#define NF_API __attribute__((visibility(\"default\")))\n";
  emitDefinitions(os, kLibraryFunctions);
  if (targets & kCUDA) {
    os << "static const char nf_cuda_ptx[] =";
    emitStringLiteral(os, target.ptx);
    os << ";\nstatic const nfrt_cuda_module " << kCUDAModuleSymbol
       << " = {nf_cuda_ptx};\n";
    emitDefinitions(os, kCUDALibraryFunctions);
  }
  bool checkCPU = (targets & kCPU) && !target.cpuFeatures.empty();
  if (checkCPU) {
    os << "static const char nf_cpu_features[] = \"";
    os.write_escaped(target.cpuFeatures);
    os << "\";\n";
  }
  for (const ModelInterface &m : models) {
    if (targets & kCPU)
      for (const Kernel &kernel : kKernels)
        emitKernelWrapper(os, m, kernel);
    os << "static const nfrt_model " << getGlueModelSymbol(m.name) << " = {"
       << m.dim << ", " << m.latentDim << ", " << m.contextDim << ", "
       << (m.isF64 ? 8 : 4) << ", "
       << (m.noise == BaseNoise::UnitUniform ? "NFRT_NOISE_UNIFORM"
                                             : "NFRT_NOISE_NORMAL")
       << ", " << m.forwardNoise << ", " << m.inverseNoise << ", "
       << (checkCPU ? "nf_cpu_features" : "0") << "};\n";
    emitModelComment(os, m);
    for (const Entry *entry : getEntries(targets)) {
      emitSignature(os, m, *entry, "NF_API ");
      os << " {\n  " << getEntryBody(m, *entry) << "\n}\n";
    }
  }
  // The manifest as one C string literal, a line per source line.
  os << "NF_API const char " << kManifestSymbol << "[] =";
  emitStringLiteral(os, getManifest(models, targets));
  os << ";\n";
}

std::string mlir::nf::getManifest(ArrayRef<ModelInterface> models,
                                  unsigned targets) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "nf-manifest 1\n";
  for (const ModelInterface &m : models) {
    os << "model " << m.name << " " << (m.isF64 ? "f64" : "f32") << " " << m.dim
       << " " << m.latentDim << " " << m.contextDim << " "
       << stringifyExactness(m.exactness) << " " << m.iwaePaths << "\n";
    for (const Entry *entry : getEntries(targets)) {
      os << "entry " << m.name << " " << entry->name << " "
         << (entry->returnsStatus() ? "int" : "int64");
      for (const Param &param : getParams(*entry)) {
        os << " " << getRoleName(param.arg) << ":" << param.name;
        if (isArray(param.arg))
          os << ":" << getWidthName(param.width);
      }
      os << " # " << entry->summary << "\n";
    }
  }
  return text;
}

//===----------------------------------------------------------------------===//
// Translations
//===----------------------------------------------------------------------===//

/// The stem of the file `module` was read from, or "model".
static std::string getSourceStem(ModuleOp module) {
  if (auto loc = dyn_cast<FileLineColLoc>(module.getLoc()))
    return llvm::sys::path::stem(loc.getFilename().getValue()).str();
  return "model";
}

static void registerInputDialects(DialectRegistry &registry) {
  registry.insert<NFDialect, arith::ArithDialect, func::FuncDialect,
                  linalg::LinalgDialect, math::MathDialect,
                  tensor::TensorDialect>();
}

void mlir::nf::registerCInterfaceTranslations() {
  TranslateFromMLIRRegistration header(
      "nf-emit-c-header", "C header of the nf models' compiled library",
      [](ModuleOp module, raw_ostream &os) {
        emitCHeader(os, getHeaderGuard(getSourceStem(module)),
                    collectModelInterfaces(module));
        return success();
      },
      registerInputDialects);
  TranslateFromMLIRRegistration glue(
      "nf-emit-c-glue", "C glue between the nf models' ABI and their kernels",
      [](ModuleOp module, raw_ostream &os) {
        emitCGlue(os, collectModelInterfaces(module));
        return success();
      },
      registerInputDialects);
}
