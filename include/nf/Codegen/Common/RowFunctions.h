//===- RowFunctions.h - Kernels on static blocks of rows --------*- C++ -*-===//
//
// A kernel's rows are independent. Every target runs a kernel as a function
// on a static number of rows: the CPU on tiles of TM rows and single rows
// (nf-tile-kernels), the GPU on one row per thread (nf-gpu-map-rows). These
// helpers make such a function from a kernel and give it static shapes.
//
//===----------------------------------------------------------------------===//

#ifndef NF_CODEGEN_COMMON_ROWFUNCTIONS_H
#define NF_CODEGEN_COMMON_ROWFUNCTIONS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nf {

/// Whether `fn` is a kernel or kernel body that runs on any block of its
/// rows: public with the C interface or marked `nf.kernel_body`, every
/// argument a row array (identity layout, dynamic rows, static row shape)
/// used only to read it, write it or ask its row count.
bool isTileableKernel(func::FuncOp fn);

/// Creates a private `<kernel><suffix>` function on blocks of `rows` rows
/// with the body of `kernel`, moved (`move`) or copied, marked
/// `nf.tile_rows`, and returns it. Its arguments are row ranges of
/// row-major arrays (static strides, dynamic offset).
func::FuncOp createTileFunction(func::FuncOp kernel, int64_t rows,
                                StringRef suffix, bool move,
                                RewriterBase &rewriter);

/// Rows [offset, offset + size) of a row array.
Value getRows(OpBuilder &b, Location loc, Value array, OpFoldResult offset,
              OpFoldResult size);

/// Calls `fn`, a function from createTileFunction, on rows [offset, offset +
/// rows) of the row arrays `arrays`.
void callOnRows(OpBuilder &b, Location loc, func::FuncOp fn, ValueRange arrays,
                Value offset, int64_t rows);

/// Canonicalizes the functions marked `nf.tile_rows` with loop-carried
/// types refined, so that their static row count reaches every op.
void propagateStaticShapes(ModuleOp module);

} // namespace mlir::nf

#endif // NF_CODEGEN_COMMON_ROWFUNCTIONS_H
