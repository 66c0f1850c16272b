//===- InferenceSurjectionOps.cpp - Inference surjections -----------------===//
//
// Deterministic many-to-one maps x -> z with an exact V = log p(x | z) and
// a stochastic right inverse (SurVAE Flows):
//   nf.abs       z = |x|,          V = sum log P(sign),     inverse: random
//   signs nf.slice     z = x[:, :K],     V = log p(x[:, K:] | z), inverse:
//   decoder draw nf.max_pool  z = 2x2 maxima,   V = log p(gaps | z) - numel(z)
//   log 4
// (nf.sort is with the permutation layers.) The inverse takes uniform noise
// from the kernel's layer noise unless the op has an explicit noise operand.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"

#include "nf/Dialect/NF/IR/DiagonalNormal.h"
#include "nf/Dialect/NF/IR/LayerNoise.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <array>
#include <cmath>

using namespace mlir;
using namespace mlir::nf;

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

NoiseDraws AbsOp::getNoiseDraws(bool inverse) {
  if (!inverse)
    return {};
  return {getNoise(), /*uniforms=*/getEventSize(getInput().getType())};
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

NoiseDraws SliceOp::getNoiseDraws(bool inverse) {
  if (!inverse)
    return {};
  return {getNoise(), /*uniforms=*/0,
          /*normals=*/getEventSize(getDroppedType(*this))};
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

NoiseDraws MaxPoolOp::getNoiseDraws(bool inverse) {
  if (!inverse)
    return {};
  // A uniform for each maximum's position, normals for its three gaps.
  int64_t maxima = getEventSize(getOutput().getType());
  return {getNoise(), /*uniforms=*/maxima, /*normals=*/3 * maxima};
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
  // Each part gets its unit dimension explicitly: a rank-reducing insert
  // is ambiguous once the batch dimension is 1 too (one-row tiles), and
  // canonicalization may then drop the wrong unit dimension.
  SmallVector<int64_t> partShape(type.getShape());
  partShape.insert(partShape.begin() + 2, 1);
  auto partType = RankedTensorType::get(partShape, type.getElementType());
  for (auto [m, part] : llvm::enumerate(parts)) {
    SmallVector<OpFoldResult> offsets(5, b.getIndexAttr(0));
    offsets[2] = b.getIndexAttr(m);
    Value expanded = tensor::ExpandShapeOp::create(
        b, loc, partType, part,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    stacked = tensor::InsertSliceOp::create(b, loc, expanded, stacked, offsets,
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
