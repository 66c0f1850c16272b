//===- Passes.h - nf conversion passes --------------------------*- C++ -*-===//

#ifndef NF_CONVERSION_PASSES_H
#define NF_CONVERSION_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nf {

#define GEN_PASS_DECL
#include "nf/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nf/Conversion/Passes.h.inc"

} // namespace mlir::nf

#endif // NF_CONVERSION_PASSES_H
