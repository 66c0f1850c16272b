//===- NFBuilders.cpp - Tensor IR builders shared by nf layers ------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

#include <cstring>

using namespace mlir;
using namespace mlir::nf;

Value mlir::nf::createEmptyLike(OpBuilder &b, Location loc, Value like,
                                Type elementType) {
  auto type = cast<RankedTensorType>(like.getType());
  if (!elementType)
    elementType = type.getElementType();
  return tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, like),
                                 elementType);
}

Value mlir::nf::createFloatConstant(OpBuilder &b, Location loc, Type type,
                                    double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

/// Indexing map of a broadcast operand of an elementwise map of rank `rank`.
static AffineMap getBroadcastMap(OpBuilder &b, int64_t rank, Type type) {
  int64_t inputRank = cast<RankedTensorType>(type).getRank();
  if (inputRank == rank)
    return b.getMultiDimIdentityMap(rank);
  if (inputRank == 0)
    return AffineMap::get(rank, 0, {}, b.getContext());
  if (inputRank == 1 && rank > 2) // one value per channel (dimension 1)
    return AffineMap::get(rank, 0, {b.getAffineDimExpr(1)}, b.getContext());
  assert(inputRank == rank - 1 && "expected an event-shaped operand");
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 1; d < rank; ++d)
    exprs.push_back(b.getAffineDimExpr(d));
  return AffineMap::get(rank, 0, exprs, b.getContext());
}

SmallVector<Value> mlir::nf::mapElementwise(OpBuilder &b, Location loc,
                                            Value shapeRef, ValueRange inputs,
                                            unsigned numResults,
                                            ScalarBodyFn body) {
  int64_t rank = cast<RankedTensorType>(shapeRef.getType()).getRank();
  SmallVector<AffineMap> maps;
  for (Value input : inputs)
    maps.push_back(getBroadcastMap(b, rank, input.getType()));
  SmallVector<Value> inits;
  SmallVector<Type> resultTypes;
  for (unsigned i = 0; i < numResults; ++i) {
    inits.push_back(createEmptyLike(b, loc, shapeRef));
    resultTypes.push_back(inits.back().getType());
    maps.push_back(b.getMultiDimIdentityMap(rank));
  }
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  unsigned numInputs = inputs.size();
  auto generic = linalg::GenericOp::create(
      b, loc, resultTypes, inputs, inits, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> results = body(nb, nloc, args.take_front(numInputs));
        assert(results.size() == numResults && "body returned wrong arity");
        linalg::YieldOp::create(nb, nloc, results);
      });
  return SmallVector<Value>(generic.getResults());
}

/// Sums `input` over the dimensions not in `kept` (a prefix of its dims) into
/// a zero-filled tensor of the kept sizes.
Value mlir::nf::mapSingleResult(
    OpBuilder &b, Location loc, ValueRange inputs,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  return mapElementwise(b, loc, inputs.front(), inputs, 1,
                        [&](OpBuilder &nb, Location nloc, ValueRange args) {
                          return SmallVector<Value>{body(nb, nloc, args)};
                        })
      .front();
}

static Value sumTrailingDims(OpBuilder &b, Location loc, Value input,
                             int64_t numKept) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  Type elementType = type.getElementType();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  sizes.resize(numKept);
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elementType);
  Value zero = createFloatConstant(b, loc, elementType, 0.0);
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);

  SmallVector<AffineExpr> keptExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < numKept)
      keptExprs.push_back(b.getAffineDimExpr(d));
    iterators.push_back(d < numKept ? utils::IteratorType::parallel
                                    : utils::IteratorType::reduction);
  }
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, keptExprs, b.getContext())};
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{input}, ValueRange{init},
      maps, iterators, [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value sum = arith::AddFOp::create(nb, nloc, args[0], args[1]);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  return generic.getResult(0);
}

Value mlir::nf::broadcastPerSample(OpBuilder &b, Location loc, Value perSample,
                                   Value like) {
  int64_t rank = cast<RankedTensorType>(like.getType()).getRank();
  Value init = createEmptyLike(b, loc, like);
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank, 0, {b.getAffineDimExpr(0)}, b.getContext()),
      b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{perSample},
             ValueRange{init}, maps, iterators,
             [](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc, args[0]);
             })
      .getResult(0);
}

Value mlir::nf::sumEventDims(OpBuilder &b, Location loc, Value batch) {
  return sumTrailingDims(b, loc, batch, /*numKept=*/1);
}

Value mlir::nf::sumAll(OpBuilder &b, Location loc, Value tensor) {
  return sumTrailingDims(b, loc, tensor, /*numKept=*/0);
}

/// Features offset, offset + stride, ... (`size` of them) of dimension 1 and
/// everything of the other dimensions.
static Value extractFeatureRange(OpBuilder &b, Location loc, Value input,
                                 int64_t offset, int64_t size,
                                 int64_t stride = 1) {
  auto type = cast<RankedTensorType>(input.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  offsets[1] = b.getIndexAttr(offset);
  sizes[1] = b.getIndexAttr(size);
  strides[1] = b.getIndexAttr(stride);
  return tensor::ExtractSliceOp::create(b, loc, input, offsets, sizes, strides);
}

Value mlir::nf::sliceFeatures(OpBuilder &b, Location loc, Value input,
                              int64_t offset, int64_t size, int64_t stride) {
  return extractFeatureRange(b, loc, input, offset, size, stride);
}

Value mlir::nf::gatherFeatures(OpBuilder &b, Location loc, Value input,
                               ArrayRef<int64_t> indices) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t count = indices.size();
  // A contiguous increasing run is a slice (or nothing at all).
  bool contiguous = llvm::all_of(llvm::seq<int64_t>(0, count), [&](int64_t j) {
    return indices[j] == indices.front() + j;
  });
  if (contiguous) {
    if (indices.front() == 0 && count == type.getDimSize(1))
      return input;
    return extractFeatureRange(b, loc, input, indices.front(), count);
  }

  // General case: out[i0, j, ...] = input[i0, table[j], ...].
  int64_t rank = type.getRank();
  auto tableType = RankedTensorType::get({count}, b.getIndexType());
  Value table = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(tableType, indices));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  sizes[1] = b.getIndexAttr(count);
  Value init = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank, 0, {b.getAffineDimExpr(1)}, b.getContext()),
      b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{table}, ValueRange{init},
      maps, iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> position;
        for (int64_t d = 0; d < rank; ++d)
          position.push_back(d == 1 ? args[0]
                                    : linalg::IndexOp::create(nb, nloc, d));
        Value element = tensor::ExtractOp::create(nb, nloc, input, position);
        linalg::YieldOp::create(nb, nloc, element);
      });
  return generic.getResult(0);
}

/// Whether `indices` is a run start, start + 1, ...
static bool isContiguous(ArrayRef<int64_t> indices) {
  return llvm::all_of(llvm::seq<size_t>(0, indices.size()), [&](size_t j) {
    return indices[j] == indices.front() + static_cast<int64_t>(j);
  });
}

Value mlir::nf::mergeFeatures(OpBuilder &b, Location loc, Value like,
                              ValueRange parts,
                              ArrayRef<SmallVector<int64_t>> indices) {
  if (llvm::all_of(indices, [](ArrayRef<int64_t> run) {
        return !run.empty() && isContiguous(run);
      })) {
    Value merged = createEmptyLike(b, loc, like);
    int64_t rank = cast<RankedTensorType>(like.getType()).getRank();
    for (auto [part, run] : llvm::zip(parts, indices)) {
      SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, part);
      SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
      offsets[1] = b.getIndexAttr(run.front());
      merged = tensor::InsertSliceOp::create(b, loc, part, merged, offsets,
                                             sizes, strides);
    }
    return merged;
  }
  SmallVector<int64_t> order;
  for (ArrayRef<int64_t> run : indices)
    llvm::append_range(order, run);
  return gatherFeatures(b, loc, concatFeatures(b, loc, parts),
                        invertPermutation(order));
}

Value mlir::nf::concatFeatures(OpBuilder &b, Location loc, ValueRange inputs) {
  if (inputs.size() == 1)
    return inputs.front();
  return tensor::ConcatOp::create(b, loc, /*dim=*/1, inputs);
}

Value mlir::nf::castToDynamicBatch(OpBuilder &b, Location loc, Value batch) {
  auto type = cast<RankedTensorType>(batch.getType());
  if (type.isDynamicDim(0))
    return batch;
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = ShapedType::kDynamic;
  return tensor::CastOp::create(b, loc, type.clone(shape), batch);
}

Value mlir::nf::addLogDets(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  if (!lhs)
    return rhs;
  if (!rhs)
    return lhs;
  Value shapeRef =
      cast<RankedTensorType>(lhs.getType()).getRank() > 0 ? lhs : rhs;
  return mapElementwise(b, loc, shapeRef, {lhs, rhs}, 1,
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          return SmallVector<Value>{arith::AddFOp::create(
                              nb, nloc, args[0], args[1])};
                        })
      .front();
}

Value mlir::nf::negateLogDet(OpBuilder &b, Location loc, Value logDet) {
  if (!logDet)
    return logDet;
  return mapElementwise(b, loc, logDet, {logDet}, 1,
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          return SmallVector<Value>{
                              arith::NegFOp::create(nb, nloc, args[0])};
                        })
      .front();
}

SmallVector<int64_t> mlir::nf::invertPermutation(ArrayRef<int64_t> perm) {
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  return inverse;
}

Value mlir::nf::buildScalarSoftplus(OpBuilder &b, Location loc, Value x) {
  Value zero = createFloatConstant(b, loc, x.getType(), 0.0);
  Value positive = arith::MaximumFOp::create(b, loc, x, zero);
  Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x));
  Value tail =
      math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs));
  return arith::AddFOp::create(b, loc, positive, tail);
}

Value mlir::nf::buildScalarSigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = createFloatConstant(b, loc, x.getType(), 1.0);
  Value expNeg = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, expNeg));
}

Value mlir::nf::buildMonotoneSolve(OpBuilder &b, Location loc, Type type,
                                   MonotoneFn g, double tolerance) {
  ScalarBuilder s{b, loc, type};
  Value zeroIndex = arith::ConstantIndexOp::create(b, loc, 0);
  Value oneIndex = arith::ConstantIndexOp::create(b, loc, 1);
  Value bracketSteps = arith::ConstantIndexOp::create(b, loc, 64);
  Value newtonSteps = arith::ConstantIndexOp::create(b, loc, 120);
  // Bracket: double the side whose sign is wrong.
  auto bracket = scf::ForOp::create(
      b, loc, zeroIndex, bracketSteps, oneIndex,
      ValueRange{s.c(-1.0), s.c(1.0)},
      [&](OpBuilder &nb, Location nloc, Value, ValueRange iter) {
        ScalarBuilder ns{nb, nloc, type};
        Value lo = iter[0], hi = iter[1];
        Value gLo = g(nb, nloc, lo).first, gHi = g(nb, nloc, hi).first;
        Value lowTooHigh = ns.cmp(arith::CmpFPredicate::OGT, gLo, ns.c(0.0));
        Value highTooLow = ns.cmp(arith::CmpFPredicate::OLT, gHi, ns.c(0.0));
        Value newLo = ns.select(lowTooHigh, ns.mul(lo, ns.c(2.0)), lo);
        Value newHi = ns.select(highTooLow, ns.mul(hi, ns.c(2.0)), hi);
        scf::YieldOp::create(nb, nloc, ValueRange{newLo, newHi});
      });
  Value lo0 = bracket.getResult(0), hi0 = bracket.getResult(1);
  auto solve = scf::ForOp::create(
      b, loc, zeroIndex, newtonSteps, oneIndex,
      ValueRange{lo0, hi0, s.mul(s.c(0.5), s.add(lo0, hi0))},
      [&](OpBuilder &nb, Location nloc, Value, ValueRange iter) {
        ScalarBuilder ns{nb, nloc, type};
        Value lo = iter[0], hi = iter[1], x = iter[2];
        auto [gx, dgx] = g(nb, nloc, x);
        Value newLo =
            ns.select(ns.cmp(arith::CmpFPredicate::OLT, gx, ns.c(0.0)), x, lo);
        Value newHi =
            ns.select(ns.cmp(arith::CmpFPredicate::OGT, gx, ns.c(0.0)), x, hi);
        Value newton = ns.sub(x, ns.div(gx, dgx));
        Value inside = arith::AndIOp::create(
            nb, nloc, ns.cmp(arith::CmpFPredicate::OGT, newton, newLo),
            ns.cmp(arith::CmpFPredicate::OLT, newton, newHi));
        Value next =
            ns.select(inside, newton, ns.mul(ns.c(0.5), ns.add(newLo, newHi)));
        // Converged (bracket within tolerance, or exact root): keep x.
        Value scale = ns.max(ns.c(1.0), ns.abs(x));
        Value done = arith::OrIOp::create(
            nb, nloc,
            ns.cmp(arith::CmpFPredicate::OLE, ns.sub(hi, lo),
                   ns.mul(ns.c(tolerance), scale)),
            ns.cmp(arith::CmpFPredicate::OEQ, gx, ns.c(0.0)));
        scf::YieldOp::create(nb, nloc,
                             ValueRange{ns.select(done, lo, newLo),
                                        ns.select(done, hi, newHi),
                                        ns.select(done, x, next)});
      });
  return solve.getResult(2);
}

/// A rank-0 tensor holding `value`.
Value mlir::nf::buildScalarTensor(OpBuilder &b, Location loc, Type elementType,
                                  double value) {
  auto type = RankedTensorType::get({}, elementType);
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, FloatAttr::get(elementType, value)));
}

FailureOr<SmallVector<double>> mlir::nf::getConstantFloatValues(Value value) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return failure();
  if (auto dense = dyn_cast<DenseFPElementsAttr>(attr))
    return llvm::to_vector(
        llvm::map_range(dense.getValues<APFloat>(),
                        [](const APFloat &v) { return v.convertToDouble(); }));
  auto resource = dyn_cast<DenseResourceElementsAttr>(attr);
  if (!resource)
    return failure();
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  ShapedType type = resource.getType();
  int64_t count = type.getNumElements();
  bool isF64 = type.getElementType().isF64();
  size_t bytes = count * (isF64 ? 8 : 4);
  if (!blob || blob->getData().size() != bytes)
    return failure();
  SmallVector<double> values(count);
  const char *data = blob->getData().data();
  for (int64_t i = 0; i < count; ++i) {
    if (isF64) {
      double v;
      std::memcpy(&v, data + 8 * i, 8);
      values[i] = v;
    } else {
      float v;
      std::memcpy(&v, data + 4 * i, 4);
      values[i] = v;
    }
  }
  return values;
}
