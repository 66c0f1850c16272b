//===- TileKernels.cpp - Kernels as loops over static row tiles -----------===//
//
// A kernel's rows are independent, so the kernel is a loop over tiles of TM
// rows of a `<kernel>_tile` function whose row counts are static. The tile
// function is the kernel's body with its row arrays replaced: reads become
// static tensors cast to the dynamic types the body was built with, and
// canonicalization (with loop-carried types refined) then propagates the
// static shapes through every op.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/CPU/Passes.h"
#include "nf/Codegen/Common/RowFunctions.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/PatternMatch.h"

#include <unistd.h>

namespace mlir::nf {
#define GEN_PASS_DEF_NFTILEKERNELSPASS
#include "nf/Codegen/CPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// Values per row of the widest tensor the kernel computes.
int64_t getWidestRow(func::FuncOp fn) {
  int64_t widest = 1;
  fn.walk([&](Operation *op) {
    for (Type type : op->getResultTypes()) {
      auto tensor = dyn_cast<RankedTensorType>(type);
      if (!tensor || tensor.getRank() < 2 || !tensor.isDynamicDim(0))
        continue;
      int64_t row = 1;
      for (int64_t d : tensor.getShape().drop_front())
        row *= ShapedType::isDynamic(d) ? 1 : d;
      widest = std::max(widest, row);
    }
  });
  return widest;
}

/// The host's L2 cache per core in bytes (1 MiB if unknown).
int64_t getL2CacheSize() {
#ifdef _SC_LEVEL2_CACHE_SIZE
  long size = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (size > 0)
    return size;
#endif
  return 1 << 20;
}

/// The default tile: the largest power of two in [8, 128] rows whose three
/// widest intermediates fit in half the L2 cache.
int64_t chooseTileRows(func::FuncOp fn, Type elementType) {
  int64_t bytesPerRow =
      3 * getWidestRow(fn) * elementType.getIntOrFloatBitWidth() / 8;
  int64_t budget = getL2CacheSize() / 2;
  int64_t rows = 128;
  while (rows > 8 && rows * bytesPerRow > budget)
    rows /= 2;
  return rows;
}

/// A call of the one-row function costs about as much time as this many
/// rows of a tile (vectors along a row's features instead of along rows):
/// fewer remaining rows than a tile's share of them run row by row.
constexpr int64_t kRowsPerRowCall = 8;

/// Gives `kernel` (now bodiless) a body calling `tile` on each full tile of
/// `rows` rows, then on the rest: `row` on each row if they are few (a
/// batch of one costs one row), else `tile` on a zero-padded copy.
void buildTileLoop(func::FuncOp kernel, func::FuncOp tile, func::FuncOp row,
                   int64_t rows, RewriterBase &rewriter) {
  Location loc = kernel.getLoc();
  Block *entry = rewriter.createBlock(&kernel.getBody());
  for (Type type : kernel.getArgumentTypes())
    entry->addArgument(type, loc);
  rewriter.setInsertionPointToEnd(entry);
  ValueRange args = entry->getArguments();
  // Which arrays the tile function writes.
  SmallVector<bool> isOutput;
  for (BlockArgument arg : tile.getArguments())
    isOutput.push_back(llvm::any_of(arg.getUsers(), [&](Operation *user) {
      return isa<bufferization::MaterializeInDestinationOp>(user);
    }));

  Value n = memref::DimOp::create(rewriter, loc, args[0], 0);
  Value tileRows = arith::ConstantIndexOp::create(rewriter, loc, rows);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value full = arith::MulIOp::create(
      rewriter, loc, arith::DivUIOp::create(rewriter, loc, n, tileRows),
      tileRows);
  scf::ForOp::create(rewriter, loc, zero, full, tileRows, ValueRange{},
                     [&](OpBuilder &b, Location nloc, Value row, ValueRange) {
                       callOnRows(b, nloc, tile, args, row, rows);
                       scf::YieldOp::create(b, nloc);
                     });

  Value rest = arith::SubIOp::create(rewriter, loc, n, full);
  // A row costs about as much as kRowsPerRowCall rows of a tile.
  Value fewRows = arith::CmpIOp::create(
      rewriter, loc, arith::CmpIPredicate::ult,
      arith::MulIOp::create(
          rewriter, loc, rest,
          arith::ConstantIndexOp::create(rewriter, loc, kRowsPerRowCall)),
      tileRows);
  auto byRows = scf::IfOp::create(rewriter, loc, TypeRange{}, fewRows,
                                  /*withElseRegion=*/true);
  rewriter.setInsertionPointToStart(byRows.thenBlock());
  scf::ForOp::create(
      rewriter, loc, full, n, arith::ConstantIndexOp::create(rewriter, loc, 1),
      ValueRange{}, [&](OpBuilder &b, Location nloc, Value r, ValueRange) {
        callOnRows(b, nloc, row, args, r, 1);
        scf::YieldOp::create(b, nloc);
      });
  rewriter.setInsertionPointToStart(byRows.elseBlock());
  Value partial = arith::CmpIOp::create(rewriter, loc,
                                        arith::CmpIPredicate::ugt, rest, zero);
  scf::IfOp::create(rewriter, loc, partial, [&](OpBuilder &b, Location nloc) {
    SmallVector<Value> buffers, tileArgs;
    for (auto [i, arg] : llvm::enumerate(args)) {
      auto type = cast<MemRefType>(arg.getType());
      SmallVector<int64_t> shape(type.getShape());
      shape[0] = rows;
      Value buffer = memref::AllocOp::create(
          b, nloc, MemRefType::get(shape, type.getElementType()));
      if (!isOutput[i]) {
        // Padding rows are computed and dropped; zeros keep them finite
        // for most layers, and any value is harmless.
        Value pad = arith::ConstantOp::create(
            b, nloc, b.getZeroAttr(type.getElementType()));
        linalg::FillOp::create(b, nloc, pad, buffer);
        memref::CopyOp::create(b, nloc, getRows(b, nloc, arg, full, rest),
                               getRows(b, nloc, buffer, zero, rest));
      }
      buffers.push_back(buffer);
      tileArgs.push_back(
          memref::CastOp::create(b, nloc, tile.getArgumentTypes()[i], buffer));
    }
    func::CallOp::create(b, nloc, tile, tileArgs);
    for (auto [i, arg] : llvm::enumerate(args))
      if (isOutput[i])
        memref::CopyOp::create(b, nloc,
                               getRows(b, nloc, buffers[i], zero, rest),
                               getRows(b, nloc, arg, full, rest));
    scf::YieldOp::create(b, nloc);
  });
  rewriter.setInsertionPointAfter(byRows);
  func::ReturnOp::create(rewriter, loc);
}

struct NFTileKernelsPass
    : public nf::impl::NFTileKernelsPassBase<NFTileKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<func::FuncOp> kernels;
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (isTileableKernel(fn))
        kernels.push_back(fn);
    IRRewriter rewriter(&getContext());
    for (func::FuncOp kernel : kernels) {
      Type elementType =
          cast<MemRefType>(kernel.getArgumentTypes().front()).getElementType();
      int64_t rows = tileRows > 0 ? int64_t(tileRows)
                                  : chooseTileRows(kernel, elementType);
      func::FuncOp row =
          createTileFunction(kernel, 1, "_row", /*move=*/false, rewriter);
      func::FuncOp tile =
          createTileFunction(kernel, rows, "_tile", /*move=*/true, rewriter);
      buildTileLoop(kernel, tile, row, rows, rewriter);
    }
    propagateStaticShapes(getOperation());
  }
};

} // namespace
