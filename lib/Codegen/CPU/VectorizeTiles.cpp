//===- VectorizeTiles.cpp - Register tiles and MLIR vectorization ---------===//
//
// Inside the static row tiles of nf-tile-kernels every linalg op has static
// shapes. Contractions (the conditioners' matmuls) are tiled to a register
// block of RM x RN outputs and a k step of 1, so after vectorization the
// k loop is a chain of broadcast-FMAs on RN / lanes accumulator vectors per
// row, whose accumulators loop-invariant subset hoisting then keeps in
// registers. Every other op is tiled so that one tile fills two vector
// registers (reductions up to eight times that), then vectorized. Shapes
// stay static: tile sizes divide the loop extents.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/TargetParser/Host.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFVECTORIZETILESPASS
#include "nf/Codegen/CPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;

namespace {

/// The host's vector register width in bits.
int64_t getHostVectorBits() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return 512;
  if (features.lookup("avx"))
    return 256;
  return 128;
}

/// The largest divisor of `extent` that is at most `limit` (at least 1).
int64_t getLargestDivisor(int64_t extent, int64_t limit) {
  for (int64_t size = std::min(extent, limit); size > 1; --size)
    if (extent % size == 0)
      return size;
  return 1;
}

/// Register and vector geometry for one element type.
struct VectorShape {
  /// Elements per vector register.
  int64_t lanes;
  /// The register block of a contraction: rows by columns of outputs.
  int64_t blockRows, blockColumns;
  /// Elements one tile of any other op holds: two registers, so that long
  /// elementwise bodies (splines, polynomial transcendentals) keep few
  /// values live.
  int64_t tileElements;
};

VectorShape getVectorShape(int64_t vectorBits, Type elementType) {
  int64_t lanes =
      std::max<int64_t>(1, vectorBits / elementType.getIntOrFloatBitWidth());
  // 32 registers hold an 8 x 2-vector accumulator block with room for the B
  // vectors and broadcasts; 16 registers (AVX2, SSE) a 4 x 2 block.
  int64_t rows = vectorBits >= 512 ? 8 : 4;
  return {lanes, rows, 2 * lanes, 2 * lanes};
}

/// The loop the first output of `op` varies fastest along, if it is one.
std::optional<unsigned> getInnermostOutputDim(linalg::LinalgOp op) {
  if (op.getNumDpsInits() == 0)
    return std::nullopt;
  AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (map.getNumResults() == 0)
    return std::nullopt;
  if (auto dim = dyn_cast<AffineDimExpr>(map.getResults().back()))
    return dim.getPosition();
  return std::nullopt;
}

/// Tile sizes of a contraction: the register block over its m and n
/// dimensions (two vectors along the one the output is contiguous in), 1
/// along k and batch dimensions.
std::optional<SmallVector<int64_t>>
getContractionTiles(linalg::LinalgOp op, ArrayRef<int64_t> ranges,
                    const VectorShape &shape) {
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  std::optional<unsigned> inner = getInnermostOutputDim(op);
  if (failed(dims) || dims->m.size() != 1 || dims->n.size() != 1 || !inner)
    return std::nullopt;
  unsigned m = dims->m.front(), n = dims->n.front();
  if (*inner != m && *inner != n)
    return std::nullopt;
  unsigned outer = *inner == m ? n : m;
  SmallVector<int64_t> tiles(ranges.size(), 1);
  tiles[outer] = getLargestDivisor(ranges[outer], shape.blockRows);
  // Fewer rows than a block (a one-row tile's matrix-vector products): as
  // many accumulators along the columns, so that the FMA chains still hide
  // their latency.
  int64_t columns = shape.blockColumns * (shape.blockRows / tiles[outer]);
  tiles[*inner] = getLargestDivisor(ranges[*inner], columns);
  return tiles;
}

/// Whether `op` is a convolution with output channels (a conditioner's
/// convolution, generalized).
bool isConvolution(linalg::LinalgOp op) {
  FailureOr<linalg::ConvolutionDimensions> dims =
      linalg::inferConvolutionDims(op);
  return !linalg::isaContractionOpInterface(op) && succeeded(dims) &&
         !dims->outputChannel.empty();
}

/// Tile sizes of a convolution: a register block like a contraction's, over
/// an output channel and the output's contiguous dimension, 1 along every
/// other loop; once its unit dimensions are folded, the tile is a
/// contraction step over one input channel and filter tap.
std::optional<SmallVector<int64_t>>
getConvolutionTiles(linalg::LinalgOp op, ArrayRef<int64_t> ranges,
                    const VectorShape &shape) {
  FailureOr<linalg::ConvolutionDimensions> dims =
      linalg::inferConvolutionDims(op);
  std::optional<unsigned> inner = getInnermostOutputDim(op);
  if (failed(dims) || dims->outputChannel.empty() || !inner)
    return std::nullopt;
  unsigned channel = dims->outputChannel.front();
  if (channel == *inner)
    return std::nullopt;
  SmallVector<int64_t> tiles(ranges.size(), 1);
  tiles[channel] = getLargestDivisor(ranges[channel], shape.blockRows);
  tiles[*inner] = getLargestDivisor(ranges[*inner], shape.blockColumns);
  return tiles;
}

/// Interchanges the loops of `op` so that its first output's dimensions come
/// in its order, the output's contiguous dimension innermost among them, so
/// that vectors run along contiguous memory. Reductions go before that
/// dimension (whole vectors combine), except in contractions, where the k
/// loop goes last so that the tile loop nest ends with it and the register
/// block's accumulators stay in registers across k.
linalg::GenericOp interchangeForVectors(RewriterBase &rewriter,
                                        linalg::GenericOp op) {
  if (op.getNumDpsInits() == 0)
    return op;
  AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  SmallVector<unsigned> outputDims;
  for (AffineExpr expr : map.getResults()) {
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim)
      return op;
    outputDims.push_back(dim.getPosition());
  }
  if (outputDims.empty())
    return op;
  bool contraction = linalg::isaContractionOpInterface(op) || isConvolution(op);
  SmallVector<unsigned> order(outputDims.begin(), outputDims.end() - 1);
  if (contraction)
    order.push_back(outputDims.back());
  for (unsigned i = 0; i < op.getNumLoops(); ++i)
    if (!llvm::is_contained(outputDims, i))
      order.push_back(i);
  if (!contraction)
    order.push_back(outputDims.back());
  if (llvm::equal(order, llvm::seq<unsigned>(0, order.size())))
    return op;
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::GenericOp> interchanged =
      linalg::interchangeGenericOp(rewriter, op, order);
  return succeeded(interchanged) ? *interchanged : op;
}

/// Tile sizes of any other op: `tileElements` along the output's contiguous
/// dimension (the vector), 1 along the other dimensions. Reductions are
/// tiled by 1 too when that gives whole vectors (batch-minor tiles: the
/// reduction accumulates vectors of rows in a loop, and the code holds one
/// step, not one per reduced element; spline bins made it 8x larger);
/// otherwise up to eight tiles' worth along them gives the vectors.
SmallVector<int64_t> getElementwiseTiles(linalg::LinalgOp op,
                                         ArrayRef<int64_t> ranges,
                                         const VectorShape &shape) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> tiles(ranges.size(), 1);
  int64_t elements = 1;
  if (std::optional<unsigned> inner = getInnermostOutputDim(op);
      inner && iterators[*inner] == utils::IteratorType::parallel) {
    tiles[*inner] = getLargestDivisor(ranges[*inner], shape.tileElements);
    elements = tiles[*inner];
  }
  if (elements >= shape.lanes)
    return tiles;
  for (auto [i, iterator] : llvm::enumerate(iterators))
    if (iterator == utils::IteratorType::reduction) {
      tiles[i] = getLargestDivisor(
          ranges[i], std::max<int64_t>(1, 8 * shape.tileElements / elements));
      elements *= tiles[i];
    }
  return tiles;
}

/// Swaps the operands of a vector.contract whose rhs gives the
/// accumulator's outer dimension, so that the outer-product lowering sees the
/// canonical (m, k) x (k, n) -> (m, n) order instead of transposing every
/// step (batch-minor tiles compute C^T = W^T A^T: the weights go first).
struct OrderContractOperands : public OpRewritePattern<vector::ContractionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(vector::ContractionOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap acc = maps[2];
    if (acc.getNumResults() != 2)
      return failure();
    auto outer = dyn_cast<AffineDimExpr>(acc.getResult(0));
    if (!outer || maps[0].isFunctionOfDim(outer.getPosition()) ||
        !maps[1].isFunctionOfDim(outer.getPosition()))
      return failure();
    rewriter.replaceOpWithNewOp<vector::ContractionOp>(
        op, op.getRhs(), op.getLhs(), op.getAcc(),
        rewriter.getAffineMapArrayAttr({maps[1], maps[0], maps[2]}),
        op.getIteratorTypes(), op.getKind());
    return success();
  }
};

/// The cleanup after vectorization of upstream's
/// transform.structured.vectorize_children_and_apply_patterns, and the
/// contraction operand order.
void applyVectorizationCleanup(Operation *root) {
  MLIRContext *ctx = root->getContext();
  RewritePatternSet patterns(ctx);
  patterns.add<OrderContractOperands>(ctx);
  vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
  vector::populateVectorReductionToContractPatterns(patterns);
  vector::populateSinkVectorOpsPatterns(patterns);
  tensor::populateFoldTensorSubsetIntoVectorTransferPatterns(patterns);
  for (Dialect *dialect : ctx->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName name : ctx->getRegisteredOperations())
    name.getCanonicalizationPatterns(patterns, ctx);
  (void)applyPatternsGreedily(root, std::move(patterns));
}

/// Drops unit dimensions of linalg ops (a feature column `tensor<TMx1xT>`
/// becomes `tensor<TMxT>`), so that narrow ops vectorize along the rows.
void foldUnitDims(Operation *root) {
  RewritePatternSet patterns(root->getContext());
  linalg::ControlDropUnitDims options;
  linalg::populateFoldUnitExtentDimsPatterns(patterns, options);
  linalg::populateFoldUnitExtentDimsCanonicalizationPatterns(patterns, options);
  (void)applyPatternsGreedily(root, std::move(patterns));
}

struct NFVectorizeTilesPass
    : public nf::impl::NFVectorizeTilesPassBase<NFVectorizeTilesPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    int64_t bits = vectorBits > 0 ? int64_t(vectorBits) : getHostVectorBits();
    foldUnitDims(fn);
    SmallVector<linalg::LinalgOp> ops;
    fn.walk([&](linalg::LinalgOp op) {
      if (op.hasPureTensorSemantics() && !op.hasDynamicShape() &&
          isa<TilingInterface>(op.getOperation()))
        ops.push_back(op);
    });

    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp &op : ops)
      if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation()))
        op = interchangeForVectors(rewriter, generic);
    SmallVector<Operation *> tiled;
    for (linalg::LinalgOp op : ops) {
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      Type elementType =
          getElementTypeOrSelf(op.getDpsInitOperand(0)->get().getType());
      if (!elementType.isIntOrFloat())
        continue;
      VectorShape shape = getVectorShape(bits, elementType);
      SmallVector<int64_t> tiles;
      if (linalg::isaContractionOpInterface(op))
        tiles = getContractionTiles(op, ranges, shape)
                    .value_or(getElementwiseTiles(op, ranges, shape));
      else if (isConvolution(op))
        tiles = getConvolutionTiles(op, ranges, shape)
                    .value_or(getElementwiseTiles(op, ranges, shape));
      else
        tiles = getElementwiseTiles(op, ranges, shape);
      if (tiles == ranges) {
        tiled.push_back(op);
        continue;
      }
      // A loop per tiled dimension; untiled ones get size 0.
      SmallVector<OpFoldResult> sizes;
      for (auto [tile, range] : llvm::zip(tiles, ranges))
        sizes.push_back(rewriter.getIndexAttr(tile == range ? 0 : tile));
      scf::SCFTilingOptions options;
      options.setTileSizes(sizes);
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> result = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(result)) {
        tiled.push_back(op);
        continue;
      }
      rewriter.replaceOp(op, result->replacements);
      llvm::append_range(tiled, result->tiledOps);
    }

    auto vectorize = [&](ArrayRef<Operation *> targets) {
      for (Operation *op : targets) {
        if (failed(linalg::vectorizeOpPrecondition(op)))
          continue;
        rewriter.setInsertionPoint(op);
        FailureOr<linalg::VectorizationResult> result =
            linalg::vectorize(rewriter, op);
        if (succeeded(result))
          rewriter.replaceOp(op, result->replacements);
      }
    };
    vectorize(tiled);
    // Convolution tiles vectorize once their unit loops are folded away
    // (their input maps, oh + kh, become projections).
    foldUnitDims(fn);
    SmallVector<Operation *> rest;
    fn.walk([&](linalg::LinalgOp op) {
      if (op.hasPureTensorSemantics() && !op.hasDynamicShape())
        rest.push_back(op);
    });
    vectorize(rest);
    applyVectorizationCleanup(fn);
  }
};

} // namespace
