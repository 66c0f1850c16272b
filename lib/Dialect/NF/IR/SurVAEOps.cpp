//===- SurVAEOps.cpp - Surjective and stochastic layers (SurVAE) ----------===//
//
// Inference surjections: deterministic many-to-one x -> z, exact
// V = log p(x | z), stochastic right inverse:
//   nf.abs    z = |x|,          V = sum log P(sign),     inverse: random signs
//   nf.sort   z = sort(x),      V = -log D!,             inverse: random order
//   nf.slice  z = x[:, :K],     V = log p(x[:, K:] | z), inverse: decoder draw
// Generative surjections: stochastic x -> z, V = -log q(z | x) (a bound):
//   nf.augment             z = (x, e), e ~ q(e | x);     inverse drops e
//   nf.uniform_dequantize  z = (x + u) / K;              inverse rounds
// Stochastic layers: both directions draw, V = log p(x | z) - log q(z | x):
//   nf.vae                  z ~ q(z | x), x ~ p(x | z) (diagonal normals)
//   nf.random_permutation   z = x permuted uniformly at random, V = 0
// Random directions take uniform noise from the kernel's layer noise
// (appended to the operands) unless the op has an explicit noise operand.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFConditioned.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/Support/MathExtras.h"
#include <cmath>

using namespace mlir;
using namespace mlir::nf;

/// Checks that `out` is `in` with another number of features along
/// dimension 1: more with `grows` (checked here), fewer otherwise (the
/// caller checks how many).
static LogicalResult verifyFeatureChange(Operation *op, RankedTensorType in,
                                         RankedTensorType out, bool grows) {
  if (in.getRank() == out.getRank() &&
      in.getShape().drop_front(2) == out.getShape().drop_front(2) &&
      in.getElementType() == out.getElementType() &&
      (!grows || out.getDimSize(1) > in.getDimSize(1)))
    return success();
  return op->emitOpError("result must be the input with ")
         << (grows ? "more" : "fewer")
         << " features along dimension 1, but maps " << in << " to " << out;
}

/// mean + exp(logStd) eps, or eps for the standard normal (null mean).
static Value buildGaussianDraw(OpBuilder &b, Location loc, Value eps,
                               Value mean, Value logStd) {
  if (!mean)
    return eps;
  return mapSingleResult(b, loc, {eps, mean, logStd},
                         [](OpBuilder &nb, Location nloc, ValueRange args) {
                           ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                           return s.add(args[1],
                                        s.mul(s.exp(args[2]), args[0]));
                         });
}

/// eps = (value - mean) / exp(logStd), or value itself (null mean).
static Value buildStandardized(OpBuilder &b, Location loc, Value value,
                               Value mean, Value logStd) {
  if (!mean)
    return value;
  return mapSingleResult(b, loc, {value, mean, logStd},
                         [](OpBuilder &nb, Location nloc, ValueRange args) {
                           ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                           return s.mul(s.sub(args[0], args[1]),
                                        s.exp(s.neg(args[2])));
                         });
}

/// Per sample, sum log N(eps; 0, 1) - log std: the log-density of
/// mean + std eps under N(mean, std^2).
static Value buildGaussianLogDensity(OpBuilder &b, Location loc, Value eps,
                                     Value logStd) {
  SmallVector<Value> inputs = {eps};
  if (logStd)
    inputs.push_back(logStd);
  Value terms = mapSingleResult(
      b, loc, inputs, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value value = s.sub(s.mul(s.c(-0.5), s.mul(args[0], args[0])),
                            s.c(0.5 * std::log(2 * llvm::numbers::pi)));
        return logStd ? s.sub(value, args[1]) : value;
      });
  return sumEventDims(b, loc, terms);
}

/// The mean and log standard deviation a `density` function computes from
/// (`input` [, context], params...) as one `tensor<?x2Nx...xT>` for values of
/// `type`; null for the standard normal (no function).
static std::pair<Value, Value> buildDiagonalNormal(OpBuilder &b, Location loc,
                                                   FlatSymbolRefAttr density,
                                                   Value input, Value context,
                                                   ValueRange params,
                                                   RankedTensorType type) {
  if (!density)
    return {};
  int64_t count = type.getDimSize(1);
  Type resultType = getBatchType(2 * count, type.getShape().drop_front(2),
                                 type.getElementType());
  Value h =
      callConditioner(b, loc, density, input, context, params, resultType);
  return {sliceFeatures(b, loc, h, 0, count),
          sliceFeatures(b, loc, h, count, count)};
}

/// Checks a density function's type: (input [, context], params...) ->
/// the means and log standard deviations of values of `type`.
static LogicalResult
verifyDensityFunction(Operation *op, SymbolTableCollection &table,
                      FlatSymbolRefAttr density, RankedTensorType inputType,
                      Value context, ValueRange params, RankedTensorType type) {
  if (!density)
    return success();
  SmallVector<Type> inputs = {getBatchType(inputType.getDimSize(1),
                                           inputType.getShape().drop_front(2),
                                           inputType.getElementType())};
  if (context)
    inputs.push_back(context.getType());
  llvm::append_range(inputs, params.getTypes());
  Type result =
      getBatchType(2 * type.getDimSize(1), type.getShape().drop_front(2),
                   type.getElementType());
  return verifyConditionerType(op, table, density, inputs, result,
                               "the means, then the log standard deviations "
                               "of the drawn part");
}

//===----------------------------------------------------------------------===//
// nf.abs
//===----------------------------------------------------------------------===//

LogicalResult AbsOp::verify() {
  RankedTensorType type = getInput().getType();
  if (Value logits = getLogits();
      logits && cast<RankedTensorType>(logits.getType()).getShape() !=
                    type.getShape().drop_front())
    return emitOpError("logits must have the event shape, but have type ")
           << logits.getType();
  return verifyNoiseType(*this, getNoise(), type,
                         "one uniform per element of the data");
}

int64_t AbsOp::getNoiseSize(bool inverse) {
  return inverse && !getNoise() ? getEventSize(getInput().getType()) : 0;
}

/// V at x: sum_i log P(sign x_i), or -D log 2 once per call without logits.
static Value buildAbsLogDet(AbsOp op, OpBuilder &b, Location loc, Value x,
                            Value logits) {
  RankedTensorType type = op.getInput().getType();
  if (!logits)
    return buildScalarTensor(b, loc, type.getElementType(),
                             -getEventSize(type) * std::log(2.0));
  Value terms = mapSingleResult(
      b, loc, {x, logits}, [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        // log sigmoid(l) = -softplus(-l), log sigmoid(-l) = -softplus(l).
        Value positive = s.cmp(arith::CmpFPredicate::OGE, args[0], s.c(0.0));
        return s.neg(s.softplus(s.select(positive, s.neg(args[1]), args[1])));
      });
  return sumEventDims(b, loc, terms);
}

FailureOr<LayerValues> AbsOp::buildForward(OpBuilder &b, ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  Value z = mapSingleResult(
      b, loc, {x}, [](OpBuilder &nb, Location nloc, ValueRange args) {
        return math::AbsFOp::create(nb, nloc, args[0]).getResult();
      });
  return LayerValues{
      z, withLogDet ? buildAbsLogDet(*this, b, loc, x, adaptor.getLogits())
                    : Value()};
}

FailureOr<LayerValues> AbsOp::buildInverse(OpBuilder &b, Value z,
                                           ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value noise =
      getLayerNoise(b, loc, adaptor.getNoise(), operands, getInput().getType());
  Value logits = adaptor.getLogits();
  SmallVector<Value> inputs = {z, noise};
  if (logits)
    inputs.push_back(logits);
  // Positive with probability sigmoid(logit) (1/2 without logits).
  Value x = mapSingleResult(
      b, loc, inputs, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value p = logits ? s.sigmoid(args[2]) : s.c(0.5);
        Value positive = s.cmp(arith::CmpFPredicate::OLT, args[1], p);
        return s.select(positive, args[0], s.neg(args[0]));
      });
  return LayerValues{x, withLogDet ? buildAbsLogDet(*this, b, loc, x, logits)
                                   : Value()};
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

int64_t SortOp::getNoiseSize(bool inverse) {
  return inverse && !getNoise() ? getSortedCount(*this) : 0;
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
  // The ranks of D (N) uniforms are a uniformly random permutation.
  Value noise =
      getLayerNoise(b, loc, adaptor.getNoise(), operands, getItemType(*this));
  Value x = buildPermuteByRanks(b, loc, z, buildRanks(b, loc, noise),
                                /*scatter=*/false);
  return LayerValues{x, withLogDet ? buildSortLogDet(*this, b, loc) : Value()};
}

//===----------------------------------------------------------------------===//
// nf.slice
//===----------------------------------------------------------------------===//

/// The dropped part's type: the data's with C - K features.
static RankedTensorType getDroppedType(SliceOp op) {
  RankedTensorType type = op.getInput().getType();
  SmallVector<int64_t> shape(type.getShape());
  shape[1] -= op.getOutput().getType().getDimSize(1);
  return RankedTensorType::get(shape, type.getElementType());
}

LogicalResult SliceOp::verify() {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (failed(verifyFeatureChange(*this, in, out, /*grows=*/false)))
    return failure();
  int64_t keep = out.getDimSize(1), features = in.getDimSize(1);
  if (keep < 1 || keep >= features)
    return emitOpError("must keep between 1 and ")
           << features - 1 << " of the " << features << " features, not "
           << keep;
  if (!getDecoder() && !getParams().empty())
    return emitOpError("has decoder parameters but no decoder");
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  return verifyNoiseType(*this, getNoise(), getDroppedType(*this),
                         "standard normal draws of the dropped part");
}

LogicalResult SliceOp::verifySymbolUses(SymbolTableCollection &table) {
  return verifyDensityFunction(*this, table, getDecoderAttr(),
                               getOutput().getType(), getCtx(), getParams(),
                               getDroppedType(*this));
}

int64_t SliceOp::getNoiseSize(bool inverse) {
  return inverse && !getNoise() ? 2 * getEventSize(getDroppedType(*this)) : 0;
}

FailureOr<LayerValues> SliceOp::buildForward(OpBuilder &b, ValueRange operands,
                                             bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  int64_t keep = getOutput().getType().getDimSize(1);
  RankedTensorType dropped = getDroppedType(*this);
  Value z = sliceFeatures(b, loc, x, 0, keep);
  if (!withLogDet)
    return LayerValues{z, Value()};
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getDecoderAttr(), z, adaptor.getCtx(),
                          adaptor.getParams(), dropped);
  Value eps = buildStandardized(
      b, loc, sliceFeatures(b, loc, x, keep, dropped.getDimSize(1)), mean,
      logStd);
  return LayerValues{z, buildGaussianLogDensity(b, loc, eps, logStd)};
}

FailureOr<LayerValues> SliceOp::buildInverse(OpBuilder &b, Value z,
                                             ValueRange operands,
                                             bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  RankedTensorType dropped = getDroppedType(*this);
  Value eps = adaptor.getNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), dropped);
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getDecoderAttr(), z, adaptor.getCtx(),
                          adaptor.getParams(), dropped);
  Value x =
      concatFeatures(b, loc, {z, buildGaussianDraw(b, loc, eps, mean, logStd)});
  return LayerValues{
      x, withLogDet ? buildGaussianLogDensity(b, loc, eps, logStd) : Value()};
}

//===----------------------------------------------------------------------===//
// nf.max_pool
//===----------------------------------------------------------------------===//

/// The type of the gaps of a max-pooled image: 3C channels of z's size.
static RankedTensorType getGapType(MaxPoolOp op) {
  RankedTensorType out = op.getOutput().getType();
  SmallVector<int64_t> shape(out.getShape());
  shape[1] *= 3;
  return RankedTensorType::get(shape, out.getElementType());
}

LogicalResult MaxPoolOp::verify() {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (in.getRank() != 4 || in.getDimSize(2) % 2 || in.getDimSize(3) % 2)
    return emitOpError("expects images tensor<?xCxHxWxT> with even H and W, "
                       "but got ")
           << in;
  if (out.getShape().drop_front() != ArrayRef<int64_t>{in.getDimSize(1),
                                                       in.getDimSize(2) / 2,
                                                       in.getDimSize(3) / 2} ||
      out.getElementType() != in.getElementType())
    return emitOpError("result must be the input with H and W halved, but "
                       "maps ")
           << in << " to " << out;
  if (!getDecoder() && (!getParams().empty() || getCtx()))
    return emitOpError("has decoder parameters or a context but no decoder");
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  SmallVector<int64_t> noiseShape(out.getShape());
  noiseShape[1] *= 4;
  return verifyNoiseType(
      *this, getNoise(),
      RankedTensorType::get(noiseShape, out.getElementType()),
      "C channels of uniforms for the maxima's positions, then 3C of standard "
      "normal draws for the gaps");
}

LogicalResult MaxPoolOp::verifySymbolUses(SymbolTableCollection &table) {
  if (!getDecoderAttr())
    return success();
  RankedTensorType out = getOutput().getType();
  SmallVector<Type> inputs = {getBatchType(
      out.getDimSize(1), out.getShape().drop_front(2), out.getElementType())};
  if (Value context = getCtx())
    inputs.push_back(context.getType());
  llvm::append_range(inputs, getParams().getTypes());
  return verifyConditionerType(*this, table, getDecoderAttr(), inputs,
                               getBatchType(3 * out.getDimSize(1),
                                            out.getShape().drop_front(2),
                                            out.getElementType()),
                               "the log scales of the gaps' half-normals");
}

int64_t MaxPoolOp::getNoiseSize(bool inverse) {
  return inverse && !getNoise() ? 7 * getEventSize(getOutput().getType()) : 0;
}

/// The offsets (0 or 1, 0 or 1) of window position k = 2a + b.
static std::array<int64_t, 2> getWindowOffset(int k) { return {k / 2, k % 2}; }

/// The strided slice of `image` (or the insertion of `part` into it) that
/// holds window position k of every window.
static SmallVector<OpFoldResult> getWindowOffsets(OpBuilder &b, int k) {
  auto [row, column] = getWindowOffset(k);
  return {b.getIndexAttr(0), b.getIndexAttr(0), b.getIndexAttr(row),
          b.getIndexAttr(column)};
}

static SmallVector<OpFoldResult> getWindowStrides(OpBuilder &b) {
  return {b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(2),
          b.getIndexAttr(2)};
}

/// The log scales of the gaps' half-normals (null: scale 1).
static Value buildGapLogScales(MaxPoolOp op, OpBuilder &b, Location loc,
                               MaxPoolOp::Adaptor adaptor, Value z) {
  if (!op.getDecoderAttr())
    return Value();
  RankedTensorType gaps = getGapType(op);
  return callConditioner(
      b, loc, op.getDecoderAttr(), z, adaptor.getCtx(), adaptor.getParams(),
      getBatchType(gaps.getDimSize(1), gaps.getShape().drop_front(2),
                   gaps.getElementType()));
}

/// V = sum over gaps of log HalfNormal(d; scale) - numel(z) log 4.
static Value buildMaxPoolLogDet(MaxPoolOp op, OpBuilder &b, Location loc,
                                Value gaps, Value logScales) {
  RankedTensorType out = op.getOutput().getType();
  Value eps = gaps;
  if (logScales)
    eps = mapSingleResult(b, loc, {gaps, logScales},
                          [](OpBuilder &nb, Location nloc, ValueRange args) {
                            ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                            return s.mul(args[0], s.exp(s.neg(args[1])));
                          });
  // A half-normal is twice the normal density on d >= 0.
  Value perSample = buildGaussianLogDensity(b, loc, eps, logScales);
  double constant = getEventSize(out) * (3 * std::log(2.0) - std::log(4.0));
  return addLogDets(b, loc, perSample,
                    buildScalarTensor(b, loc, out.getElementType(), constant));
}

/// Interleaves P tensors `parts` (?xCxHxW) to ?x(C P)xHxW, channel c P + m
/// from parts[m].
static Value interleaveChannels(OpBuilder &b, Location loc, ValueRange parts) {
  auto type = cast<RankedTensorType>(parts.front().getType());
  int64_t count = parts.size();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, parts[0]);
  sizes.insert(sizes.begin() + 2, b.getIndexAttr(count));
  Value stacked = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  SmallVector<OpFoldResult> partSizes = tensor::getMixedSizes(b, loc, parts[0]);
  partSizes.insert(partSizes.begin() + 2, b.getIndexAttr(1));
  SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
  for (auto [m, part] : llvm::enumerate(parts)) {
    SmallVector<OpFoldResult> offsets(5, b.getIndexAttr(0));
    offsets[2] = b.getIndexAttr(m);
    stacked = tensor::InsertSliceOp::create(b, loc, part, stacked, offsets,
                                            partSizes, strides);
  }
  SmallVector<int64_t> shape(type.getShape());
  shape[1] = ShapedType::isDynamic(shape[1]) ? shape[1] : shape[1] * count;
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), stacked,
      SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
}

FailureOr<LayerValues>
MaxPoolOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  RankedTensorType out = getOutput().getType();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  sizes[2] = b.getIndexAttr(out.getDimSize(2));
  sizes[3] = b.getIndexAttr(out.getDimSize(3));
  auto windowType =
      RankedTensorType::get({ShapedType::kDynamic, out.getDimSize(1),
                             out.getDimSize(2), out.getDimSize(3)},
                            out.getElementType());
  SmallVector<Value> windows;
  for (int k = 0; k < 4; ++k)
    windows.push_back(tensor::ExtractSliceOp::create(
        b, loc, windowType, x, getWindowOffsets(b, k), sizes,
        getWindowStrides(b)));
  // z = the maximum; the gaps to the other three in index order.
  SmallVector<Value> results = mapElementwise(
      b, loc, windows[0], windows, 4,
      [](OpBuilder &nb, Location nloc, ValueRange v) {
        ScalarBuilder s = scalarFor(nb, nloc, v[0]);
        Value z = s.max(s.max(v[0], v[1]), s.max(v[2], v[3]));
        // k = the first index holding the maximum.
        Value k = s.c(3.0);
        for (int i = 2; i >= 0; --i)
          k = s.select(s.cmp(arith::CmpFPredicate::OEQ, v[i], z), s.c(i), k);
        SmallVector<Value> values = {z};
        for (int m = 0; m < 3; ++m) {
          // The m-th other position: m below k, m + 1 from k on.
          Value before = s.cmp(arith::CmpFPredicate::OLT, s.c(m), k);
          values.push_back(s.sub(z, s.select(before, v[m], v[m + 1])));
        }
        return values;
      });
  Value z = results[0];
  if (!withLogDet)
    return LayerValues{z, Value()};
  Value gaps = interleaveChannels(b, loc, {results[1], results[2], results[3]});
  return LayerValues{
      z, buildMaxPoolLogDet(*this, b, loc, gaps,
                            buildGapLogScales(*this, b, loc, adaptor, z))};
}

FailureOr<LayerValues> MaxPoolOp::buildInverse(OpBuilder &b, Value z,
                                               ValueRange operands,
                                               bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  RankedTensorType out = getOutput().getType(), in = getInput().getType();
  RankedTensorType gapType = getGapType(*this);
  int64_t channels = out.getDimSize(1), count = getEventSize(out);
  Value positions, eps;
  if (Value noise = adaptor.getNoise()) {
    positions = sliceFeatures(b, loc, noise, 0, channels);
    eps = sliceFeatures(b, loc, noise, channels, 3 * channels);
  } else {
    Value flat = operands.back();
    positions =
        getLayerNoise(b, loc, Value(),
                      ValueRange{sliceFeatures(b, loc, flat, 0, count)}, out);
    eps = buildStandardNormal(
        b, loc, sliceFeatures(b, loc, flat, count, 6 * count), gapType);
  }
  Value logScales = buildGapLogScales(*this, b, loc, adaptor, z);
  SmallVector<Value> gapInputs = {eps};
  if (logScales)
    gapInputs.push_back(logScales);
  Value gaps = mapSingleResult(
      b, loc, gapInputs, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value magnitude = s.abs(args[0]);
        return logScales ? s.mul(magnitude, s.exp(args[1])) : magnitude;
      });
  SmallVector<Value> inputs = {z, positions};
  for (int m = 0; m < 3; ++m)
    inputs.push_back(sliceFeatures(b, loc, gaps, m, channels, /*stride=*/3));
  // Window position i holds z if i = k, else z minus its gap.
  SmallVector<Value> windows = mapElementwise(
      b, loc, z, inputs, 4, [](OpBuilder &nb, Location nloc, ValueRange v) {
        ScalarBuilder s = scalarFor(nb, nloc, v[0]);
        Value k = s.min(math::FloorOp::create(nb, nloc, s.mul(v[1], s.c(4.0))),
                        s.c(3.0));
        SmallVector<Value> values;
        for (int i = 0; i < 4; ++i) {
          Value gap =
              i == 0   ? v[2]
              : i == 3 ? v[4]
                       : s.select(s.cmp(arith::CmpFPredicate::OLT, s.c(i), k),
                                  v[2 + i], v[1 + i]);
          values.push_back(s.select(s.cmp(arith::CmpFPredicate::OEQ, k, s.c(i)),
                                    v[0], s.sub(v[0], gap)));
        }
        return values;
      });
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, z);
  SmallVector<OpFoldResult> imageSizes = tensor::getMixedSizes(b, loc, z);
  imageSizes[2] = b.getIndexAttr(in.getDimSize(2));
  imageSizes[3] = b.getIndexAttr(in.getDimSize(3));
  Value x = tensor::EmptyOp::create(b, loc, imageSizes, in.getElementType());
  for (int k = 0; k < 4; ++k)
    x = tensor::InsertSliceOp::create(b, loc, windows[k], x,
                                      getWindowOffsets(b, k), sizes,
                                      getWindowStrides(b));
  return LayerValues{x, withLogDet
                            ? buildMaxPoolLogDet(*this, b, loc, gaps, logScales)
                            : Value()};
}

//===----------------------------------------------------------------------===//
// nf.augment
//===----------------------------------------------------------------------===//

/// The drawn part's type: the output's last E features.
static RankedTensorType getAugmentedType(AugmentOp op) {
  RankedTensorType out = op.getOutput().getType();
  SmallVector<int64_t> shape(out.getShape());
  shape[1] -= op.getInput().getType().getDimSize(1);
  return RankedTensorType::get(shape, out.getElementType());
}

LogicalResult AugmentOp::verify() {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (failed(verifyFeatureChange(*this, in, out, /*grows=*/true)))
    return failure();
  if (!getEncoder() && !getParams().empty())
    return emitOpError("has encoder parameters but no encoder");
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  return verifyNoiseType(*this, getNoise(), getAugmentedType(*this),
                         "standard normal draws of the added part");
}

LogicalResult AugmentOp::verifySymbolUses(SymbolTableCollection &table) {
  return verifyDensityFunction(*this, table, getEncoderAttr(),
                               getInput().getType(), getCtx(), getParams(),
                               getAugmentedType(*this));
}

int64_t AugmentOp::getNoiseSize(bool inverse) {
  return !inverse && !getNoise() ? 2 * getEventSize(getAugmentedType(*this))
                                 : 0;
}

FailureOr<LayerValues>
AugmentOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  RankedTensorType added = getAugmentedType(*this);
  Value x = adaptor.getInput();
  Value eps = adaptor.getNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), added);
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getParams(), added);
  Value z =
      concatFeatures(b, loc, {x, buildGaussianDraw(b, loc, eps, mean, logStd)});
  // V = -log q(e | x).
  Value logDet =
      withLogDet
          ? negateLogDet(b, loc, buildGaussianLogDensity(b, loc, eps, logStd))
          : Value();
  return LayerValues{z, logDet};
}

FailureOr<LayerValues> AugmentOp::buildInverse(OpBuilder &b, Value z,
                                               ValueRange operands,
                                               bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  int64_t features = getInput().getType().getDimSize(1);
  RankedTensorType added = getAugmentedType(*this);
  Value x = sliceFeatures(b, loc, z, 0, features);
  if (!withLogDet)
    return LayerValues{x, Value()};
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getParams(), added);
  Value eps = buildStandardized(
      b, loc, sliceFeatures(b, loc, z, features, added.getDimSize(1)), mean,
      logStd);
  return LayerValues{
      x, negateLogDet(b, loc, buildGaussianLogDensity(b, loc, eps, logStd))};
}

//===----------------------------------------------------------------------===//
// nf.uniform_dequantize
//===----------------------------------------------------------------------===//

LogicalResult UniformDequantizeOp::verify() {
  if (static_cast<int64_t>(getLevels()) < 2)
    return emitOpError("needs at least 2 levels, but has ")
           << static_cast<int64_t>(getLevels());
  return verifyNoiseType(*this, getNoise(), getInput().getType(),
                         "one uniform per element of the data");
}

int64_t UniformDequantizeOp::getNoiseSize(bool inverse) {
  return !inverse && !getNoise() ? getEventSize(getInput().getType()) : 0;
}

/// -D log K for data of `type` on K levels, once per call (the uniform
/// dequantizer's V: q(u | x) = 1 on the unit cube).
static Value buildLevelsLogDet(OpBuilder &b, Location loc,
                               RankedTensorType type, int64_t levels) {
  return buildScalarTensor(b, loc, type.getElementType(),
                           -getEventSize(type) *
                               std::log(static_cast<double>(levels)));
}

/// x = clamp(floor(K z), 0, K - 1): the generative map of dequantizers.
static Value buildRounding(OpBuilder &b, Location loc, Value z,
                           int64_t levels) {
  double k = static_cast<double>(levels);
  return mapSingleResult(
      b, loc, {z}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value level = math::FloorOp::create(nb, nloc, s.mul(args[0], s.c(k)));
        return s.min(s.max(level, s.c(0.0)), s.c(k - 1));
      });
}

static Value buildDequantizeLogDet(UniformDequantizeOp op, OpBuilder &b,
                                   Location loc) {
  return buildLevelsLogDet(b, loc, op.getInput().getType(), op.getLevels());
}

FailureOr<LayerValues> UniformDequantizeOp::buildForward(OpBuilder &b,
                                                         ValueRange operands,
                                                         bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value noise =
      getLayerNoise(b, loc, adaptor.getNoise(), operands, getInput().getType());
  double levels = getLevels();
  Value z =
      mapSingleResult(b, loc, {adaptor.getInput(), noise},
                      [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                        return s.div(s.add(args[0], args[1]), s.c(levels));
                      });
  return LayerValues{z, withLogDet ? buildDequantizeLogDet(*this, b, loc)
                                   : Value()};
}

FailureOr<LayerValues> UniformDequantizeOp::buildInverse(OpBuilder &b, Value z,
                                                         ValueRange,
                                                         bool withLogDet) {
  Location loc = getLoc();
  return LayerValues{buildRounding(b, loc, z, getLevels()),
                     withLogDet ? buildDequantizeLogDet(*this, b, loc)
                                : Value()};
}

//===----------------------------------------------------------------------===//
// nf.variational_dequantize
//===----------------------------------------------------------------------===//

LogicalResult VariationalDequantizeOp::verify() {
  if (static_cast<int64_t>(getLevels()) < 2)
    return emitOpError("needs at least 2 levels, but has ")
           << static_cast<int64_t>(getLevels());
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  return verifyNoiseType(*this, getNoise(), getInput().getType(),
                         "standard normal draws of the data's shape");
}

/// The encoder when it is a conditional flow (an nf.model), else null.
static ModelOp getEncoderFlow(VariationalDequantizeOp op) {
  return SymbolTable::lookupNearestSymbolFrom<ModelOp>(op, op.getEncoderAttr());
}

LogicalResult
VariationalDequantizeOp::verifySymbolUses(SymbolTableCollection &table) {
  RankedTensorType type = getInput().getType();
  auto flow = table.lookupNearestSymbolFrom<ModelOp>(*this, getEncoderAttr());
  if (!flow)
    return verifyDensityFunction(*this, table, getEncoderAttr(), type, getCtx(),
                                 getParams(), type);
  if (!getParams().empty() || getCtx())
    return emitOpError("encoder flow ")
           << getEncoderAttr()
           << " takes no parameters or context here: it holds its "
              "parameters and gets the data as its context";
  if (type.getRank() != 2)
    return emitOpError("with an encoder flow expects data of type "
                       "tensor<?xDxT>, but got ")
           << type;
  Type data = getBatchType(type.getDimSize(1), {}, type.getElementType());
  BlockArgument context = flow.getConditioningContext();
  if (flow.getDataType() != data || flow.getLatent().getType() != data ||
      !context || context.getType() != data)
    return emitOpError("encoder flow ")
           << getEncoderAttr() << " must map " << data << " to " << data
           << " given the data (" << data << ") as its context";
  if (flow.getExactness() != Exactness::Exact)
    return emitOpError("encoder flow ")
           << getEncoderAttr() << " must be exact (bijective layers only)";
  if (flow.getBase().getNoise() != BaseNoise::StandardNormal)
    return emitOpError("encoder flow ")
           << getEncoderAttr() << " needs a normal base distribution";
  return success();
}

int64_t VariationalDequantizeOp::getNoiseSize(bool inverse) {
  return !inverse && !getNoise() ? 2 * getEventSize(getInput().getType()) : 0;
}

/// V = -D log K - log q(u | x) with u = sigmoid(v):
/// log q(u | x) = log q(v | x) - sum log sigmoid'(v).
static Value buildVariationalDequantizeLogDet(VariationalDequantizeOp op,
                                              OpBuilder &b, Location loc,
                                              Value v, Value logQv) {
  // log sigmoid'(v) = -softplus(-v) - softplus(v).
  Value logSlopes = mapSingleResult(
      b, loc, {v}, [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.neg(s.add(s.softplus(s.neg(args[0])), s.softplus(args[0])));
      });
  // -log q(u | x) = sum log sigmoid'(v) - log q(v | x).
  Value negLogQ =
      mapSingleResult(b, loc, {sumEventDims(b, loc, logSlopes), logQv},
                      [](OpBuilder &nb, Location nloc, ValueRange args) {
                        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                        return s.sub(args[0], args[1]);
                      });
  return addLogDets(
      b, loc, negLogQ,
      buildLevelsLogDet(b, loc, op.getInput().getType(), op.getLevels()));
}

/// The encoder flow's map between eps and v given x, and log q(v | x):
/// sampling (eps -> v, its generative map) or evaluating (v -> eps).
static FailureOr<std::pair<Value, Value>>
buildEncoderFlow(VariationalDequantizeOp op, ModelOp flow, OpBuilder &b,
                 Location loc, Value x, Value from, bool sample) {
  IRMapping mapping;
  cloneModelParameters(b, flow, castToDynamicBatch(b, loc, x), mapping);
  Value start = castToDynamicBatch(b, loc, from);
  FailureOr<LayerValues> built =
      sample ? buildModelInverse(b, flow, start, mapping, /*withLogDet=*/true)
             : buildModelForward(b, flow, start, mapping, /*withLogDet=*/true);
  if (failed(built))
    return op.emitOpError("cannot build its encoder flow ")
           << op.getEncoderAttr();
  Value eps = sample ? start : built->value;
  Value v = sample ? built->value : start;
  // log q(v | x) = log p(eps) + V(v).
  Value logQ = mapSingleResult(
      b, loc, {flow.getBase().buildLogProb(b, loc, eps), built->logDet},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.add(args[0], args[1]);
      });
  return std::make_pair(v, logQ);
}

FailureOr<LayerValues>
VariationalDequantizeOp::buildForward(OpBuilder &b, ValueRange operands,
                                      bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  RankedTensorType type = getInput().getType();
  Value x = adaptor.getInput();
  Value eps = adaptor.getNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), type);
  Value v, logQv;
  if (ModelOp flow = getEncoderFlow(*this)) {
    FailureOr<std::pair<Value, Value>> drawn =
        buildEncoderFlow(*this, flow, b, loc, x, eps, /*sample=*/true);
    if (failed(drawn))
      return failure();
    std::tie(v, logQv) = *drawn;
  } else {
    auto [mean, logStd] =
        buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                            adaptor.getParams(), type);
    v = buildGaussianDraw(b, loc, eps, mean, logStd);
    logQv = buildGaussianLogDensity(b, loc, eps, logStd);
  }
  double levels = static_cast<double>(getLevels());
  Value z = mapSingleResult(
      b, loc, {x, v}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.div(s.add(args[0], s.sigmoid(args[1])), s.c(levels));
      });
  return LayerValues{
      z, withLogDet ? buildVariationalDequantizeLogDet(*this, b, loc, v, logQv)
                    : Value()};
}

FailureOr<LayerValues>
VariationalDequantizeOp::buildInverse(OpBuilder &b, Value z,
                                      ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = buildRounding(b, loc, z, getLevels());
  if (!withLogDet)
    return LayerValues{x, Value()};
  // The pair's u = K z - x and v = logit(u); z outside the cells of the
  // levels (u not in (0, 1)) has V = -inf.
  double levels = static_cast<double>(getLevels());
  SmallVector<Value> logitAndSupport = mapElementwise(
      b, loc, z, {z, x}, 2, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value u = s.sub(s.mul(args[0], s.c(levels)), args[1]);
        Value inside = arith::AndIOp::create(
            nb, nloc, s.cmp(arith::CmpFPredicate::OGT, u, s.c(0.0)),
            s.cmp(arith::CmpFPredicate::OLT, u, s.c(1.0)));
        // Outside, any finite v keeps the other terms finite.
        Value safe = s.select(inside, u, s.c(0.5));
        return SmallVector<Value>{
            s.sub(s.log(safe), s.log1p(s.neg(safe))),
            s.select(inside, s.c(0.0), s.minusInfinity())};
      });
  Value v = logitAndSupport[0];
  Value logQv;
  if (ModelOp flow = getEncoderFlow(*this)) {
    FailureOr<std::pair<Value, Value>> evaluated =
        buildEncoderFlow(*this, flow, b, loc, x, v, /*sample=*/false);
    if (failed(evaluated))
      return failure();
    logQv = evaluated->second;
  } else {
    auto [mean, logStd] =
        buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                            adaptor.getParams(), getInput().getType());
    logQv = buildGaussianLogDensity(
        b, loc, buildStandardized(b, loc, v, mean, logStd), logStd);
  }
  return LayerValues{
      x, addLogDets(b, loc,
                    buildVariationalDequantizeLogDet(*this, b, loc, v, logQv),
                    sumEventDims(b, loc, logitAndSupport[1]))};
}

//===----------------------------------------------------------------------===//
// nf.vae
//===----------------------------------------------------------------------===//

LogicalResult VAEOp::verify() {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (in.getRank() != 2 || out.getRank() != 2)
    return emitOpError("maps tensor<?xDxT> to tensor<?xLxT>, not ")
           << in << " to " << out;
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  if (failed(verifyNoiseType(*this, getEncoderNoise(), out,
                             "standard normal draws of z")))
    return failure();
  return verifyNoiseType(*this, getDecoderNoise(), in,
                         "standard normal draws of x");
}

LogicalResult VAEOp::verifySymbolUses(SymbolTableCollection &table) {
  RankedTensorType in = getInput().getType(), out = getOutput().getType();
  if (!getEncoderAttr() || !getDecoderAttr())
    return emitOpError("needs an encoder and a decoder");
  return failure(
      failed(verifyDensityFunction(*this, table, getEncoderAttr(), in, getCtx(),
                                   getEncoderParams(), out)) ||
      failed(verifyDensityFunction(*this, table, getDecoderAttr(), out,
                                   getCtx(), getDecoderParams(), in)));
}

int64_t VAEOp::getNoiseSize(bool inverse) {
  if (inverse)
    return getDecoderNoise() ? 0 : 2 * getEventSize(getInput().getType());
  return getEncoderNoise() ? 0 : 2 * getEventSize(getOutput().getType());
}

/// V = log p(x | z) - log q(z | x) for a pair drawn either way.
static Value buildVAELogDet(VAEOp op, OpBuilder &b, Location loc,
                            VAEOp::Adaptor adaptor, Value x, Value z) {
  RankedTensorType in = op.getInput().getType(), out = op.getOutput().getType();
  auto [encoderMean, encoderLogStd] =
      buildDiagonalNormal(b, loc, op.getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getEncoderParams(), out);
  auto [decoderMean, decoderLogStd] =
      buildDiagonalNormal(b, loc, op.getDecoderAttr(), z, adaptor.getCtx(),
                          adaptor.getDecoderParams(), in);
  Value logQ = buildGaussianLogDensity(
      b, loc, buildStandardized(b, loc, z, encoderMean, encoderLogStd),
      encoderLogStd);
  Value logP = buildGaussianLogDensity(
      b, loc, buildStandardized(b, loc, x, decoderMean, decoderLogStd),
      decoderLogStd);
  return addLogDets(b, loc, logP, negateLogDet(b, loc, logQ));
}

FailureOr<LayerValues> VAEOp::buildForward(OpBuilder &b, ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  Value eps = adaptor.getEncoderNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), getOutput().getType());
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getEncoderAttr(), x, adaptor.getCtx(),
                          adaptor.getEncoderParams(), getOutput().getType());
  Value z = buildGaussianDraw(b, loc, eps, mean, logStd);
  return LayerValues{
      z, withLogDet ? buildVAELogDet(*this, b, loc, adaptor, x, z) : Value()};
}

FailureOr<LayerValues> VAEOp::buildInverse(OpBuilder &b, Value z,
                                           ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value eps = adaptor.getDecoderNoise();
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), getInput().getType());
  auto [mean, logStd] =
      buildDiagonalNormal(b, loc, getDecoderAttr(), z, adaptor.getCtx(),
                          adaptor.getDecoderParams(), getInput().getType());
  Value x = buildGaussianDraw(b, loc, eps, mean, logStd);
  return LayerValues{
      x, withLogDet ? buildVAELogDet(*this, b, loc, adaptor, x, z) : Value()};
}

//===----------------------------------------------------------------------===//
// nf.cif
//===----------------------------------------------------------------------===//

/// The index u's type: `tensor<?xUxT>`.
static RankedTensorType getIndexType(CIFOp op) {
  RankedTensorType type = op.getInput().getType();
  return RankedTensorType::get(
      {ShapedType::kDynamic, static_cast<int64_t>(op.getIndexFeatures())},
      type.getElementType());
}

LogicalResult CIFOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT>, but got ") << type;
  if (static_cast<int64_t>(getIndexFeatures()) < 1)
    return emitOpError("needs index_features >= 1");
  if (failed(verifyContext(*this, getCtx())))
    return failure();
  RankedTensorType index = getIndexType(*this);
  if (failed(verifyNoiseType(*this, getForwardNoise(), index,
                             "standard normal draws of u")))
    return failure();
  return verifyNoiseType(*this, getInverseNoise(), index,
                         "standard normal draws of u");
}

LogicalResult CIFOp::verifySymbolUses(SymbolTableCollection &table) {
  RankedTensorType type = getInput().getType(), index = getIndexType(*this);
  if (failed(verifyDensityFunction(*this, table, getEncoderAttr(), type,
                                   getCtx(), getEncoderParams(), index)) ||
      failed(verifyDensityFunction(*this, table, getDecoderAttr(), type,
                                   getCtx(), getDecoderParams(), index)))
    return failure();
  SmallVector<Type> inputs = {index};
  if (Value context = getCtx())
    inputs.push_back(context.getType());
  llvm::append_range(inputs, getTransformParams().getTypes());
  return verifyConditionerType(
      *this, table, getTransformAttr(), inputs,
      getBatchType(2 * type.getDimSize(1), {}, type.getElementType()),
      "the shifts, then the log scales of x");
}

int64_t CIFOp::getNoiseSize(bool inverse) {
  Value given = inverse ? getInverseNoise() : getForwardNoise();
  return given ? 0 : 2 * getIndexFeatures();
}

namespace {
/// The shift and log scale that index u gives the affine map of x.
struct CIFTransform {
  Value shift, logScale;
};
} // namespace

static CIFTransform buildCIFTransform(CIFOp op, OpBuilder &b, Location loc,
                                      CIFOp::Adaptor adaptor, Value u) {
  int64_t features = op.getInput().getType().getDimSize(1);
  Value h = callConditioner(
      b, loc, op.getTransformAttr(), u, adaptor.getCtx(),
      adaptor.getTransformParams(),
      getBatchType(2 * features, {}, op.getInput().getType().getElementType()));
  return {sliceFeatures(b, loc, h, 0, features),
          sliceFeatures(b, loc, h, features, features)};
}

/// V = sum log_scale(u) + log p(u | z) - log q(u | x).
static Value buildCIFLogDet(CIFOp op, OpBuilder &b, Location loc,
                            CIFOp::Adaptor adaptor, Value x, Value z, Value u,
                            Value logScale) {
  RankedTensorType index = getIndexType(op);
  auto logDensity = [&](FlatSymbolRefAttr density, Value given,
                        ValueRange params) {
    auto [mean, logStd] = buildDiagonalNormal(b, loc, density, given,
                                              adaptor.getCtx(), params, index);
    return buildGaussianLogDensity(
        b, loc, buildStandardized(b, loc, u, mean, logStd), logStd);
  };
  Value logP = logDensity(op.getDecoderAttr(), z, adaptor.getDecoderParams());
  Value logQ = logDensity(op.getEncoderAttr(), x, adaptor.getEncoderParams());
  return mapSingleResult(b, loc, {sumEventDims(b, loc, logScale), logP, logQ},
                         [](OpBuilder &nb, Location nloc, ValueRange args) {
                           ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                           return s.sub(s.add(args[0], args[1]), args[2]);
                         });
}

/// u ~ N(mean, std^2) of `density` at `given`, from `eps` (or the layer noise).
static Value buildIndexDraw(CIFOp op, OpBuilder &b, Location loc,
                            CIFOp::Adaptor adaptor, ValueRange operands,
                            Value eps, FlatSymbolRefAttr density, Value given,
                            ValueRange params) {
  RankedTensorType index = getIndexType(op);
  if (!eps)
    eps = buildStandardNormal(b, loc, operands.back(), index);
  auto [mean, logStd] = buildDiagonalNormal(b, loc, density, given,
                                            adaptor.getCtx(), params, index);
  return buildGaussianDraw(b, loc, eps, mean, logStd);
}

FailureOr<LayerValues> CIFOp::buildForward(OpBuilder &b, ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  Value u = buildIndexDraw(*this, b, loc, adaptor, operands,
                           adaptor.getForwardNoise(), getEncoderAttr(), x,
                           adaptor.getEncoderParams());
  CIFTransform t = buildCIFTransform(*this, b, loc, adaptor, u);
  Value z =
      mapSingleResult(b, loc, {x, t.shift, t.logScale},
                      [](OpBuilder &nb, Location nloc, ValueRange args) {
                        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                        return s.mul(s.add(args[0], args[1]), s.exp(args[2]));
                      });
  return LayerValues{z, withLogDet ? buildCIFLogDet(*this, b, loc, adaptor, x,
                                                    z, u, t.logScale)
                                   : Value()};
}

FailureOr<LayerValues> CIFOp::buildInverse(OpBuilder &b, Value z,
                                           ValueRange operands,
                                           bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value u = buildIndexDraw(*this, b, loc, adaptor, operands,
                           adaptor.getInverseNoise(), getDecoderAttr(), z,
                           adaptor.getDecoderParams());
  CIFTransform t = buildCIFTransform(*this, b, loc, adaptor, u);
  Value x = mapSingleResult(
      b, loc, {z, t.shift, t.logScale},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        return s.sub(s.mul(args[0], s.exp(s.neg(args[2]))), args[1]);
      });
  return LayerValues{x, withLogDet ? buildCIFLogDet(*this, b, loc, adaptor, x,
                                                    z, u, t.logScale)
                                   : Value()};
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

int64_t RandomPermutationOp::getNoiseSize(bool inverse) {
  bool given = inverse ? static_cast<bool>(getInverseNoise())
                       : static_cast<bool>(getForwardNoise());
  return given ? 0 : getEventSize(getInput().getType());
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
