//===- AutoregressiveOps.h - Members shared by MAF/IAF layers ---*- C++ -*-===//
//
// The verifiers and builders every autoregressive op (NF_AutoregressiveOp in
// ODS) is defined with; AutoregressiveOps.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_AUTOREGRESSIVEOPS_H
#define NF_DIALECT_NF_IR_AUTOREGRESSIVEOPS_H

#include "nf/Dialect/NF/IR/NFInterfaces.h"

#include "mlir/IR/SymbolTable.h"

namespace mlir::nf {

/// Checks that the data is `tensor<?xDxT>`, and the context.
LogicalResult verifyAutoregressiveLayer(ConditionedLayerOpInterface op);

/// Checks that the conditioner maps (x [, context], params...) to the
/// transformer's parameters for every feature; `layout` describes them in
/// the error.
LogicalResult verifyAutoregressiveConditioner(ConditionedLayerOpInterface op,
                                              SymbolTableCollection &table,
                                              StringRef layout);

/// The layer's map (`inverse` false) or inverse on `in`, with V at x in both
/// directions; `inverted` for IAF layers. `context` and `params` are the
/// op's remapped operands.
LayerValues buildAutoregressiveLayer(ConditionedLayerOpInterface op,
                                     bool inverted, OpBuilder &b, Value context,
                                     ValueRange params, Value in, bool inverse,
                                     bool withLogDet);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_AUTOREGRESSIVEOPS_H
