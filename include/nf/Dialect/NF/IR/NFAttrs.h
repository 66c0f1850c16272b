//===- NFAttrs.h - Attributes of the nf dialect -----------------*- C++ -*-===//

#ifndef NF_DIALECT_NF_IR_NFATTRS_H
#define NF_DIALECT_NF_IR_NFATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "nf/Dialect/NF/IR/NFInterfaces.h"

#define GET_ATTRDEF_CLASSES
#include "nf/Dialect/NF/IR/NFAttrs.h.inc"

#endif // NF_DIALECT_NF_IR_NFATTRS_H
