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

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

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

/// Whether `fn` is a kernel or kernel body this pass tiles: public with the
/// C interface or marked `nf.kernel_body`, every argument a row array
/// (identity layout, dynamic rows, static row shape) used only to read it,
/// write it or ask its row count.
bool isTileableKernel(func::FuncOp fn) {
  bool kernel = fn.isPublic() && fn->hasAttr("llvm.emit_c_interface");
  if (fn.isDeclaration() || !(kernel || fn->hasAttr("nf.kernel_body")) ||
      fn.getNumArguments() == 0 || fn.getNumResults() != 0)
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

/// Creates a private `<kernel><suffix>` function on tiles of `rows` rows
/// with the body of `kernel`, moved (`move`) or copied, and returns it.
func::FuncOp createTileFunction(func::FuncOp kernel, int64_t rows,
                                StringRef suffix, bool move,
                                RewriterBase &rewriter) {
  Location loc = kernel.getLoc();
  SmallVector<Type> tileTypes;
  for (Type type : kernel.getArgumentTypes())
    tileTypes.push_back(getTileType(cast<MemRefType>(type), rows));
  rewriter.setInsertionPointAfter(kernel);
  auto tile =
      func::FuncOp::create(rewriter, loc, (kernel.getSymName() + suffix).str(),
                           rewriter.getFunctionType(tileTypes, {}));
  tile.setPrivate();
  // Later passes find the tile functions and their row count by this.
  tile->setAttr("nf.tile_rows", rewriter.getI64IntegerAttr(rows));
  if (move)
    rewriter.inlineRegionBefore(kernel.getBody(), tile.getBody(),
                                tile.getBody().end());
  else
    rewriter.cloneRegionBefore(kernel.getBody(), tile.getBody(),
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
        auto staticType =
            RankedTensorType::get(type.getShape(), type.getElementType());
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

/// A call of the one-row function costs about as much time as this many
/// rows of a tile (vectors along a row's features instead of along rows):
/// fewer remaining rows than a tile's share of them run row by row.
constexpr int64_t kRowsPerRowCall = 8;

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
  scf::ForOp::create(
      rewriter, loc, zero, full, tileRows, ValueRange{},
      [&](OpBuilder &b, Location nloc, Value row, ValueRange) {
        SmallVector<Value> tileArgs;
        for (auto [arg, type] : llvm::zip(args, tile.getArgumentTypes()))
          tileArgs.push_back(memref::CastOp::create(
              b, nloc, type, getRows(b, nloc, arg, row, b.getIndexAttr(rows))));
        func::CallOp::create(b, nloc, tile, tileArgs);
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
        SmallVector<Value> rowArgs;
        for (auto [arg, type] : llvm::zip(args, row.getArgumentTypes()))
          rowArgs.push_back(memref::CastOp::create(
              b, nloc, type, getRows(b, nloc, arg, r, b.getIndexAttr(1))));
        func::CallOp::create(b, nloc, row, rowArgs);
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

/// Loop-carried tensors start static in a tile but loops keep the types the
/// kernel was built with: a loop whose init is a cast to a less static type
/// carries the static type instead (casts inside and after the loop, which
/// canonicalization then folds away), so that static shapes propagate
/// through loops too (MAF's sequential inverse, triangular solves).
struct RefineLoopCarriedCasts : public OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rewriter) const override {
    for (OpOperand &init : loop.getInitArgsMutable()) {
      auto cast = init.get().getDefiningOp<tensor::CastOp>();
      if (!cast ||
          !tensor::preservesStaticInformation(cast.getType(),
                                              cast.getSource().getType()) ||
          cast.getType() == cast.getSource().getType())
        continue;
      SmallVector<Value> results = scf::replaceAndCastForOpIterArg(
          rewriter, loop, init, cast.getSource(),
          [](OpBuilder &b, Location loc, Type type, Value value) -> Value {
            return tensor::CastOp::create(b, loc, type, value);
          });
      rewriter.replaceOp(loop, results);
      return success();
    }
    return failure();
  }
};

/// Canonicalizes the tile functions with static loop-carried types.
void propagateStaticShapes(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  RewritePatternSet patterns(ctx);
  patterns.add<RefineLoopCarriedCasts>(ctx);
  for (Dialect *dialect : ctx->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName name : ctx->getRegisteredOperations())
    name.getCanonicalizationPatterns(patterns, ctx);
  FrozenRewritePatternSet frozen(std::move(patterns));
  module.walk([&](func::FuncOp fn) {
    if (fn->hasAttr("nf.tile_rows"))
      (void)applyPatternsGreedily(fn, frozen);
  });
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
