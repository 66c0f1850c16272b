//===- NFDialect.h - The nf dialect -----------------------------*- C++ -*-===//

#ifndef NF_DIALECT_NF_IR_NFDIALECT_H
#define NF_DIALECT_NF_IR_NFDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "nf/Dialect/NF/IR/NFDialect.h.inc"

#endif // NF_DIALECT_NF_IR_NFDIALECT_H
