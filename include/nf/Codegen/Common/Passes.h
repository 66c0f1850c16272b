//===- Passes.h - Target-independent codegen passes -------------*- C++ -*-===//

#ifndef NF_CODEGEN_COMMON_PASSES_H
#define NF_CODEGEN_COMMON_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nf {

#define GEN_PASS_DECL
#include "nf/Codegen/Common/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nf/Codegen/Common/Passes.h.inc"

} // namespace mlir::nf

#endif // NF_CODEGEN_COMMON_PASSES_H
