//===- TransposeTiles.cpp - Batch-minor tensors inside row tiles ----------===//
//
// Flow tensors are batch-first: a tile holds TM rows of W values. Vectors
// along the features are short for narrow flows (2-8 features, one spline
// parameter column, MAF's interleaved scale/shift), and columns are strided.
// Inside a tile every row is independent, so every batch tensor of the tile
// function can be stored batch-minor instead, (W..., TM): vectors then run
// along the TM rows whatever the model's widths, and every column of the
// batch-first layout is a contiguous row.
//
// The pass finds the batch tensors by data flow from the tile's inputs
// (through linalg ops, slices, reshapes, concatenations and loops), checks
// that every op touching one is one it can rewrite, then changes their types
// in place and permutes the indexing maps and slice offsets of their ops.
// Reads and writes of the caller's row-major arrays get a transpose. A tile
// function with anything else is left as it is.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/CPU/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFTRANSPOSETILESPASS
#include "nf/Codegen/CPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;

namespace {

/// `type` batch-minor: the batch dimension (0) moved last.
RankedTensorType getBatchMinorType(RankedTensorType type) {
  SmallVector<int64_t> shape(type.getShape().drop_front());
  shape.push_back(type.getDimSize(0));
  return RankedTensorType::get(shape, type.getElementType());
}

/// Positions of a batch-first list in the batch-minor order.
template <typename T> SmallVector<T> toBatchMinor(ArrayRef<T> values) {
  SmallVector<T> result(values.drop_front());
  result.push_back(values.front());
  return result;
}

/// The batch tensors of one tile function and what their ops need.
class BatchAnalysis {
public:
  BatchAnalysis(func::FuncOp fn, int64_t rows) : fn(fn), rows(rows) {}

  /// Finds the batch tensors; failure if an op touching one cannot be
  /// rewritten.
  LogicalResult run() {
    fn.walk([&](bufferization::ToTensorOp read) {
      if (isa<BlockArgument>(read.getBuffer()))
        mark(read.getResult());
    });
    // Mark to a fixpoint: a batch operand of an op makes the values that
    // share its batch dimension batch tensors too.
    bool changed = true;
    while (changed && succeeded(status)) {
      changed = false;
      fn.walk([&](Operation *op) {
        if (failed(status))
          return WalkResult::interrupt();
        if (propagate(op))
          changed = true;
        if (failed(status) && !blocker)
          blocker = op;
        return WalkResult::advance();
      });
    }
    return status;
  }

  bool isBatch(Value value) const { return batch.contains(value); }
  const llvm::SetVector<Value> &getBatchValues() const { return batch; }

private:
  /// Marks `value`; true if it was new. Fails unless it has TM rows (and,
  /// for a constant, values that can be transposed).
  bool mark(Value value) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape() || type.getRank() < 1 ||
        type.getDimSize(0) != rows) {
      fail();
      return false;
    }
    if (auto constant = value.getDefiningOp<arith::ConstantOp>())
      if (!isa<DenseElementsAttr>(constant.getValue()))
        fail();
    return batch.insert(value);
  }

  void fail(Operation *op = nullptr) {
    if (succeeded(status))
      blocker = op;
    status = failure();
  }

public:
  /// The op that made the analysis fail, if known.
  Operation *blocker = nullptr;

private:
  /// Marks every member of `values` if one of them is marked.
  bool markTogether(ArrayRef<Value> values) {
    if (llvm::none_of(values, [&](Value v) { return isBatch(v); }))
      return false;
    bool changed = false;
    for (Value value : values)
      changed |= mark(value);
    return changed;
  }

  bool propagate(Operation *op) {
    if (auto generic = dyn_cast<linalg::GenericOp>(op))
      return propagateGeneric(generic);
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
      if (!isBatch(slice.getSource()) && !isBatch(slice.getResult()))
        return false;
      if (!isWholeBatch(slice.getStaticOffsets(), slice.getStaticSizes(),
                        slice.getStaticStrides()))
        fail();
      return markTogether({slice.getSource(), slice.getResult()});
    }
    if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
      if (!isBatch(insert.getSource()) && !isBatch(insert.getDest()) &&
          !isBatch(insert.getResult()))
        return false;
      if (!isWholeBatch(insert.getStaticOffsets(), insert.getStaticSizes(),
                        insert.getStaticStrides()))
        fail();
      return markTogether(
          {insert.getSource(), insert.getDest(), insert.getResult()});
    }
    if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
      SmallVector<Value> values(concat.getInputs());
      values.push_back(concat.getResult());
      if (llvm::any_of(values, [&](Value v) { return isBatch(v); }) &&
          concat.getDim() == 0)
        fail();
      return markTogether(values);
    }
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
      if (!isBatch(expand.getSrc()) && !isBatch(expand.getResult()))
        return false;
      if (expand.getReassociationIndices().front().size() != 1)
        fail();
      return markTogether({expand.getSrc(), expand.getResult()});
    }
    if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
      if (!isBatch(collapse.getSrc()) && !isBatch(collapse.getResult()))
        return false;
      if (collapse.getReassociationIndices().front().size() != 1)
        fail();
      return markTogether({collapse.getSrc(), collapse.getResult()});
    }
    if (auto cast = dyn_cast<tensor::CastOp>(op))
      return markTogether({cast.getSource(), cast.getResult()});
    if (auto extract = dyn_cast<tensor::ExtractOp>(op))
      return propagateGather(extract);
    if (auto pad = dyn_cast<tensor::PadOp>(op)) {
      if (!isBatch(pad.getSource()) && !isBatch(pad.getResult()))
        return false;
      // Padding of the image dimensions only, by a constant.
      if (pad.getStaticLow().front() != 0 || pad.getStaticHigh().front() != 0 ||
          !pad.getLow().empty() || !pad.getHigh().empty() ||
          llvm::any_of(pad.getRegion().getArguments(),
                       [](BlockArgument arg) { return !arg.use_empty(); }))
        fail();
      return markTogether({pad.getSource(), pad.getResult()});
    }
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      bool changed = false;
      auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
      for (auto [init, arg, result, yielded] :
           llvm::zip(loop.getInitArgs(), loop.getRegionIterArgs(),
                     loop.getResults(), yield.getOperands()))
        changed |= markTogether({init, arg, result, yielded});
      return changed;
    }
    // Everything else may only use batch tensors as the tile's boundary.
    for (Value operand : op->getOperands())
      if (isBatch(operand) &&
          !isa<bufferization::MaterializeInDestinationOp, scf::YieldOp>(op))
        fail();
    for (Value result : op->getResults())
      if (isBatch(result) &&
          !isa<tensor::EmptyOp, arith::ConstantOp, bufferization::ToTensorOp>(
              op))
        fail();
    return false;
  }

  /// Whether a slice keeps the whole batch dimension (static offset 0,
  /// size TM, stride 1); other dimensions may be dynamic, whose operands
  /// keep their order when the batch entry moves last. Rank-reducing slices
  /// never drop it (TM > 1).
  bool isWholeBatch(ArrayRef<int64_t> offsets, ArrayRef<int64_t> sizes,
                    ArrayRef<int64_t> strides) {
    return offsets.front() == 0 && sizes.front() == rows &&
           strides.front() == 1;
  }

  /// A gather: a generic whose body reads a batch tensor at (its own batch
  /// loop's index, ...), as feature permutations do. The generic's outputs
  /// indexed by that loop share the batch dimension.
  bool propagateGather(tensor::ExtractOp extract) {
    if (!isBatch(extract.getTensor()))
      return false;
    auto generic = dyn_cast<linalg::GenericOp>(extract->getParentOp());
    auto index =
        extract.getIndices().empty()
            ? linalg::IndexOp()
            : extract.getIndices().front().getDefiningOp<linalg::IndexOp>();
    if (!generic || !index) {
      fail(extract);
      return false;
    }
    bool changed = false;
    for (OpOperand &init : generic.getDpsInitsMutable()) {
      AffineMap map = generic.getMatchingIndexingMap(&init);
      auto dim = map.getNumResults() == 0
                     ? nullptr
                     : dyn_cast<AffineDimExpr>(map.getResult(0));
      if (!dim || dim.getPosition() != index.getDim()) {
        fail(extract);
        return false;
      }
      changed |= mark(init.get());
      changed |= mark(generic.getTiedOpResult(&init));
    }
    return changed;
  }

  bool propagateGeneric(linalg::GenericOp op) {
    // The batch loop: the loop that indexes dimension 0 of a batch operand.
    std::optional<unsigned> dim;
    auto batchDimOf = [&](OpOperand &operand) -> std::optional<unsigned> {
      AffineMap map = op.getMatchingIndexingMap(&operand);
      if (map.getNumResults() == 0)
        return std::nullopt;
      if (auto d = dyn_cast<AffineDimExpr>(map.getResult(0)))
        return d.getPosition();
      return std::nullopt;
    };
    for (OpOperand &operand : op->getOpOperands()) {
      Value value = operand.get();
      bool tied =
          op.isDpsInit(&operand) && isBatch(op.getTiedOpResult(&operand));
      if (!isBatch(value) && !tied)
        continue;
      std::optional<unsigned> d = batchDimOf(operand);
      if (!d || (dim && *dim != *d)) {
        fail();
        return false;
      }
      dim = d;
    }
    if (!dim)
      return false;
    bool changed = false;
    for (OpOperand &operand : op->getOpOperands()) {
      AffineMap map = op.getMatchingIndexingMap(&operand);
      std::optional<unsigned> d = batchDimOf(operand);
      bool usesBatch = map.isFunctionOfDim(*dim);
      if (d && *d == *dim) {
        changed |= mark(operand.get());
        if (op.isDpsInit(&operand))
          changed |= mark(op.getTiedOpResult(&operand));
      } else if (usesBatch) {
        // The batch loop indexes another dimension of this operand.
        fail();
      }
    }
    return changed;
  }

  func::FuncOp fn;
  int64_t rows;
  llvm::SetVector<Value> batch;
  LogicalResult status = success();
};

/// `map` with its first result moved last.
AffineMap toBatchMinor(AffineMap map) {
  return AffineMap::get(map.getNumDims(), map.getNumSymbols(),
                        toBatchMinor(map.getResults()), map.getContext());
}

/// `value` (batch-first `type`) transposed by `permutation`.
Value transpose(OpBuilder &b, Location loc, Value value,
                RankedTensorType resultType, ArrayRef<int64_t> permutation) {
  Value init = tensor::EmptyOp::create(b, loc, resultType.getShape(),
                                       resultType.getElementType());
  return linalg::TransposeOp::create(b, loc, value, init, permutation)
      ->getResult(0);
}

/// Rewrites the batch tensors found by `analysis` batch-minor, in place.
void rewrite(func::FuncOp fn, const BatchAnalysis &analysis) {
  MLIRContext *ctx = fn.getContext();
  OpBuilder b(ctx);
  // Reads of the caller's arrays stay row-major and are transposed once.
  SmallVector<bufferization::ToTensorOp> reads;
  fn.walk([&](bufferization::ToTensorOp read) {
    if (analysis.isBatch(read.getResult()))
      reads.push_back(read);
  });
  DenseSet<Value> reads_, transposedReads;
  for (bufferization::ToTensorOp read : reads) {
    auto type = cast<RankedTensorType>(read.getType());
    b.setInsertionPointAfter(read);
    SmallVector<int64_t> permutation;
    for (int64_t i = 1; i < type.getRank(); ++i)
      permutation.push_back(i);
    permutation.push_back(0);
    Value transposed = transpose(b, read.getLoc(), read.getResult(),
                                 getBatchMinorType(type), permutation);
    read.getResult().replaceAllUsesExcept(transposed,
                                          transposed.getDefiningOp());
    reads_.insert(read.getResult());
    transposedReads.insert(transposed);
  }
  auto isMinor = [&](Value value) {
    return transposedReads.contains(value) ||
           (analysis.isBatch(value) && !reads_.contains(value));
  };

  for (Value value : analysis.getBatchValues()) {
    if (reads_.contains(value))
      continue;
    auto type = cast<RankedTensorType>(value.getType());
    value.setType(getBatchMinorType(type));
    Operation *op = value.getDefiningOp();
    if (auto constant = dyn_cast_or_null<arith::ConstantOp>(op)) {
      // Batch constants (folded broadcasts) are transposed at compile time.
      auto dense = cast<DenseElementsAttr>(constant.getValue());
      RankedTensorType minor = getBatchMinorType(type);
      if (dense.isSplat()) {
        constant.setValueAttr(dense.reshape(minor));
      } else {
        SmallVector<Attribute> values(dense.getValues<Attribute>());
        SmallVector<Attribute> permuted(values.size());
        int64_t inner = values.size() / type.getDimSize(0);
        for (int64_t row = 0; row < type.getDimSize(0); ++row)
          for (int64_t i = 0; i < inner; ++i)
            permuted[i * type.getDimSize(0) + row] = values[row * inner + i];
        constant.setValueAttr(DenseElementsAttr::get(minor, permuted));
      }
    }
  }

  // Ops whose attributes describe batch-first operands.
  fn.walk([&](Operation *op) {
    if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
      SmallVector<Attribute> maps;
      bool touched = false;
      for (OpOperand &operand : generic->getOpOperands()) {
        AffineMap map = generic.getMatchingIndexingMap(&operand);
        if (isMinor(operand.get())) {
          map = toBatchMinor(map);
          touched = true;
        }
        maps.push_back(AffineMapAttr::get(map));
      }
      if (touched)
        generic.setIndexingMapsAttr(ArrayAttr::get(ctx, maps));
      return;
    }
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
      if (!isMinor(slice.getResult()))
        return;
      slice.setStaticOffsets(toBatchMinor(slice.getStaticOffsets()));
      slice.setStaticSizes(toBatchMinor(slice.getStaticSizes()));
      slice.setStaticStrides(toBatchMinor(slice.getStaticStrides()));
      return;
    }
    if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
      if (!isMinor(insert.getResult()))
        return;
      insert.setStaticOffsets(toBatchMinor(insert.getStaticOffsets()));
      insert.setStaticSizes(toBatchMinor(insert.getStaticSizes()));
      insert.setStaticStrides(toBatchMinor(insert.getStaticStrides()));
      return;
    }
    if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
      if (isMinor(concat.getResult()))
        concat.setDim(concat.getDim() - 1);
      return;
    }
    if (auto pad = dyn_cast<tensor::PadOp>(op)) {
      if (!isMinor(pad.getResult()))
        return;
      pad.setStaticLow(toBatchMinor(pad.getStaticLow()));
      pad.setStaticHigh(toBatchMinor(pad.getStaticHigh()));
      return;
    }
    if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
      if (!isMinor(extract.getTensor()))
        return;
      SmallVector<Value> indices(extract.getIndices());
      extract.getIndicesMutable().assign(
          toBatchMinor(ArrayRef<Value>(indices)));
      return;
    }
    auto moveBatchGroupLast =
        [&](ArrayRef<ReassociationIndices> groups) -> ArrayAttr {
      // Groups of the other dimensions, renumbered, then the batch group.
      SmallVector<ReassociationIndices> minor;
      int64_t next = 0;
      for (const ReassociationIndices &group : groups.drop_front()) {
        ReassociationIndices renumbered;
        for (size_t i = 0; i < group.size(); ++i)
          renumbered.push_back(next++);
        minor.push_back(renumbered);
      }
      minor.push_back({next});
      return getReassociationIndicesAttribute(b, minor);
    };
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
      if (!isMinor(expand.getResult()))
        return;
      expand.setReassociationAttr(
          moveBatchGroupLast(expand.getReassociationIndices()));
      expand.setStaticOutputShape(toBatchMinor(expand.getStaticOutputShape()));
      return;
    }
    if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
      if (!isMinor(collapse.getResult()))
        return;
      // Groups are those of the source dimensions.
      collapse.setReassociationAttr(
          moveBatchGroupLast(collapse.getReassociationIndices()));
      return;
    }
    if (auto write = dyn_cast<bufferization::MaterializeInDestinationOp>(op)) {
      Value source = write.getSource();
      if (!isMinor(source))
        return;
      // Back to the caller's row-major array.
      auto type = cast<RankedTensorType>(source.getType());
      SmallVector<int64_t> permutation = {type.getRank() - 1};
      SmallVector<int64_t> shape = {type.getDimSize(type.getRank() - 1)};
      for (int64_t i = 0; i + 1 < type.getRank(); ++i) {
        permutation.push_back(i);
        shape.push_back(type.getDimSize(i));
      }
      b.setInsertionPoint(write);
      Value rowMajor = transpose(
          b, write.getLoc(), source,
          RankedTensorType::get(shape, type.getElementType()), permutation);
      write.getSourceMutable().assign(rowMajor);
    }
  });
}

struct NFTransposeTilesPass
    : public nf::impl::NFTransposeTilesPassBase<NFTransposeTilesPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    // A one-row tile (batch-1 calls) keeps its vectors along the features.
    auto rowsAttr = fn->getAttrOfType<IntegerAttr>("nf.tile_rows");
    if (!rowsAttr || rowsAttr.getInt() == 1)
      return;
    // Named ops become generics, whose indexing maps say everything.
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::LinalgOp> named;
    fn.walk([&](linalg::LinalgOp op) {
      if (!isa<linalg::GenericOp>(op))
        named.push_back(op);
    });
    for (linalg::LinalgOp op : named) {
      rewriter.setInsertionPoint(op);
      (void)linalg::generalizeNamedOp(rewriter, op);
    }
    // Every use gets its own empty tensor or tensor constant of TM rows: one
    // may become batch-minor where another stays.
    int64_t rows = rowsAttr.getInt();
    SmallVector<Operation *> shared;
    fn.walk([&](Operation *op) {
      if (!isa<tensor::EmptyOp, arith::ConstantOp>(op) ||
          op->getResult(0).hasOneUse())
        return;
      auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
      if (type && type.getRank() > 0 && type.getDimSize(0) == rows)
        shared.push_back(op);
    });
    for (Operation *op : shared) {
      for (OpOperand &use :
           llvm::make_early_inc_range(llvm::drop_begin(op->getUses()))) {
        rewriter.setInsertionPoint(use.getOwner());
        use.set(rewriter.clone(*op)->getResult(0));
      }
    }
    BatchAnalysis analysis(fn, rows);
    if (failed(analysis.run())) {
      if (analysis.blocker && report)
        analysis.blocker->emitRemark("keeps its tile batch-first");
      return;
    }
    rewrite(fn, analysis);
  }
};

} // namespace
