//===- PermutationOps.cpp - nf.reverse and nf.permute ---------------------===//
//
// Feature permutations: z[:, i] = x[:, perm[i]], x = z[:, perm^-1], V = 0.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

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
