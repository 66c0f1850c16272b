//===- CInterface.h - C header, glue and manifest of a library --*- C++ -*-===//
//
// Writes the C side of a compiled library from the ABI table
// (EntryPoints.h): the public header, the glue that defines every entry on
// top of the runtime (nf_runtime.h) and the kernels, and the manifest string
// that loaders read. Registered as nf-translate's `--nf-emit-c-header` and
// `--nf-emit-c-glue`.
//
//===----------------------------------------------------------------------===//

#ifndef NF_TARGET_CINTERFACE_H
#define NF_TARGET_CINTERFACE_H

#include "nf/Dialect/NF/IR/NFInterfaces.h"
#include "nf/Target/EntryPoints.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::nf {

/// What the C interface of one model depends on; read off the model before
/// the pipeline turns it into kernels.
struct ModelInterface {
  std::string name;
  int64_t dim, latentDim, contextDim;
  bool isF64;
  BaseNoise noise;
  /// Uniform layer-noise values per row of the normalizing and the
  /// generative kernels.
  int64_t forwardNoise, inverseNoise;
  Exactness exactness;
  /// Paths of the IWAE estimate that is log_prob for inexact models.
  int64_t iwaePaths;
};

/// The interfaces of every nf.model of `module`, in order.
SmallVector<ModelInterface> collectModelInterfaces(ModuleOp module);

/// What a library is compiled for, besides its models.
struct LibraryTarget {
  /// TargetBits.
  unsigned targets = abi::kCPU;
  /// The CPU of the kernels and the features of CPUFeatures.h it enables,
  /// comma-separated, which the runtime checks before the first kernel
  /// runs (empty: nothing recorded or checked).
  std::string cpu, cpuFeatures;
  /// With the CUDA target: the device code the glue embeds.
  std::string ptx;
};

/// The C header declaring every entry of `models`, guarded by `guard`.
void emitCHeader(raw_ostream &os, StringRef guard,
                 ArrayRef<ModelInterface> models,
                 const LibraryTarget &target = {});

/// The C glue: a runtime descriptor and kernel wrappers per model, the
/// definition of every entry, and the manifest.
void emitCGlue(raw_ostream &os, ArrayRef<ModelInterface> models,
               const LibraryTarget &target = {});

/// The manifest the library exports as `nf_library_manifest`:
///
///   nf-manifest 1
///   model <name> <f32|f64> <dim> <latent_dim> <context_dim> <exactness>
///         <iwae_paths>
///   entry <model> <entry> <int|int64> <arg>... # <summary>
///
/// one `model` line per model followed by one `entry` line per entry, each
/// argument `<role>:<name>[:<width>]` in C order with role rows, n, k, seed,
/// layer_seed, ctx, out or stream and width dim, latent_dim, context_dim or
/// 1. Only the entries of `targets` are listed.
std::string getManifest(ArrayRef<ModelInterface> models,
                        unsigned targets = abi::kCPU);

/// The include guard for a header named `<stem>.h`.
std::string getHeaderGuard(StringRef stem);

/// Registers the `--nf-emit-c-header` and `--nf-emit-c-glue` translations.
void registerCInterfaceTranslations();

} // namespace mlir::nf

#endif // NF_TARGET_CINTERFACE_H
