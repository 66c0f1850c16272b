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
/// transformer's parameters for every feature, and that it is
/// autoregressive (verifyAutoregressiveStructure); `layout` describes the
/// parameters in the error.
LogicalResult verifyAutoregressiveConditioner(ConditionedLayerOpInterface op,
                                              SymbolTableCollection &table,
                                              StringRef layout);

/// For an nf.mlp conditioner with constant weights: that the zero pattern
/// of the weights lets the features be solved one by one (in some order,
/// each after those its parameters depend on), else a located error. The
/// compiler inverts MAF/IAF layers feature by feature and trusts nothing
/// else about the conditioner.
LogicalResult verifyAutoregressiveStructure(ConditionedLayerOpInterface op);

/// The layer's map (`inverse` false) or inverse on `in`, with V at x in both
/// directions; `inverted` for IAF layers. `context` and `params` are the
/// op's remapped operands.
LayerValues buildAutoregressiveLayer(ConditionedLayerOpInterface op,
                                     bool inverted, OpBuilder &b, Value context,
                                     ValueRange params, Value in, bool inverse,
                                     bool withLogDet);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_AUTOREGRESSIVEOPS_H
