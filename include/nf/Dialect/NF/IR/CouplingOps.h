//===- CouplingOps.h - Members shared by coupling layers --------*- C++ -*-===//
//
// The verifiers and builders every coupling op (NF_CouplingOp in ODS) is
// defined with; CouplingOps.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_COUPLINGOPS_H
#define NF_DIALECT_NF_IR_COUPLINGOPS_H

#include "nf/Dialect/NF/IR/NFInterfaces.h"

#include "mlir/IR/SymbolTable.h"

namespace mlir::nf {

/// The features not in `identity`, in increasing order.
SmallVector<int64_t>
getCouplingTransformedFeatures(ConditionedLayerOpInterface op,
                               ArrayRef<int64_t> identity);

/// Checks that `identity` is a strictly increasing, non-empty proper subset
/// of the features, and the context.
LogicalResult verifyCouplingLayer(ConditionedLayerOpInterface op,
                                  ArrayRef<int64_t> identity);

/// Checks that the conditioner maps (x_A [, context], params...) to the
/// transformer's parameters for every feature of B; `layout` describes
/// them in the error.
LogicalResult verifyCouplingConditioner(ConditionedLayerOpInterface op,
                                        ArrayRef<int64_t> identity,
                                        SymbolTableCollection &table,
                                        StringRef layout);

/// Builds the coupling map (or its inverse) on `in`: x for the normalizing
/// direction, z for the generative one; `context` and `params` are the
/// op's remapped operands. x_A = z_A, so both directions evaluate the
/// conditioner on the same values.
LayerValues buildCouplingLayer(ConditionedLayerOpInterface op,
                               ArrayRef<int64_t> identity, OpBuilder &b,
                               Value context, ValueRange params, Value in,
                               bool inverse, bool withLogDet);

} // namespace mlir::nf

#endif // NF_DIALECT_NF_IR_COUPLINGOPS_H
