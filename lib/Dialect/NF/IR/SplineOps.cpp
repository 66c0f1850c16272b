//===- SplineOps.cpp - Rational-quadratic splines (Neural Spline Flows) ---===//
//
// The monotone rational-quadratic spline with linear tails of nflows'
// `unconstrained_rational_quadratic_spline`, as a scalar builder shared by
// nf.rq_spline (parameters given), nf.rq_spline_coupling and
// nf.rq_spline_autoregressive (parameters from a conditioner).
//
// Bins are found branch free: the quantities of bin k are selected by a
// chain of K - 1 comparisons against the interior knots, so the generated
// loops vectorize. The inverse solves the bin's quadratic a t^2 + b t + c = 0
// with the root formula chosen by the sign of b (2c / (-b - sqrt(disc)) for
// b >= 0, (-b + sqrt(disc)) / 2a for b < 0, where a > 0): neither form
// cancels, and no finite input gives NaN.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/SplineOps.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::nf;

LogicalResult mlir::nf::verifyRQSplineConfig(Operation *op,
                                             const RQSplineConfig &config) {
  if (config.bins < 2)
    return op->emitOpError("needs at least 2 bins, but has ") << config.bins;
  if (!(config.tailBound > 0))
    return op->emitOpError("tail_bound must be > 0, but is ")
           << config.tailBound;
  if (!(config.minBinWidth > 0) || config.minBinWidth * config.bins >= 1 ||
      !(config.minBinHeight > 0) || config.minBinHeight * config.bins >= 1)
    return op->emitOpError("min_bin_width and min_bin_height must be in "
                           "(0, 1 / bins)");
  if (!(config.minDerivative > 0))
    return op->emitOpError("min_derivative must be > 0");
  return success();
}

/// The K + 1 knots of [-B, B] for bin sizes min + (1 - K min) softmax(raw);
/// the end knots are exactly -B and B.
static SmallVector<Value> buildKnots(ScalarBuilder &s, ValueRange raw,
                                     double minSize, double bound) {
  int64_t bins = raw.size();
  Value largest = raw.front();
  for (Value v : raw.drop_front())
    largest = s.max(largest, v);
  SmallVector<Value> exps;
  Value total;
  for (Value v : raw) {
    exps.push_back(s.exp(s.sub(v, largest)));
    total = total ? s.add(total, exps.back()) : exps.back();
  }
  Value spread = s.div(s.c(1.0 - bins * minSize), total);
  SmallVector<Value> knots = {s.c(-bound)};
  Value cumulative = s.c(0.0);
  for (int64_t k = 0; k + 1 < bins; ++k) {
    cumulative = s.add(cumulative, s.add(s.c(minSize), s.mul(spread, exps[k])));
    knots.push_back(s.add(s.c(-bound), s.mul(s.c(2 * bound), cumulative)));
  }
  knots.push_back(s.c(bound));
  return knots;
}

std::pair<Value, Value> mlir::nf::buildRQSpline(OpBuilder &b, Location loc,
                                                const RQSplineConfig &config,
                                                Value in, ValueRange raw,
                                                bool inverse) {
  ScalarBuilder s = scalarFor(b, loc, in);
  int64_t bins = config.bins;
  double bound = config.tailBound;
  SmallVector<Value> xKnots =
      buildKnots(s, raw.take_front(bins), config.minBinWidth, bound);
  SmallVector<Value> yKnots =
      buildKnots(s, raw.slice(bins, bins), config.minBinHeight, bound);
  // Knot derivatives: 1 at the ends (linear tails), min + softplus inside.
  SmallVector<Value> slopes = {s.c(1.0)};
  for (Value v : raw.drop_front(2 * bins))
    slopes.push_back(s.add(s.c(config.minDerivative), s.softplus(v)));
  slopes.push_back(s.c(1.0));

  // Select bin k's knot, width, height and end derivatives: the last
  // interior knot <= in wins (knots increase).
  ArrayRef<Value> searched = inverse ? yKnots : xKnots;
  auto binValues = [&](int64_t k) {
    return SmallVector<Value>{xKnots[k], s.sub(xKnots[k + 1], xKnots[k]),
                              yKnots[k], s.sub(yKnots[k + 1], yKnots[k]),
                              slopes[k], slopes[k + 1]};
  };
  SmallVector<Value> bin = binValues(0);
  for (int64_t k = 1; k < bins; ++k) {
    Value past = s.cmp(arith::CmpFPredicate::OGE, in, searched[k]);
    SmallVector<Value> candidates = binValues(k);
    for (auto [current, candidate] : llvm::zip_equal(bin, candidates))
      current = s.select(past, candidate, current);
  }
  Value x0 = bin[0], width = bin[1], y0 = bin[2], height = bin[3];
  Value d0 = bin[4], d1 = bin[5];
  Value slope = s.div(height, width);
  Value curvature = s.sub(s.add(d0, d1), s.mul(s.c(2.0), slope));

  Value theta, out;
  if (!inverse) {
    theta = s.div(s.sub(in, x0), width);
    Value mixed = s.mul(theta, s.sub(s.c(1.0), theta));
    Value numerator = s.mul(
        height, s.add(s.mul(slope, s.mul(theta, theta)), s.mul(d0, mixed)));
    Value denominator = s.add(slope, s.mul(curvature, mixed));
    out = s.add(y0, s.div(numerator, denominator));
  } else {
    Value dy = s.sub(in, y0);
    Value qa = s.add(s.mul(height, s.sub(slope, d0)), s.mul(dy, curvature));
    Value qb = s.sub(s.mul(height, d0), s.mul(dy, curvature));
    Value qc = s.neg(s.mul(slope, dy));
    Value disc =
        s.max(s.c(0.0), s.sub(s.mul(qb, qb), s.mul(s.c(4.0), s.mul(qa, qc))));
    Value root = s.sqrt(disc);
    Value plusForm = s.div(s.mul(s.c(2.0), qc), s.sub(s.neg(qb), root));
    Value minusForm = s.div(s.add(s.neg(qb), root), s.mul(s.c(2.0), qa));
    theta = s.select(s.cmp(arith::CmpFPredicate::OGE, qb, s.c(0.0)), plusForm,
                     minusForm);
    out = s.add(x0, s.mul(theta, width));
  }
  // log g'(x) at theta, in both directions.
  Value rest = s.sub(s.c(1.0), theta);
  Value mixed = s.mul(theta, rest);
  Value denominator = s.add(slope, s.mul(curvature, mixed));
  Value derivativeNumerator = s.mul(
      s.mul(slope, slope), s.add(s.add(s.mul(d1, s.mul(theta, theta)),
                                       s.mul(s.c(2.0), s.mul(slope, mixed))),
                                 s.mul(d0, s.mul(rest, rest))));
  Value logDerivative =
      s.sub(s.log(derivativeNumerator), s.mul(s.c(2.0), s.log(denominator)));

  // Linear tails: the identity outside [-B, B].
  Value inside = arith::AndIOp::create(
      b, loc, s.cmp(arith::CmpFPredicate::OGE, in, s.c(-bound)),
      s.cmp(arith::CmpFPredicate::OLE, in, s.c(bound)));
  return {s.select(inside, out, in), s.select(inside, logDerivative, s.c(0.0))};
}

//===----------------------------------------------------------------------===//
// nf.rq_spline
//===----------------------------------------------------------------------===//

RQSplineConfig RQSplineOp::getSplineConfig() {
  auto widthsType = cast<RankedTensorType>(getWidths().getType());
  return getRQSplineConfig(*this, widthsType.getShape().back());
}

LogicalResult RQSplineOp::verify() {
  ArrayRef<int64_t> event = getInput().getType().getShape().drop_front();
  auto widthsType = cast<RankedTensorType>(getWidths().getType());
  auto derivativesType = cast<RankedTensorType>(getDerivatives().getType());
  ArrayRef<int64_t> widthsShape = widthsType.getShape();
  if (widthsShape.drop_back() != event)
    return emitOpError("widths and heights must have the event shape plus "
                       "one dimension of K bins, but have type ")
           << widthsType;
  int64_t bins = widthsShape.back();
  SmallVector<int64_t> expected(event);
  expected.push_back(bins - 1);
  if (derivativesType.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("derivatives must have the event shape plus one "
                       "dimension of K - 1 = ")
           << bins - 1 << " interior knots, but have type " << derivativesType;
  return verifyRQSplineConfig(*this, getSplineConfig());
}

/// params[..., k] as a tensor of the event shape.
static Value sliceLastDim(OpBuilder &b, Location loc, Value params, int64_t k) {
  auto type = cast<RankedTensorType>(params.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> offsets(rank, 0), sizes(type.getShape()),
      strides(rank, 1);
  offsets.back() = k;
  sizes.back() = 1;
  auto resultType =
      RankedTensorType::get(type.getShape().drop_back(), type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, params,
                                        ValueRange{}, ValueRange{},
                                        ValueRange{}, offsets, sizes, strides);
}

static LayerValues buildElementwiseSpline(RQSplineOp op, OpBuilder &b,
                                          ValueRange operands, Value in,
                                          bool inverse, bool withLogDet) {
  RQSplineOp::Adaptor adaptor(operands, op);
  Location loc = op.getLoc();
  RQSplineConfig config = op.getSplineConfig();
  SmallVector<Value> inputs = {in};
  for (Value params :
       {adaptor.getWidths(), adaptor.getHeights(), adaptor.getDerivatives()}) {
    int64_t count = cast<RankedTensorType>(params.getType()).getShape().back();
    for (int64_t k = 0; k < count; ++k)
      inputs.push_back(sliceLastDim(b, loc, params, k));
  }
  SmallVector<Value> results =
      mapElementwise(b, loc, in, inputs, withLogDet ? 2 : 1,
                     [&](OpBuilder &nb, Location nloc, ValueRange s) {
                       auto [out, logDerivative] = buildRQSpline(
                           nb, nloc, config, s[0], s.drop_front(), inverse);
                       SmallVector<Value> values = {out};
                       if (withLogDet)
                         values.push_back(logDerivative);
                       return values;
                     });
  return {results[0], withLogDet ? sumEventDims(b, loc, results[1]) : Value()};
}

FailureOr<LayerValues>
RQSplineOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  return buildElementwiseSpline(*this, b, operands, operands.front(),
                                /*inverse=*/false, withLogDet);
}

FailureOr<LayerValues> RQSplineOp::buildInverse(OpBuilder &b, Value output,
                                                ValueRange operands,
                                                bool withLogDet) {
  return buildElementwiseSpline(*this, b, operands, output, /*inverse=*/true,
                                withLogDet);
}
