//===- RowFunctions.cpp - Kernels on static blocks of rows ----------------===//
//
// The tile (or row) function is the kernel's body with its row arrays
// replaced: reads become static tensors cast to the dynamic types the body
// was built with, and canonicalization (with loop-carried types refined)
// then propagates the static shapes through every op.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/Common/RowFunctions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

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

} // namespace

bool mlir::nf::isTileableKernel(func::FuncOp fn) {
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

func::FuncOp mlir::nf::createTileFunction(func::FuncOp kernel, int64_t rows,
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

Value mlir::nf::getRows(OpBuilder &b, Location loc, Value array,
                        OpFoldResult offset, OpFoldResult size) {
  auto type = cast<MemRefType>(array.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = {size};
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  offsets[0] = offset;
  for (int64_t d : type.getShape().drop_front())
    sizes.push_back(b.getIndexAttr(d));
  return memref::SubViewOp::create(b, loc, array, offsets, sizes, strides);
}

void mlir::nf::callOnRows(OpBuilder &b, Location loc, func::FuncOp fn,
                          ValueRange arrays, Value offset, int64_t rows) {
  SmallVector<Value> args;
  for (auto [array, type] : llvm::zip(arrays, fn.getArgumentTypes()))
    args.push_back(memref::CastOp::create(
        b, loc, type, getRows(b, loc, array, offset, b.getIndexAttr(rows))));
  func::CallOp::create(b, loc, fn, args);
}

void mlir::nf::propagateStaticShapes(ModuleOp module) {
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
