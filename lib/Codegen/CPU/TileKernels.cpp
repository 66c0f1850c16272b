//===- TileKernels.cpp - Kernels as loops over static row tiles -----------===//
//
// A kernel's rows are independent, so the kernel is a loop over tiles of TM
// rows of a `<kernel>_tile` function whose row counts are static. The tile
// function is the kernel's body with its row arrays replaced: reads become
// static tensors cast to the dynamic types the body was built with, and
// canonicalization then propagates the static shapes through every op.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/PatternMatch.h"

#include <unistd.h>

namespace mlir::nf {
#define GEN_PASS_DEF_NFTILEKERNELSPASS
#include "nf/Codegen/CPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;

namespace {

/// `type` with `rows` rows and the layout of a row range of a row-major
/// array: static strides, dynamic offset.
MemRefType getTileType(MemRefType type, int64_t rows) {
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = rows;
  SmallVector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (int64_t i = shape.size() - 1; i >= 0; --i) {
    strides[i] = stride;
    if (i > 0)
      stride *= shape[i];
  }
  return MemRefType::get(
      shape, type.getElementType(),
      StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic, strides));
}

/// Whether `fn` is a kernel this pass tiles: public, with the C interface,
/// every argument a row array (identity layout, dynamic rows, static row
/// shape) used only to read it, write it or ask its row count.
bool isTileableKernel(func::FuncOp fn) {
  if (fn.isDeclaration() || fn.isPrivate() ||
      !fn->hasAttr("llvm.emit_c_interface") || fn.getNumArguments() == 0 ||
      fn.getNumResults() != 0)
    return false;
  for (BlockArgument arg : fn.getArguments()) {
    auto type = dyn_cast<MemRefType>(arg.getType());
    if (!type || !type.getLayout().isIdentity() || type.getRank() < 1 ||
        !type.isDynamicDim(0) ||
        llvm::any_of(type.getShape().drop_front(), ShapedType::isDynamic))
      return false;
    for (Operation *user : arg.getUsers()) {
      if (auto dim = dyn_cast<memref::DimOp>(user)) {
        std::optional<int64_t> index = dim.getConstantIndex();
        if (!index || *index != 0)
          return false;
        continue;
      }
      auto write = dyn_cast<bufferization::MaterializeInDestinationOp>(user);
      if (!isa<bufferization::ToTensorOp>(user) &&
          !(write && write.getDest() == arg))
        return false;
    }
  }
  return true;
}

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

/// The default tile: the largest power of two in [8, 256] rows whose three
/// widest intermediates fit in half the L2 cache.
int64_t chooseTileRows(func::FuncOp fn, Type elementType) {
  int64_t bytesPerRow =
      3 * getWidestRow(fn) * elementType.getIntOrFloatBitWidth() / 8;
  int64_t budget = getL2CacheSize() / 2;
  int64_t rows = 256;
  while (rows > 8 && rows * bytesPerRow > budget)
    rows /= 2;
  return rows;
}

/// Moves the body of `kernel` into a new private `<kernel>_tile` function on
/// tiles of `rows` rows and returns it.
func::FuncOp createTileFunction(func::FuncOp kernel, int64_t rows,
                                RewriterBase &rewriter) {
  Location loc = kernel.getLoc();
  SmallVector<Type> tileTypes;
  for (Type type : kernel.getArgumentTypes())
    tileTypes.push_back(getTileType(cast<MemRefType>(type), rows));
  rewriter.setInsertionPointAfter(kernel);
  auto tile = func::FuncOp::create(
      rewriter, loc, (kernel.getSymName() + "_tile").str(),
      rewriter.getFunctionType(tileTypes, {}));
  tile.setPrivate();
  rewriter.inlineRegionBefore(kernel.getBody(), tile.getBody(),
                              tile.getBody().end());
  Block &entry = tile.getBody().front();
  unsigned numOld = entry.getNumArguments();
  for (auto [i, tileType] : llvm::enumerate(tileTypes)) {
    auto type = cast<MemRefType>(tileType);
    BlockArgument old = entry.getArgument(i);
    BlockArgument arg = entry.addArgument(type, old.getLoc());
    for (Operation *user : llvm::make_early_inc_range(old.getUsers())) {
      rewriter.setInsertionPoint(user);
      Location userLoc = user->getLoc();
      if (isa<memref::DimOp>(user)) {
        rewriter.replaceOpWithNewOp<arith::ConstantIndexOp>(user, rows);
      } else if (auto read = dyn_cast<bufferization::ToTensorOp>(user)) {
        auto staticType = RankedTensorType::get(
            type.getShape(), type.getElementType());
        Value tensor = bufferization::ToTensorOp::create(
            rewriter, userLoc, staticType, arg, read.getRestrictAttr(),
            read.getWritableAttr());
        rewriter.replaceOpWithNewOp<tensor::CastOp>(read, read.getType(),
                                                    tensor);
      } else {
        auto write = cast<bufferization::MaterializeInDestinationOp>(user);
        Value value = tensor::CastOp::create(
            rewriter, userLoc,
            RankedTensorType::get(type.getShape(), type.getElementType()),
            write.getSource());
        bufferization::MaterializeInDestinationOp::create(
            rewriter, userLoc, TypeRange{}, value, arg, write.getRestrict(),
            write.getWritable());
        rewriter.eraseOp(write);
      }
    }
  }
  entry.eraseArguments(0, numOld);
  return tile;
}

/// Rows [offset, offset + size) of a row array.
Value getRows(OpBuilder &b, Location loc, Value array, OpFoldResult offset,
              OpFoldResult size) {
  auto type = cast<MemRefType>(array.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = {size};
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  offsets[0] = offset;
  for (int64_t d : type.getShape().drop_front())
    sizes.push_back(b.getIndexAttr(d));
  return memref::SubViewOp::create(b, loc, array, offsets, sizes, strides);
}

/// Gives `kernel` (now bodiless) a body calling `tile` on each full tile of
/// `rows` rows, then on a zero-padded copy of the last partial tile.
void buildTileLoop(func::FuncOp kernel, func::FuncOp tile, int64_t rows,
                   RewriterBase &rewriter) {
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
  scf::ForOp::create(
      rewriter, loc, zero, full, tileRows, ValueRange{},
      [&](OpBuilder &b, Location nloc, Value row, ValueRange) {
        SmallVector<Value> tileArgs;
        for (auto [arg, type] : llvm::zip(args, tile.getArgumentTypes()))
          tileArgs.push_back(memref::CastOp::create(
              b, nloc, type,
              getRows(b, nloc, arg, row, b.getIndexAttr(rows))));
        func::CallOp::create(b, nloc, tile, tileArgs);
        scf::YieldOp::create(b, nloc);
      });

  Value rest = arith::SubIOp::create(rewriter, loc, n, full);
  Value partial = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ugt,
                                        rest, zero);
  scf::IfOp::create(
      rewriter, loc, partial, [&](OpBuilder &b, Location nloc) {
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
          tileArgs.push_back(memref::CastOp::create(
              b, nloc, tile.getArgumentTypes()[i], buffer));
        }
        func::CallOp::create(b, nloc, tile, tileArgs);
        for (auto [i, arg] : llvm::enumerate(args))
          if (isOutput[i])
            memref::CopyOp::create(b, nloc,
                                   getRows(b, nloc, buffers[i], zero, rest),
                                   getRows(b, nloc, arg, full, rest));
        scf::YieldOp::create(b, nloc);
      });
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
      int64_t rows =
          tileRows > 0 ? int64_t(tileRows) : chooseTileRows(kernel, elementType);
      func::FuncOp tile = createTileFunction(kernel, rows, rewriter);
      buildTileLoop(kernel, tile, rows, rewriter);
    }
  }
};

} // namespace
