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
