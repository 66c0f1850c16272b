//===- SurjectionOps.cpp - Inference surjections (SurVAE) -----------------===//
//
// Deterministic many-to-one maps x -> z with an exact likelihood term
// V = log p(x | z) and a stochastic right inverse:
//   nf.abs    z = |x|,          V = sum log P(sign),     inverse: random signs
//   nf.sort   z = sort(x),      V = -log D!,             inverse: random order
//   nf.slice  z = x[:, :K],     V = log p(x[:, K:] | z), inverse: decoder draw
// The generative directions take uniform noise from the kernel's layer noise
// (appended to the operands) unless the op has an explicit `noise` operand.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/Support/MathExtras.h"
#include <cmath>

using namespace mlir;
using namespace mlir::nf;

/// Values per sample of a batch type.
static int64_t getEventSize(Type type) {
  int64_t size = 1;
  for (int64_t d : cast<RankedTensorType>(type).getShape().drop_front())
    size *= d;
  return size;
}

/// The layer's noise: its explicit operand, else the layer-noise slice
/// (`tensor<?xNxT>`) appended after its operands, reshaped to `type`'s event
/// shape.
static Value getLayerNoise(OpBuilder &b, Location loc, Value explicitNoise,
                           ValueRange operands, RankedTensorType type) {
  if (explicitNoise)
    return explicitNoise;
  Value flat = operands.back();
  if (type.getRank() == 2)
    return flat;
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = ShapedType::kDynamic;
  SmallVector<ReassociationIndices> reassociation = {
      {0}, llvm::to_vector(llvm::seq<int64_t>(1, type.getRank()))};
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), flat,
      reassociation);
}

/// Checks an explicit noise operand's type.
static LogicalResult verifyNoiseType(Operation *op, Value noise,
                                     RankedTensorType expected,
                                     StringRef what) {
  if (!noise)
    return success();
  auto type = cast<RankedTensorType>(noise.getType());
  if (type.getShape().drop_front() != expected.getShape().drop_front() ||
      type.getElementType() != expected.getElementType())
    return op->emitOpError("noise must hold ")
           << what << " (" << expected << "), but has type " << type;
  return success();
}

/// A rank-0 tensor holding `value`.
static Value buildScalarTensor(OpBuilder &b, Location loc, Type elementType,
                               double value) {
  auto type = RankedTensorType::get({}, elementType);
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, FloatAttr::get(elementType, value)));
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

LogicalResult SortOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT>, but got ") << type;
  return verifyNoiseType(*this, getNoise(), type, "one uniform per feature");
}

int64_t SortOp::getNoiseSize(bool inverse) {
  return inverse && !getNoise() ? getEventSize(getInput().getType()) : 0;
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
/// out[:, i] = values[:, ranks[:, i]] (gathering: a random order).
static Value buildPermuteByRanks(OpBuilder &b, Location loc, Value values,
                                 Value ranks, bool scatter) {
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  Type elementType = getElementTypeOrSelf(values.getType());
  Value init = linalg::FillOp::create(
                   b, loc, createFloatConstant(b, loc, elementType, 0.0),
                   createEmptyLike(b, loc, values))
                   .getResult(0);
  // Loops (b, i, j): out[b, i] += values[b, j] if the ranks match.
  SmallVector<AffineMap> maps = {
      AffineMap::get(3, 0, {d(0), d(2)}, ctx),
      AffineMap::get(3, 0, {d(0), scatter ? d(2) : d(1)}, ctx),
      AffineMap::get(3, 0, {d(0), d(1)}, ctx)};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
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

/// V = -log D!, once per call.
static Value buildSortLogDet(SortOp op, OpBuilder &b, Location loc) {
  RankedTensorType type = op.getInput().getType();
  return buildScalarTensor(b, loc, type.getElementType(),
                           -std::lgamma(getEventSize(type) + 1.0));
}

FailureOr<LayerValues> SortOp::buildForward(OpBuilder &b, ValueRange operands,
                                            bool withLogDet) {
  Location loc = getLoc();
  Value x = operands.front();
  Value z = buildPermuteByRanks(b, loc, x, buildRanks(b, loc, x),
                                /*scatter=*/true);
  return LayerValues{z, withLogDet ? buildSortLogDet(*this, b, loc) : Value()};
}

FailureOr<LayerValues> SortOp::buildInverse(OpBuilder &b, Value z,
                                            ValueRange operands,
                                            bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  // The ranks of D uniforms are a uniformly random permutation.
  Value noise =
      getLayerNoise(b, loc, adaptor.getNoise(), operands, getInput().getType());
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
  if (in.getRank() != out.getRank() ||
      in.getShape().drop_front(2) != out.getShape().drop_front(2) ||
      in.getElementType() != out.getElementType())
    return emitOpError("result must be the input with fewer features along "
                       "dimension 1, but maps ")
           << in << " to " << out;
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
  if (!getDecoder())
    return success();
  RankedTensorType out = getOutput().getType();
  RankedTensorType dropped = getDroppedType(*this);
  SmallVector<Type> inputs = {getBatchType(
      out.getDimSize(1), out.getShape().drop_front(2), out.getElementType())};
  if (getCtx())
    inputs.push_back(getCtx().getType());
  llvm::append_range(inputs, getParams().getTypes());
  Type result =
      getBatchType(2 * dropped.getDimSize(1), dropped.getShape().drop_front(2),
                   dropped.getElementType());
  return verifyConditionerType(*this, table, getDecoderAttr(), inputs, result,
                               "the means, then the log standard deviations "
                               "of the dropped part");
}

int64_t SliceOp::getNoiseSize(bool inverse) {
  return inverse && !getNoise() ? 2 * getEventSize(getDroppedType(*this)) : 0;
}

/// The decoder's mean and log standard deviation of the dropped part given
/// z; null for the standard normal.
static std::pair<Value, Value> buildDecoder(SliceOp op, OpBuilder &b,
                                            Location loc,
                                            SliceOp::Adaptor adaptor, Value z) {
  if (!op.getDecoder())
    return {};
  RankedTensorType dropped = getDroppedType(op);
  int64_t count = dropped.getDimSize(1);
  Type resultType = getBatchType(2 * count, dropped.getShape().drop_front(2),
                                 dropped.getElementType());
  Value h = callConditioner(b, loc, op.getDecoderAttr(), z, adaptor.getCtx(),
                            adaptor.getParams(), resultType);
  return {sliceFeatures(b, loc, h, 0, count),
          sliceFeatures(b, loc, h, count, count)};
}

/// Per sample, sum log N(eps; 0, 1) - log std over the dropped part.
static Value buildDecoderLogDensity(OpBuilder &b, Location loc, Value eps,
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

FailureOr<LayerValues> SliceOp::buildForward(OpBuilder &b, ValueRange operands,
                                             bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  int64_t keep = getOutput().getType().getDimSize(1);
  int64_t drop = getDroppedType(*this).getDimSize(1);
  Value z = sliceFeatures(b, loc, x, 0, keep);
  if (!withLogDet)
    return LayerValues{z, Value()};
  Value dropped = sliceFeatures(b, loc, x, keep, drop);
  auto [mean, logStd] = buildDecoder(*this, b, loc, adaptor, z);
  // eps = (x_drop - mean) / std.
  Value eps =
      mean ? mapSingleResult(b, loc, {dropped, mean, logStd},
                             [](OpBuilder &nb, Location nloc, ValueRange args) {
                               ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                               return s.mul(s.sub(args[0], args[1]),
                                            s.exp(s.neg(args[2])));
                             })
           : dropped;
  return LayerValues{z, buildDecoderLogDensity(b, loc, eps, logStd)};
}

FailureOr<LayerValues> SliceOp::buildInverse(OpBuilder &b, Value z,
                                             ValueRange operands,
                                             bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  RankedTensorType dropped = getDroppedType(*this);
  Value eps = adaptor.getNoise();
  if (!eps) {
    // Box-Muller: sqrt(-2 log(1 - u1)) cos(2 pi u2) from the two halves.
    Value uniforms = operands.back();
    int64_t count = getEventSize(dropped);
    Value flat = mapSingleResult(
        b, loc,
        {sliceFeatures(b, loc, uniforms, 0, count),
         sliceFeatures(b, loc, uniforms, count, count)},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          ScalarBuilder s = scalarFor(nb, nloc, args[0]);
          Value radius =
              s.sqrt(s.mul(s.c(-2.0), s.log(s.sub(s.c(1.0), args[0]))));
          Value angle = s.mul(s.c(2 * llvm::numbers::pi), args[1]);
          return s.mul(radius, math::CosOp::create(nb, nloc, angle));
        });
    eps = getLayerNoise(b, loc, Value(), ValueRange{flat}, dropped);
  }
  auto [mean, logStd] = buildDecoder(*this, b, loc, adaptor, z);
  Value droppedValues =
      mean ? mapSingleResult(b, loc, {eps, mean, logStd},
                             [](OpBuilder &nb, Location nloc, ValueRange args) {
                               ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                               return s.add(args[1],
                                            s.mul(s.exp(args[2]), args[0]));
                             })
           : eps;
  Value x = concatFeatures(b, loc, {z, droppedValues});
  return LayerValues{x, withLogDet ? buildDecoderLogDensity(b, loc, eps, logStd)
                                   : Value()};
}
