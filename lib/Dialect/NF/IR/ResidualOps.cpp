//===- ResidualOps.cpp - nf.iresnet: invertible residual block ------------===//
//
//   z = x + g(x), g an MLP with Lip(g) < 1,
//   V = log det(I + J_g(x)): exact (per-sample Jacobian and Gaussian
//       elimination) or a truncated power series with Hutchinson probes,
//   x = z - g(x) by fixed-point iteration.
// Jacobians follow the row-vector convention of nf.mlp (a = h W + b): the
// chain rule gives J_g^T = W_1 diag(act'(a_1)) W_2 ... W_L, and
// det(I + J) = det(I + J^T).
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/MLPOp.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <random>

using namespace mlir;
using namespace mlir::nf;

/// Largest singular value of a rows x cols matrix, by power iteration on
/// W^T W.
static double getSpectralNorm(ArrayRef<double> matrix, int64_t rows,
                              int64_t cols) {
  SmallVector<double> v(cols), u(rows);
  for (int64_t j = 0; j < cols; ++j)
    v[j] = 1.0 + 0.01 * j;
  double norm = 0;
  for (int iteration = 0; iteration < 1000; ++iteration) {
    for (int64_t i = 0; i < rows; ++i) {
      u[i] = 0;
      for (int64_t j = 0; j < cols; ++j)
        u[i] += matrix[i * cols + j] * v[j];
    }
    double length = 0;
    for (int64_t j = 0; j < cols; ++j) {
      v[j] = 0;
      for (int64_t i = 0; i < rows; ++i)
        v[j] += matrix[i * cols + j] * u[i];
      length += v[j] * v[j];
    }
    length = std::sqrt(length);
    if (length == 0)
      return 0;
    for (double &value : v)
      value /= length;
    norm = std::sqrt(length);
  }
  return norm;
}

LogicalResult IResNetOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT>, but got ") << type;
  int64_t features = type.getDimSize(1);
  if (failed(verifyMLPParams(*this, getParams(), features, features,
                             type.getElementType())))
    return failure();
  if (getLogdet() != "exact" && getLogdet() != "series")
    return emitOpError("logdet must be \"exact\" or \"series\", but is \"")
           << getLogdet() << "\"";
  if (getTerms() < 1 || getProbes() < 1 || getMaxIterations() < 1)
    return emitOpError("terms, probes and max_iterations must be >= 1");
  if (!(getTolerance().convertToDouble() > 0))
    return emitOpError("tolerance must be > 0");
  // With constant weights, check Lip(g) <= prod ||W_k||_2 < 1 (the
  // activations are 1-Lipschitz), without which the inverse diverges.
  double lipschitz = 1;
  for (unsigned k = 0; k < getParams().size(); k += 2) {
    Value weight = getParams()[k];
    FailureOr<SmallVector<double>> values = getConstantFloatValues(weight);
    if (failed(values))
      return success();
    auto weightType = cast<RankedTensorType>(weight.getType());
    lipschitz *= getSpectralNorm(*values, weightType.getDimSize(0),
                                 weightType.getDimSize(1));
  }
  if (!(lipschitz < 1))
    return emitOpError("residual branch is not contractive: the product of "
                       "its weights' spectral norms is ")
           << lipschitz << " (must be < 1 for the inverse to converge)";
  return success();
}

Exactness IResNetOp::getExactness() {
  return getLogdet() == "series" ? Exactness::Estimate : Exactness::Exact;
}

namespace {
/// g(x) and the pre-activations of its hidden layers.
struct Branch {
  Value output;
  SmallVector<Value> preactivations;
};
} // namespace

static Branch buildBranch(OpBuilder &b, Location loc, Activation activation,
                          ValueRange params, Value x) {
  Branch branch;
  Value hidden = x;
  unsigned numLayers = params.size() / 2;
  for (unsigned layer = 0; layer < numLayers; ++layer) {
    Value a = buildDenseLayer(b, loc, hidden, params[2 * layer],
                              params[2 * layer + 1]);
    if (layer + 1 == numLayers) {
      branch.output = a;
      break;
    }
    branch.preactivations.push_back(a);
    hidden = mapSingleResult(
        b, loc, {a}, [&](OpBuilder &nb, Location nloc, ValueRange v) {
          return buildScalarActivation(nb, nloc, activation, v[0]);
        });
  }
  return branch;
}

/// act'(a) for every pre-activation of `branch`.
static SmallVector<Value> buildSlopes(OpBuilder &b, Location loc,
                                      Activation activation,
                                      const Branch &branch) {
  return llvm::to_vector(llvm::map_range(branch.preactivations, [&](Value a) {
    return mapSingleResult(
        b, loc, {a}, [&](OpBuilder &nb, Location nloc, ValueRange v) {
          return buildScalarActivationDerivative(nb, nloc, activation, v[0]);
        });
  }));
}

/// A linalg.generic over `numLoops` dims writing `init` with `body`.
static Value
buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
             ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iterators,
             function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
             iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
             })
      .getResult(0);
}

/// `tensor<?xRxCxT>` shaped by the batch of `like`, zero filled.
static Value buildZeroBatchMatrices(OpBuilder &b, Location loc, Value like,
                                    int64_t rows, int64_t cols) {
  Type elementType = getElementTypeOrSelf(like.getType());
  Value empty =
      tensor::EmptyOp::create(b, loc,
                              {tensor::getMixedSize(b, loc, like, 0),
                               b.getIndexAttr(rows), b.getIndexAttr(cols)},
                              elementType);
  return linalg::FillOp::create(
             b, loc, createFloatConstant(b, loc, elementType, 0.0), empty)
      .getResult(0);
}

/// Per sample, I + J_g^T as `tensor<?xDxDxT>`.
static Value buildJacobian(OpBuilder &b, Location loc, ValueRange params,
                           ArrayRef<Value> slopes, Value x) {
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  auto parallel = utils::IteratorType::parallel;
  auto reduction = utils::IteratorType::reduction;
  int64_t features = cast<RankedTensorType>(x.getType()).getDimSize(1);
  // T[b, i, k] = W_1[i, k].
  Value first = params[0];
  int64_t width = cast<RankedTensorType>(first.getType()).getDimSize(1);
  Value product = buildGeneric(
      b, loc, {first}, buildZeroBatchMatrices(b, loc, x, features, width),
      {AffineMap::get(3, 0, {d(1), d(2)}, ctx), b.getMultiDimIdentityMap(3)},
      {parallel, parallel, parallel},
      [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  for (auto [layer, slope] : llvm::enumerate(slopes)) {
    // T[b, i, m] = sum_k T[b, i, k] act'(a)[b, k] W[k, m].
    Value weight = params[2 * (layer + 1)];
    int64_t next = cast<RankedTensorType>(weight.getType()).getDimSize(1);
    product = buildGeneric(
        b, loc, {product, slope, weight},
        buildZeroBatchMatrices(b, loc, x, features, next),
        {AffineMap::get(4, 0, {d(0), d(1), d(3)}, ctx),
         AffineMap::get(4, 0, {d(0), d(3)}, ctx),
         AffineMap::get(4, 0, {d(3), d(2)}, ctx),
         AffineMap::get(4, 0, {d(0), d(1), d(2)}, ctx)},
        {parallel, parallel, parallel, reduction},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          ScalarBuilder s = scalarFor(nb, nloc, args[0]);
          return s.add(args[3], s.mul(s.mul(args[0], args[1]), args[2]));
        });
  }
  // + I.
  return buildGeneric(
      b, loc, {}, product, {b.getMultiDimIdentityMap(3)},
      {parallel, parallel, parallel},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value onDiagonal =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq,
                                  linalg::IndexOp::create(nb, nloc, 1),
                                  linalg::IndexOp::create(nb, nloc, 2));
        return s.select(onDiagonal, s.add(args[0], s.c(1.0)), args[0]);
      });
}

/// matrices[:, row, col] with dynamic `row`/`col` (null: the whole dim).
static Value sliceBatchMatrices(OpBuilder &b, Location loc, Value matrices,
                                Value row, Value col) {
  auto type = cast<RankedTensorType>(matrices.getType());
  int64_t n = type.getDimSize(1);
  SmallVector<OpFoldResult> offsets = {
      b.getIndexAttr(0), row ? OpFoldResult(row) : b.getIndexAttr(0),
      col ? OpFoldResult(col) : b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, matrices, 0),
                                     b.getIndexAttr(row ? 1 : n),
                                     b.getIndexAttr(col ? 1 : n)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  SmallVector<int64_t> shape = {ShapedType::kDynamic};
  if (!row)
    shape.push_back(n);
  if (!col)
    shape.push_back(n);
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, matrices, offsets,
                                        sizes, strides);
}

/// Per sample, log|det A| of `tensor<?xDxDxT>` by Gaussian elimination
/// without pivoting (every leading minor of I + J^T is nonzero when
/// ||J|| < 1).
static Value buildLogAbsDet(OpBuilder &b, Location loc, Value matrices) {
  int64_t n = cast<RankedTensorType>(matrices.getType()).getDimSize(1);
  Type elementType = getElementTypeOrSelf(matrices.getType());
  auto parallel = utils::IteratorType::parallel;
  Value zero = createFloatConstant(b, loc, elementType, 0.0);
  Value start =
      linalg::FillOp::create(
          b, loc, zero,
          createEmptyLike(
              b, loc,
              sliceBatchMatrices(b, loc, matrices,
                                 arith::ConstantIndexOp::create(b, loc, 0),
                                 arith::ConstantIndexOp::create(b, loc, 0))))
          .getResult(0);
  auto loop = scf::ForOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0),
      arith::ConstantIndexOp::create(b, loc, n),
      arith::ConstantIndexOp::create(b, loc, 1), ValueRange{matrices, start},
      [&](OpBuilder &nb, Location nloc, Value k, ValueRange iter) {
        Value a = iter[0], logDet = iter[1];
        Value pivot = sliceBatchMatrices(nb, nloc, a, k, k);
        Value column = sliceBatchMatrices(nb, nloc, a, Value(), k);
        Value row = sliceBatchMatrices(nb, nloc, a, k, Value());
        Value newLogDet =
            mapSingleResult(nb, nloc, {logDet, pivot},
                            [](OpBuilder &bb, Location bloc, ValueRange args) {
                              ScalarBuilder s = scalarFor(bb, bloc, args[0]);
                              return s.add(args[0], s.log(s.abs(args[1])));
                            });
        MLIRContext *ctx = nb.getContext();
        auto d = [&](unsigned i) { return nb.getAffineDimExpr(i); };
        // a[b, i, j] -= a[b, i, k] a[b, k, j] / a[b, k, k] for i, j > k.
        Value updated = buildGeneric(
            nb, nloc, {a, column, row, pivot}, createEmptyLike(nb, nloc, a),
            {nb.getMultiDimIdentityMap(3),
             AffineMap::get(3, 0, {d(0), d(1)}, ctx),
             AffineMap::get(3, 0, {d(0), d(2)}, ctx),
             AffineMap::get(3, 0, {d(0)}, ctx), nb.getMultiDimIdentityMap(3)},
            {parallel, parallel, parallel},
            [&](OpBuilder &bb, Location bloc, ValueRange args) {
              ScalarBuilder s = scalarFor(bb, bloc, args[0]);
              auto after = [&](unsigned dim) {
                return arith::CmpIOp::create(
                    bb, bloc, arith::CmpIPredicate::ugt,
                    linalg::IndexOp::create(bb, bloc, dim), k);
              };
              Value inside =
                  arith::AndIOp::create(bb, bloc, after(1), after(2));
              Value eliminated =
                  s.sub(args[0], s.div(s.mul(args[1], args[2]), args[3]));
              return s.select(inside, eliminated, args[0]);
            });
        scf::YieldOp::create(nb, nloc, ValueRange{updated, newLogDet});
      });
  return loop.getResult(1);
}

/// J_g w per sample (forward mode through the branch).
static Value buildJacobianVectorProduct(OpBuilder &b, Location loc,
                                        ValueRange params,
                                        ArrayRef<Value> slopes, Value w) {
  Value t = buildDenseLayer(b, loc, w, params[0], Value());
  for (auto [layer, slope] : llvm::enumerate(slopes)) {
    t = mapSingleResult(
        b, loc, {t, slope}, [](OpBuilder &nb, Location nloc, ValueRange args) {
          return arith::MulFOp::create(nb, nloc, args[0], args[1]).getResult();
        });
    t = buildDenseLayer(b, loc, t, params[2 * (layer + 1)], Value());
  }
  return t;
}

/// sum_{k=1..terms} (-1)^{k+1}/k v^T J^k v, averaged over fixed Rademacher
/// probes v drawn from `seed`.
static Value buildSeriesLogDet(IResNetOp op, OpBuilder &b, Location loc,
                               ValueRange params, ArrayRef<Value> slopes,
                               Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t features = type.getDimSize(1);
  int64_t probes = op.getProbes();
  Type elementType = type.getElementType();
  // The probes, one row each.
  std::mt19937_64 generator(op.getSeed());
  SmallVector<Attribute> signs;
  for (int64_t i = 0; i < probes * features; ++i)
    signs.push_back(
        FloatAttr::get(elementType, (generator() & 1) ? 1.0 : -1.0));
  Value probeMatrix = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(
          RankedTensorType::get({probes, features}, elementType), signs));
  Value zero = createFloatConstant(b, loc, elementType, 0.0);
  Value start =
      linalg::FillOp::create(
          b, loc, zero,
          tensor::EmptyOp::create(b, loc, {tensor::getMixedSize(b, loc, x, 0)},
                                  elementType)
              .getResult())
          .getResult(0);
  auto index = [&](OpBuilder &nb, int64_t v) {
    return arith::ConstantIndexOp::create(nb, loc, v);
  };
  auto overProbes = scf::ForOp::create(
      b, loc, index(b, 0), index(b, probes), index(b, 1), ValueRange{start},
      [&](OpBuilder &pb, Location ploc, Value p, ValueRange outer) {
        Value probe = tensor::ExtractSliceOp::create(
            pb, ploc, RankedTensorType::get({features}, elementType),
            probeMatrix, ArrayRef<OpFoldResult>{p, pb.getIndexAttr(0)},
            ArrayRef<OpFoldResult>{pb.getIndexAttr(1),
                                   pb.getIndexAttr(features)},
            ArrayRef<OpFoldResult>{pb.getIndexAttr(1), pb.getIndexAttr(1)});
        Value w = mapSingleResult(
            pb, ploc, {x, probe},
            [](OpBuilder &, Location, ValueRange args) { return args[1]; });
        // Terms k = 1..n: w <- J w, estimate += (-1)^{k+1} / (k P) v.w.
        auto overTerms = scf::ForOp::create(
            pb, ploc, index(pb, 1), index(pb, op.getTerms() + 1), index(pb, 1),
            ValueRange{w, outer[0]},
            [&](OpBuilder &tb, Location tloc, Value k, ValueRange inner) {
              Value next = buildJacobianVectorProduct(tb, tloc, params, slopes,
                                                      inner[0]);
              ScalarBuilder s{tb, tloc, elementType};
              Value count =
                  arith::IndexCastOp::create(tb, tloc, tb.getI64Type(), k);
              Value odd =
                  arith::TruncIOp::create(tb, tloc, tb.getI1Type(), count);
              Value coefficient = s.div(
                  s.select(odd, s.c(1.0), s.c(-1.0)),
                  s.mul(s.c(static_cast<double>(probes)),
                        arith::SIToFPOp::create(tb, tloc, elementType, count)));
              Value term = sumEventDims(
                  tb, tloc,
                  mapSingleResult(
                      tb, tloc, {next, probe},
                      [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        ScalarBuilder ns = scalarFor(nb, nloc, args[0]);
                        return ns.mul(coefficient, ns.mul(args[0], args[1]));
                      }));
              scf::YieldOp::create(
                  tb, tloc,
                  ValueRange{next, addLogDets(tb, tloc, inner[1], term)});
            });
        scf::YieldOp::create(pb, ploc, overTerms.getResult(1));
      });
  return overProbes.getResult(0);
}

/// V at x.
static Value buildResidualLogDet(IResNetOp op, OpBuilder &b, Location loc,
                                 ValueRange params, const Branch &branch,
                                 Value x) {
  SmallVector<Value> slopes = buildSlopes(b, loc, op.getActivation(), branch);
  if (op.getLogdet() == "series")
    return buildSeriesLogDet(op, b, loc, params, slopes, x);
  return buildLogAbsDet(b, loc, buildJacobian(b, loc, params, slopes, x));
}

FailureOr<LayerValues>
IResNetOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value x = adaptor.getInput();
  Branch branch = buildBranch(b, loc, getActivation(), adaptor.getParams(), x);
  Value z = addLogDets(b, loc, x, branch.output);
  Value logDet =
      withLogDet
          ? buildResidualLogDet(*this, b, loc, adaptor.getParams(), branch, x)
          : Value();
  return LayerValues{z, logDet};
}

/// `tensor<?xT>` with the batch of `like`, filled with `value`.
static Value buildPerSampleFill(OpBuilder &b, Location loc, Value like,
                                double value) {
  Type elementType = getElementTypeOrSelf(like.getType());
  Value empty = tensor::EmptyOp::create(
      b, loc, {tensor::getMixedSize(b, loc, like, 0)}, elementType);
  return linalg::FillOp::create(
             b, loc, createFloatConstant(b, loc, elementType, value), empty)
      .getResult(0);
}

/// Per sample, the largest |next - current| / max(1, |z|): tensor<?xT>.
static Value buildRowChange(OpBuilder &b, Location loc, Value next,
                            Value current, Value z) {
  MLIRContext *ctx = b.getContext();
  return buildGeneric(
      b, loc, {next, current, z}, buildPerSampleFill(b, loc, z, 0.0),
      {b.getMultiDimIdentityMap(2), b.getMultiDimIdentityMap(2),
       b.getMultiDimIdentityMap(2),
       AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, ctx)},
      {utils::IteratorType::parallel, utils::IteratorType::reduction},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        ScalarBuilder s = scalarFor(nb, nloc, args[0]);
        Value change = s.div(s.abs(s.sub(args[0], args[1])),
                             s.max(s.c(1.0), s.abs(args[2])));
        return s.max(args[3], change);
      });
}

/// The largest entry of a `tensor<?xT>` (0 for an empty batch), as a scalar.
static Value buildLargest(OpBuilder &b, Location loc, Value perSample) {
  Type elementType = getElementTypeOrSelf(perSample.getType());
  Value init =
      linalg::FillOp::create(
          b, loc, createFloatConstant(b, loc, elementType, 0.0),
          tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, elementType)
              .getResult())
          .getResult(0);
  Value largest = buildGeneric(
      b, loc, {perSample}, init,
      {b.getMultiDimIdentityMap(1), AffineMap::get(1, 0, {}, b.getContext())},
      {utils::IteratorType::reduction},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return scalarFor(nb, nloc, args[0]).max(args[1], args[0]);
      });
  return tensor::ExtractOp::create(b, loc, largest, ValueRange{});
}

FailureOr<LayerValues> IResNetOp::buildInverse(OpBuilder &b, Value output,
                                               ValueRange operands,
                                               bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  ValueRange params = adaptor.getParams();
  Activation activation = getActivation();
  Type elementType = getElementTypeOrSelf(output.getType());
  // x <- z - g(x), from x = z - g(z).
  auto step = [&](OpBuilder &nb, Location nloc, Value current) {
    Value g = buildBranch(nb, nloc, activation, params, current).output;
    return mapSingleResult(
        nb, nloc, {output, g},
        [](OpBuilder &bb, Location bloc, ValueRange args) {
          return arith::SubFOp::create(bb, bloc, args[0], args[1]).getResult();
        });
  };
  // Each sample iterates until its own change is within the tolerance and
  // then stays put, so its result does not depend on the other samples of
  // the batch (and a batch split into ranges gives the same bits).
  Value start = step(b, loc, output);
  double tolerance = getTolerance().convertToDouble();
  Value toleranceValue = createFloatConstant(b, loc, elementType, tolerance);
  Value limit = arith::ConstantIndexOp::create(b, loc, getMaxIterations());
  Value unsettled = buildPerSampleFill(b, loc, output, INFINITY);
  auto loop = scf::WhileOp::create(
      b, loc, TypeRange{start.getType(), unsettled.getType(), b.getIndexType()},
      ValueRange{start, unsettled, arith::ConstantIndexOp::create(b, loc, 0)},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value moving = arith::CmpFOp::create(
            nb, nloc, arith::CmpFPredicate::OGT,
            buildLargest(nb, nloc, args[1]), toleranceValue);
        Value below = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ult,
                                            args[2], limit);
        scf::ConditionOp::create(
            nb, nloc, arith::AndIOp::create(nb, nloc, moving, below), args);
      },
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value current = args[0], change = args[1];
        Value candidate = step(nb, nloc, current);
        Value candidateChange =
            buildRowChange(nb, nloc, candidate, current, output);
        // (value if moving, else kept), by the sample's last change.
        auto keepSettled = [&](OpBuilder &bb, Location bloc, ValueRange v) {
          ScalarBuilder s = scalarFor(bb, bloc, v[0]);
          Value moving = s.cmp(arith::CmpFPredicate::OGT, v[1], s.c(tolerance));
          return s.select(moving, v[0], v[2]);
        };
        Value next = mapSingleResult(
            nb, nloc,
            {candidate, broadcastPerSample(nb, nloc, change, candidate),
             current},
            keepSettled);
        Value nextChange = mapSingleResult(
            nb, nloc, {candidateChange, change, change}, keepSettled);
        Value count = arith::AddIOp::create(
            nb, nloc, args[2], arith::ConstantIndexOp::create(nb, nloc, 1));
        scf::YieldOp::create(nb, nloc, ValueRange{next, nextChange, count});
      });
  Value x = loop.getResult(0);
  Value logDet;
  if (withLogDet) {
    Branch branch = buildBranch(b, loc, activation, params, x);
    logDet = buildResidualLogDet(*this, b, loc, params, branch, x);
  }
  return LayerValues{x, logDet};
}
