//===- NFOps.h - Operations of the nf dialect -------------------*- C++ -*-===//

#ifndef NF_DIALECT_NF_IR_NFOPS_H
#define NF_DIALECT_NF_IR_NFOPS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "nf/Dialect/NF/IR/Conditioned.h"
#include "nf/Dialect/NF/IR/NFAttrs.h"
#include "nf/Dialect/NF/IR/NFDialect.h"
#include "nf/Dialect/NF/IR/NFInterfaces.h"
#include "nf/Dialect/NF/IR/SplineOps.h"

namespace mlir::nf {
/// `tensor<?x...xT>`: rank >= 2, T = f32 or f64, static event dimensions.
bool isBatchTensorType(Type type);
/// Statically shaped tensor of f32 or f64.
bool isParamTensorType(Type type);
/// Ranked tensor of f32 or f64.
bool isFloatTensorType(Type type);
/// Values per sample of a batch tensor type: the product of its event
/// dimensions.
int64_t getEventSize(Type type);
} // namespace mlir::nf

#define GET_OP_CLASSES
#include "nf/Dialect/NF/IR/NFOps.h.inc"

#endif // NF_DIALECT_NF_IR_NFOPS_H
