//===- PermutationOps.cpp - Layers that reorder values --------------------===//
//
// Fixed permutations: nf.reverse and nf.permute (z[:, i] = x[:, perm[i]],
// x = z[:, perm^-1], V = 0) and nf.squeeze (space to depth). Data-dependent
// and random ones, which share the rank helpers: nf.sort (an inference
// surjection, V = -log D!, inverse: a uniformly random order) and
// nf.random_permutation (stochastic, V = 0).
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"

#include "nf/Dialect/NF/IR/LayerNoise.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nf;

static SmallVector<int64_t> getReversal(int64_t size) {
  return llvm::to_vector(llvm::reverse(llvm::seq<int64_t>(0, size)));
}

//===----------------------------------------------------------------------===//
// ReverseOp
//===----------------------------------------------------------------------===//

OpFoldResult ReverseOp::fold(FoldAdaptor) {
  // reverse(reverse(x)) = x, and reversing one feature does nothing.
  if (auto inner = getInput().getDefiningOp<ReverseOp>())
    return inner.getInput();
  if (getInput().getType().getDimSize(1) == 1)
    return getInput();
  return {};
}

FailureOr<LayerValues> ReverseOp::buildForward(OpBuilder &b,
                                               ValueRange operands, bool) {
  Adaptor adaptor(operands, *this);
  int64_t size = getInput().getType().getDimSize(1);
  return LayerValues{
      gatherFeatures(b, getLoc(), adaptor.getInput(), getReversal(size)), {}};
}

FailureOr<LayerValues> ReverseOp::buildInverse(OpBuilder &b, Value output,
                                               ValueRange, bool) {
  int64_t size = getInput().getType().getDimSize(1);
  return LayerValues{gatherFeatures(b, getLoc(), output, getReversal(size)),
                     {}};
}

//===----------------------------------------------------------------------===//
// PermuteOp
//===----------------------------------------------------------------------===//

LogicalResult PermuteOp::verify() {
  ArrayRef<int64_t> perm = getPermutation();
  int64_t size = getInput().getType().getDimSize(1);
  if (static_cast<int64_t>(perm.size()) != size)
    return emitOpError("permutation has ")
           << perm.size() << " entries, but dimension 1 has " << size
           << " features";
  SmallVector<bool> seen(size, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= size)
      return emitOpError("permutation entry ")
             << p << " is out of range [0, " << size << ")";
    if (seen[p])
      return emitOpError("permutation repeats entry ") << p;
    seen[p] = true;
  }
  return success();
}

OpFoldResult PermuteOp::fold(FoldAdaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return getInput();
  // permute_p(permute_q(x))[i] = x[q[p[i]]]: compose in place.
  if (auto inner = getInput().getDefiningOp<PermuteOp>()) {
    SmallVector<int64_t> composed;
    for (int64_t p : perm)
      composed.push_back(inner.getPermutation()[p]);
    setPermutation(composed);
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return {};
}

FailureOr<LayerValues> PermuteOp::buildForward(OpBuilder &b,
                                               ValueRange operands, bool) {
  Adaptor adaptor(operands, *this);
  return LayerValues{
      gatherFeatures(b, getLoc(), adaptor.getInput(), getPermutation()), {}};
}

FailureOr<LayerValues> PermuteOp::buildInverse(OpBuilder &b, Value output,
                                               ValueRange, bool) {
  return LayerValues{
      gatherFeatures(b, getLoc(), output, invertPermutation(getPermutation())),
      {}};
}

//===----------------------------------------------------------------------===//
// SqueezeOp
//===----------------------------------------------------------------------===//

LogicalResult SqueezeOp::verify() {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (in.getRank() != 4)
    return emitOpError("expects data of type tensor<?xCxHxWxT>, but got ")
           << in;
  int64_t c = in.getDimSize(1), h = in.getDimSize(2), w = in.getDimSize(3);
  if (h % 2 != 0 || w % 2 != 0)
    return emitOpError("height and width must be even, but are ")
           << h << " and " << w;
  auto expected = RankedTensorType::get({in.getDimSize(0), 4 * c, h / 2, w / 2},
                                        in.getElementType());
  if (out != expected)
    return emitOpError("result must have type ")
           << expected << ", but has " << out;
  return success();
}

/// out[n, 4c + 2i + j, h, w] = in[n, c, 2h + i, 2w + j] (squeeze), or the
/// converse (unsqueeze), as one gather-free generic with affine maps.
static Value buildSqueeze(OpBuilder &b, Location loc, Value in,
                          RankedTensorType outType, bool squeeze) {
  // Iterate over the small-image space (n, c, i, j, h, w):
  //   big[n, c, 2h + i, 2w + j] <-> small[n, 4c + 2i + j, h, w].
  auto inType = cast<RankedTensorType>(in.getType());
  RankedTensorType bigType = squeeze ? inType : outType;
  int64_t channels = bigType.getDimSize(1);
  int64_t height = bigType.getDimSize(2) / 2, width = bigType.getDimSize(3) / 2;
  AffineExpr n = b.getAffineDimExpr(0), c = b.getAffineDimExpr(1),
             i = b.getAffineDimExpr(2), j = b.getAffineDimExpr(3),
             h = b.getAffineDimExpr(4), w = b.getAffineDimExpr(5);
  MLIRContext *ctx = b.getContext();
  AffineMap bigMap = AffineMap::get(6, 0, {n, c, h * 2 + i, w * 2 + j}, ctx);
  AffineMap smallMap = AffineMap::get(6, 0, {n, c * 4 + i * 2 + j, h, w}, ctx);
  // The input is read through its map; the output is a 6-D view written
  // with a permutation map, then collapsed back to 4-D.
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, in);
  SmallVector<OpFoldResult> iterSizes = {
      sizes[0],          b.getIndexAttr(channels), b.getIndexAttr(2),
      b.getIndexAttr(2), b.getIndexAttr(height),   b.getIndexAttr(width)};
  // Output as (n, c, i, j, h, w) for squeeze or (n, c, h, i, w, j) for
  // unsqueeze; both collapse to the 4-D result by row-major order.
  SmallVector<OpFoldResult> outSizes =
      squeeze
          ? iterSizes
          : SmallVector<OpFoldResult>{iterSizes[0], iterSizes[1], iterSizes[4],
                                      iterSizes[2], iterSizes[5], iterSizes[3]};
  Value empty =
      tensor::EmptyOp::create(b, loc, outSizes, inType.getElementType());
  AffineMap outMap = squeeze ? b.getMultiDimIdentityMap(6)
                             : AffineMap::get(6, 0, {n, c, h, i, w, j}, ctx);
  SmallVector<utils::IteratorType> iterators(6, utils::IteratorType::parallel);
  Value moved =
      linalg::GenericOp::create(
          b, loc, TypeRange{empty.getType()}, ValueRange{in}, ValueRange{empty},
          {squeeze ? bigMap : smallMap, outMap}, iterators,
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            linalg::YieldOp::create(nb, nloc, args[0]);
          })
          .getResult(0);
  SmallVector<ReassociationIndices> groups =
      squeeze ? SmallVector<ReassociationIndices>{{0}, {1, 2, 3}, {4}, {5}}
              : SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}, {4, 5}};
  return tensor::CollapseShapeOp::create(b, loc, moved, groups);
}

FailureOr<LayerValues> SqueezeOp::buildForward(OpBuilder &b,
                                               ValueRange operands, bool) {
  Adaptor adaptor(operands, *this);
  return LayerValues{buildSqueeze(b, getLoc(), adaptor.getInput(),
                                  getOutput().getType(), /*squeeze=*/true),
                     {}};
}

FailureOr<LayerValues> SqueezeOp::buildInverse(OpBuilder &b, Value output,
                                               ValueRange, bool) {
  return LayerValues{buildSqueeze(b, getLoc(), output, getInput().getType(),
                                  /*squeeze=*/false),
                     {}};
}

//===----------------------------------------------------------------------===//
// nf.sort
//===----------------------------------------------------------------------===//

/// The items a sort orders: the points (dimension 1) of point clouds
/// sorted by a key, else the features.
static int64_t getSortedCount(SortOp op) {
  return op.getInput().getType().getDimSize(1);
}

/// The ranks' type: one value per sorted item.
static RankedTensorType getItemType(SortOp op) {
  RankedTensorType type = op.getInput().getType();
  return RankedTensorType::get({ShapedType::kDynamic, getSortedCount(op)},
                               type.getElementType());
}

LogicalResult SortOp::verify() {
  RankedTensorType type = getInput().getType();
  std::optional<uint64_t> key = getKey();
  if (!key && type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT> (or point clouds "
                       "tensor<?xNxKxT> with a key), but got ")
           << type;
  if (key && (type.getRank() != 3 || static_cast<int64_t>(*key) < 0 ||
              static_cast<int64_t>(*key) >= type.getDimSize(2)))
    return emitOpError("with key ")
           << static_cast<int64_t>(*key)
           << " expects point clouds tensor<?xNxKxT> with 0 <= key < K, but "
              "got "
           << type;
  return verifyNoiseType(*this, getNoise(), getItemType(*this),
                         key ? "one uniform per point"
                             : "one uniform per feature");
}

NoiseDraws SortOp::getNoiseDraws(bool inverse) {
  if (!inverse)
    return {};
  return {getNoise(), /*uniforms=*/getSortedCount(*this)};
}

/// Per sample, the rank of each feature among the D: the number of features
/// smaller than it, ties broken by position (a permutation of 0..D-1, as
/// floats).
static Value buildRanks(OpBuilder &b, Location loc, Value values) {
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  Type elementType = getElementTypeOrSelf(values.getType());
  Value init = linalg::FillOp::create(
                   b, loc, createFloatConstant(b, loc, elementType, 0.0),
                   createEmptyLike(b, loc, values))
                   .getResult(0);
  SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {d(0), d(1)}, ctx),
                                 AffineMap::get(3, 0, {d(0), d(2)}, ctx),
                                 AffineMap::get(3, 0, {d(0), d(1)}, ctx)};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{values, values},
             ValueRange{init}, maps, iterators,
             [](OpBuilder &nb, Location nloc, ValueRange args) {
               ScalarBuilder s = scalarFor(nb, nloc, args[0]);
               Value j = linalg::IndexOp::create(nb, nloc, 1);
               Value k = linalg::IndexOp::create(nb, nloc, 2);
               Value smaller =
                   s.cmp(arith::CmpFPredicate::OLT, args[1], args[0]);
               Value tiedBefore = arith::AndIOp::create(
                   nb, nloc, s.cmp(arith::CmpFPredicate::OEQ, args[1], args[0]),
                   arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ult, k,
                                         j));
               Value counts =
                   arith::OrIOp::create(nb, nloc, smaller, tiedBefore);
               linalg::YieldOp::create(
                   nb, nloc,
                   s.select(counts, s.add(args[2], s.c(1.0)), args[2]));
             })
      .getResult(0);
}

/// out[:, i] = values[:, j] where ranks[:, j] = i (`scatter`: sorting), or
/// out[:, i] = values[:, ranks[:, i]] (gathering: a random order); `values`
/// of rank 3 move whole rows (points) along dimension 1.
static Value buildPermuteByRanks(OpBuilder &b, Location loc, Value values,
                                 Value ranks, bool scatter) {
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  Type elementType = getElementTypeOrSelf(values.getType());
  bool points = cast<RankedTensorType>(values.getType()).getRank() == 3;
  Value init = linalg::FillOp::create(
                   b, loc, createFloatConstant(b, loc, elementType, 0.0),
                   createEmptyLike(b, loc, values))
                   .getResult(0);
  // Loops (b, i, j[, k]): out[b, i, k] += values[b, j, k] if the ranks match.
  unsigned numLoops = points ? 4 : 3;
  auto withCoordinate = [&](SmallVector<AffineExpr> exprs) {
    if (points)
      exprs.push_back(d(3));
    return AffineMap::get(numLoops, 0, exprs, ctx);
  };
  SmallVector<AffineMap> maps = {
      withCoordinate({d(0), d(2)}),
      AffineMap::get(numLoops, 0, {d(0), scatter ? d(2) : d(1)}, ctx),
      withCoordinate({d(0), d(1)})};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  if (points)
    iterators.push_back(utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{values, ranks},
             ValueRange{init}, maps, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               ScalarBuilder s = scalarFor(nb, nloc, args[0]);
               Value position =
                   linalg::IndexOp::create(nb, nloc, scatter ? 1 : 2);
               Value asFloat = arith::SIToFPOp::create(
                   nb, nloc, elementType,
                   arith::IndexCastOp::create(nb, nloc, nb.getI64Type(),
                                              position));
               Value match = s.cmp(arith::CmpFPredicate::OEQ, args[1], asFloat);
               linalg::YieldOp::create(
                   nb, nloc, s.select(match, s.add(args[2], args[0]), args[2]));
             })
      .getResult(0);
}

/// V = -log D! (-log N! for points), once per call.
static Value buildSortLogDet(SortOp op, OpBuilder &b, Location loc) {
  return buildScalarTensor(b, loc, op.getInput().getType().getElementType(),
                           -std::lgamma(getSortedCount(op) + 1.0));
}

/// The values that order the items: the features, or each point's key
/// coordinate.
static Value buildSortKeys(SortOp op, OpBuilder &b, Location loc, Value x) {
  std::optional<uint64_t> key = op.getKey();
  if (!key)
    return x;
  int64_t points = getSortedCount(op);
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                       b.getIndexAttr(*key)};
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, x, 0),
                                     b.getIndexAttr(points), b.getIndexAttr(1)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, getItemType(op), x, offsets,
                                        sizes, strides);
}

FailureOr<LayerValues> SortOp::buildForward(OpBuilder &b, ValueRange operands,
                                            bool withLogDet) {
  Location loc = getLoc();
  Value x = operands.front();
  Value z = buildPermuteByRanks(
      b, loc, x, buildRanks(b, loc, buildSortKeys(*this, b, loc, x)),
      /*scatter=*/true);
  return LayerValues{z, withLogDet ? buildSortLogDet(*this, b, loc) : Value()};
}

FailureOr<LayerValues> SortOp::buildInverse(OpBuilder &b, Value z,
                                            ValueRange operands,
                                            bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  // The ranks of D (N) uniforms are a uniformly random permutation. (The op
  // has no operand segments: ask it, not the adaptor, whether it has
  // explicit noise.)
  Value noise = getLayerNoise(b, loc, getNoise() ? adaptor.getNoise() : Value(),
                              operands, getItemType(*this));
  Value x = buildPermuteByRanks(b, loc, z, buildRanks(b, loc, noise),
                                /*scatter=*/false);
  return LayerValues{x, withLogDet ? buildSortLogDet(*this, b, loc) : Value()};
}

//===----------------------------------------------------------------------===//
// nf.random_permutation
//===----------------------------------------------------------------------===//

LogicalResult RandomPermutationOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT>, but got ") << type;
  return failure(failed(verifyNoiseType(*this, getForwardNoise(), type,
                                        "one uniform per feature")) ||
                 failed(verifyNoiseType(*this, getInverseNoise(), type,
                                        "one uniform per feature")));
}

NoiseDraws RandomPermutationOp::getNoiseDraws(bool inverse) {
  return {inverse ? getInverseNoise() : getForwardNoise(),
          /*uniforms=*/getEventSize(getInput().getType())};
}

/// `in` with its features in the order of the ranks of `noise`.
static LayerValues buildRandomOrder(OpBuilder &b, Location loc, Value in,
                                    Value noise) {
  return LayerValues{buildPermuteByRanks(b, loc, in, buildRanks(b, loc, noise),
                                         /*scatter=*/false),
                     Value()};
}

FailureOr<LayerValues>
RandomPermutationOp::buildForward(OpBuilder &b, ValueRange operands, bool) {
  Adaptor adaptor(operands, *this);
  return buildRandomOrder(b, getLoc(), adaptor.getInput(),
                          getLayerNoise(b, getLoc(), adaptor.getForwardNoise(),
                                        operands, getInput().getType()));
}

FailureOr<LayerValues> RandomPermutationOp::buildInverse(OpBuilder &b, Value z,
                                                         ValueRange operands,
                                                         bool) {
  Adaptor adaptor(operands, *this);
  return buildRandomOrder(b, getLoc(), z,
                          getLayerNoise(b, getLoc(), adaptor.getInverseNoise(),
                                        operands, getInput().getType()));
}
