//===- Passes.h - Passes of the nf dialect ----------------------*- C++ -*-===//

#ifndef NF_DIALECT_NF_TRANSFORMS_PASSES_H
#define NF_DIALECT_NF_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nf {

#define GEN_PASS_DECL
#include "nf/Dialect/NF/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nf/Dialect/NF/Transforms/Passes.h.inc"

} // namespace mlir::nf

#endif // NF_DIALECT_NF_TRANSFORMS_PASSES_H
