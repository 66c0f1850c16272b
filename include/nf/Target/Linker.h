//===- Linker.h - Link a compiled model library -----------------*- C++ -*-===//
//
// Links the generated C glue, the kernels' object files and the nf runtime
// into a shared library, in-process: Clang's frontend and lld as libraries.
//
//===----------------------------------------------------------------------===//

#ifndef NF_TARGET_LINKER_H
#define NF_TARGET_LINKER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace mlir::nf {

/// Compiles `gluePath` (C) and links it with `objectPaths` and the runtime
/// (`libnf_runtime.a` and `nf_runtime.h` in `runtimeDir`) into the shared
/// library `output`.
llvm::Error linkSharedLibrary(llvm::StringRef gluePath,
                              llvm::ArrayRef<std::string> objectPaths,
                              llvm::StringRef runtimeDir,
                              llvm::StringRef output);

} // namespace mlir::nf

#endif // NF_TARGET_LINKER_H
