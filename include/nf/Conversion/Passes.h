//===- Passes.h - nf conversion passes --------------------------*- C++ -*-===//

#ifndef NF_CONVERSION_PASSES_H
#define NF_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nf {

#define GEN_PASS_DECL
#include "nf/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nf/Conversion/Passes.h.inc"

} // namespace mlir::nf

#endif // NF_CONVERSION_PASSES_H
