//===- Passes.h - CPU codegen passes ----------------------------*- C++ -*-===//

#ifndef NF_CODEGEN_CPU_PASSES_H
#define NF_CODEGEN_CPU_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nf {

#define GEN_PASS_DECL
#include "nf/Codegen/CPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nf/Codegen/CPU/Passes.h.inc"

} // namespace mlir::nf

#endif // NF_CODEGEN_CPU_PASSES_H
