//===- NFDialect.cpp - The nf dialect -------------------------------------===//

#include "nf/Dialect/NF/IR/NFDialect.h"

#include "mlir/IR/DialectImplementation.h"
#include "nf/Dialect/NF/IR/NFAttrs.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nf;

#include "nf/Dialect/NF/IR/NFAttrInterfaces.cpp.inc"
#include "nf/Dialect/NF/IR/NFDialect.cpp.inc"
#include "nf/Dialect/NF/IR/NFEnums.cpp.inc"
#include "nf/Dialect/NF/IR/NFOpInterfaces.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "nf/Dialect/NF/IR/NFAttrs.cpp.inc"

void NFDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "nf/Dialect/NF/IR/NFOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "nf/Dialect/NF/IR/NFAttrs.cpp.inc"
      >();
}
