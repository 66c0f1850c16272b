//===- LinearOps.cpp - nf.linear: dense invertible linear / 1x1 conv ------===//
//
//   z = W x + bias (over dimension 1),  x = W^-1 (z - bias),
//   V = (spatial size) * log|det W|.
// W is a constant: its LU factorization, inverse and log|det| are computed
// at compile time, so neither direction solves anything per sample.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::nf;

namespace {
/// W^-1 and log|det W| of a square matrix, by LU with partial pivoting.
struct Inverted {
  SmallVector<double> inverse;
  double logAbsDet;
};
} // namespace

static FailureOr<Inverted> invertMatrix(ArrayRef<double> matrix, int64_t n) {
  SmallVector<double> lu(matrix);
  SmallVector<int64_t> pivot(n);
  double logAbsDet = 0;
  for (int64_t k = 0; k < n; ++k) {
    int64_t best = k;
    for (int64_t i = k + 1; i < n; ++i)
      if (std::abs(lu[i * n + k]) > std::abs(lu[best * n + k]))
        best = i;
    pivot[k] = best;
    if (best != k)
      for (int64_t j = 0; j < n; ++j)
        std::swap(lu[k * n + j], lu[best * n + j]);
    double diagonal = lu[k * n + k];
    if (diagonal == 0 || !std::isfinite(diagonal))
      return failure();
    logAbsDet += std::log(std::abs(diagonal));
    for (int64_t i = k + 1; i < n; ++i) {
      lu[i * n + k] /= diagonal;
      for (int64_t j = k + 1; j < n; ++j)
        lu[i * n + j] -= lu[i * n + k] * lu[k * n + j];
    }
  }
  if (!std::isfinite(logAbsDet))
    return failure();
  // Solve L U X = P I column by column.
  SmallVector<double> inverse(n * n, 0.0);
  for (int64_t column = 0; column < n; ++column) {
    SmallVector<double> rhs(n, 0.0);
    rhs[column] = 1.0;
    for (int64_t k = 0; k < n; ++k)
      std::swap(rhs[k], rhs[pivot[k]]);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j)
        rhs[i] -= lu[i * n + j] * rhs[j];
    for (int64_t i = n - 1; i >= 0; --i) {
      for (int64_t j = i + 1; j < n; ++j)
        rhs[i] -= lu[i * n + j] * rhs[j];
      rhs[i] /= lu[i * n + i];
    }
    for (int64_t i = 0; i < n; ++i)
      inverse[i * n + column] = rhs[i];
  }
  return Inverted{std::move(inverse), logAbsDet};
}

/// ||W||_1 ||W^-1||_1 of an n x n matrix (infinity when singular).
static double getConditionNumber(ArrayRef<double> matrix, int64_t n) {
  FailureOr<Inverted> inverted = invertMatrix(matrix, n);
  if (failed(inverted))
    return std::numeric_limits<double>::infinity();
  auto norm1 = [n](ArrayRef<double> m) {
    double largest = 0;
    for (int64_t j = 0; j < n; ++j) {
      double column = 0;
      for (int64_t i = 0; i < n; ++i)
        column += std::abs(m[i * n + j]);
      largest = std::max(largest, column);
    }
    return largest;
  };
  return norm1(matrix) * norm1(inverted->inverse);
}

double LinearOp::getConditionNumber() {
  int64_t n = getInput().getType().getDimSize(1);
  FailureOr<SmallVector<double>> weight = getConstantFloatValues(getWeight());
  if (failed(weight))
    return std::numeric_limits<double>::infinity();
  return ::getConditionNumber(*weight, n);
}

LogicalResult LinearOp::verify() {
  RankedTensorType dataType = getInput().getType();
  int64_t channels = dataType.getDimSize(1);
  auto weightType = cast<RankedTensorType>(getWeight().getType());
  auto biasType = cast<RankedTensorType>(getBias().getType());
  if (weightType.getShape() != ArrayRef<int64_t>{channels, channels})
    return emitOpError("weight must be a ")
           << channels << "x" << channels << " matrix, but has type "
           << weightType;
  if (biasType.getShape() != ArrayRef<int64_t>{channels})
    return emitOpError("bias must have ")
           << channels << " entries, but has type " << biasType;
  FailureOr<SmallVector<double>> weight = getConstantFloatValues(getWeight());
  if (failed(weight))
    return emitOpError("weight must be a constant (its inverse and log|det| "
                       "are computed at compile time)");
  if (failed(invertMatrix(*weight, channels)))
    return emitOpError("weight is singular");
  return success();
}

/// A constant `tensor<n x n x T>` holding `values`.
static Value buildMatrixConstant(OpBuilder &b, Location loc, Type elementType,
                                 ArrayRef<double> values, int64_t n) {
  auto type = RankedTensorType::get({n, n}, elementType);
  SmallVector<Attribute> attrs;
  for (double v : values)
    attrs.push_back(FloatAttr::get(elementType, v));
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, attrs));
}

/// z = M x + offset over dimension 1 (or M (x - offset) with `offsetFirst`).
static Value buildChannelMatmul(OpBuilder &b, Location loc, Value in,
                                Value matrix, Value offset, bool offsetFirst) {
  auto type = cast<RankedTensorType>(in.getType());
  int64_t rank = type.getRank();
  Type elementType = type.getElementType();
  if (offsetFirst) // x - bias before applying W^-1
    in = mapElementwise(b, loc, in, {in, offset}, 1,
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          return SmallVector<Value>{arith::SubFOp::create(
                              nb, nloc, args[0], args[1])};
                        })
             .front();
  // Loops (d0, out channel d1, spatial..., in channel dr): out += M[d1, dr] x.
  Value empty = createEmptyLike(b, loc, in);
  Value zero = createFloatConstant(b, loc, elementType, 0.0);
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineExpr> inputExprs, outputExprs;
  for (int64_t d = 0; d < rank; ++d) {
    inputExprs.push_back(b.getAffineDimExpr(d == 1 ? rank : d));
    outputExprs.push_back(b.getAffineDimExpr(d));
  }
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank + 1, 0, inputExprs, ctx),
      AffineMap::get(rank + 1, 0,
                     {b.getAffineDimExpr(1), b.getAffineDimExpr(rank)}, ctx),
      AffineMap::get(rank + 1, 0, outputExprs, ctx)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  Value product =
      linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{in, matrix},
          ValueRange{init}, maps, iterators,
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            Value term = arith::MulFOp::create(nb, nloc, args[0], args[1]);
            linalg::YieldOp::create(
                nb, nloc,
                ValueRange{arith::AddFOp::create(nb, nloc, args[2], term)});
          })
          .getResult(0);
  if (offsetFirst)
    return product;
  return mapElementwise(b, loc, product, {product, offset}, 1,
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          return SmallVector<Value>{arith::AddFOp::create(
                              nb, nloc, args[0], args[1])};
                        })
      .front();
}

/// Pixels per channel: the product of the dimensions after dimension 1.
static int64_t getSpatialSize(RankedTensorType dataType) {
  int64_t spatial = 1;
  for (int64_t d : dataType.getShape().drop_front(2))
    spatial *= d;
  return spatial;
}

/// V = (spatial size) * log|det W|, a rank-0 constant.
static Value buildLinearLogDet(OpBuilder &b, Location loc,
                               RankedTensorType dataType, double logAbsDet) {
  int64_t spatial = getSpatialSize(dataType);
  auto scalarType = RankedTensorType::get({}, dataType.getElementType());
  return arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(
          scalarType,
          FloatAttr::get(dataType.getElementType(), spatial * logAbsDet)));
}

/// Builds the map or its inverse; fails only if W is not a usable constant,
/// which the verifier rules out.
static FailureOr<LayerValues> buildLinear(LinearOp op, OpBuilder &b, Value in,
                                          Value bias, bool inverse,
                                          bool withLogDet) {
  RankedTensorType dataType = op.getInput().getType();
  int64_t channels = dataType.getDimSize(1);
  FailureOr<SmallVector<double>> weight =
      getConstantFloatValues(op.getWeight());
  if (failed(weight))
    return failure();
  FailureOr<Inverted> inverted = invertMatrix(*weight, channels);
  if (failed(inverted))
    return failure();
  Value matrix =
      buildMatrixConstant(b, op.getLoc(), dataType.getElementType(),
                          inverse ? inverted->inverse : *weight, channels);
  Value out = buildChannelMatmul(b, op.getLoc(), in, matrix, bias,
                                 /*offsetFirst=*/inverse);
  Value logDet = withLogDet ? buildLinearLogDet(b, op.getLoc(), dataType,
                                                inverted->logAbsDet)
                            : Value();
  return LayerValues{out, logDet};
}

FailureOr<LayerValues> LinearOp::buildForward(OpBuilder &b, ValueRange operands,
                                              bool withLogDet) {
  Adaptor adaptor(operands, *this);
  return buildLinear(*this, b, adaptor.getInput(), adaptor.getBias(),
                     /*inverse=*/false, withLogDet);
}

FailureOr<LayerValues> LinearOp::buildInverse(OpBuilder &b, Value output,
                                              ValueRange operands,
                                              bool withLogDet) {
  Adaptor adaptor(operands, *this);
  return buildLinear(*this, b, output, adaptor.getBias(), /*inverse=*/true,
                     withLogDet);
}

//===----------------------------------------------------------------------===//
// nf.lu_linear
//===----------------------------------------------------------------------===//
//
//   z = P L (U + diag(s)) x + bias,  V = (spatial size) sum log|s|,
//   x = (U + diag s)^-1 L^-1 P^T (z - bias) by two triangular solves.
// The parameters may be runtime values: W = P L U is formed once per call
// (a C x C product), the solves run per sample.

LogicalResult LULinearOp::verify() {
  RankedTensorType dataType = getInput().getType();
  int64_t channels = dataType.getDimSize(1);
  auto matrixType = cast<RankedTensorType>(getLower().getType());
  auto vectorType = cast<RankedTensorType>(getDiag().getType());
  if (matrixType.getShape() != ArrayRef<int64_t>{channels, channels})
    return emitOpError("lower and upper must be ")
           << channels << "x" << channels << " matrices, but have type "
           << matrixType;
  if (vectorType.getShape() != ArrayRef<int64_t>{channels})
    return emitOpError("diag and bias must have ")
           << channels << " entries, but have type " << vectorType;
  if (std::optional<ArrayRef<int64_t>> perm = getPermutation()) {
    SmallVector<int64_t> sorted(*perm);
    llvm::sort(sorted);
    if (sorted != llvm::to_vector(llvm::seq<int64_t>(0, channels)))
      return emitOpError("permutation must be a permutation of the ")
             << channels << " features";
  }
  FailureOr<SmallVector<double>> diag = getConstantFloatValues(getDiag());
  if (succeeded(diag) && llvm::any_of(*diag, [](double v) { return v == 0; }))
    return emitOpError("diag has a zero entry: the map is singular");
  return success();
}

std::optional<double> LULinearOp::getConditionNumber() {
  int64_t n = getInput().getType().getDimSize(1);
  FailureOr<SmallVector<double>> lower = getConstantFloatValues(getLower());
  FailureOr<SmallVector<double>> upper = getConstantFloatValues(getUpper());
  FailureOr<SmallVector<double>> diag = getConstantFloatValues(getDiag());
  if (failed(lower) || failed(upper) || failed(diag))
    return std::nullopt;
  // W = P L (U + diag s): row i of W is row permutation_i of L (U + diag s).
  SmallVector<int64_t> rows = llvm::to_vector(llvm::seq<int64_t>(0, n));
  if (std::optional<ArrayRef<int64_t>> perm = getPermutation())
    rows.assign(perm->begin(), perm->end());
  SmallVector<double> weight(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t r = rows[i];
      double sum = 0;
      for (int64_t k = 0; k <= std::min(r, j); ++k) {
        double l = k == r ? 1.0 : (*lower)[r * n + k];
        double u = k == j ? (*diag)[j] : (*upper)[k * n + j];
        sum += l * u;
      }
      weight[i * n + j] = sum;
    }
  return ::getConditionNumber(weight, n);
}

/// The unit lower (`lower`) or upper triangular factor with diagonal `diag`
/// from the strictly triangular part of `matrix`; with `strict`, the
/// diagonal is 0 instead.
static Value buildTriangularFactor(OpBuilder &b, Location loc, Value matrix,
                                   Value diag, bool lower, bool strict) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(2),
      AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, ctx),
      b.getMultiDimIdentityMap(2)};
  SmallVector<utils::IteratorType> iterators(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{matrix.getType()}, ValueRange{matrix, diag},
             ValueRange{createEmptyLike(b, loc, matrix)}, maps, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               ScalarBuilder s = scalarFor(nb, nloc, args[0]);
               Value i = linalg::IndexOp::create(nb, nloc, 0);
               Value j = linalg::IndexOp::create(nb, nloc, 1);
               Value inside =
                   arith::CmpIOp::create(nb, nloc,
                                         lower ? arith::CmpIPredicate::ult
                                               : arith::CmpIPredicate::ugt,
                                         j, i);
               Value onDiagonal = arith::CmpIOp::create(
                   nb, nloc, arith::CmpIPredicate::eq, i, j);
               Value diagonal =
                   strict ? s.c(0.0) : (lower ? s.c(1.0) : args[1]);
               Value value = s.select(inside, args[0],
                                      s.select(onDiagonal, diagonal, s.c(0.0)));
               linalg::YieldOp::create(nb, nloc, value);
             })
      .getResult(0);
}

/// lhs * rhs for C x C matrices.
static Value buildMatrixProduct(OpBuilder &b, Location loc, Value lhs,
                                Value rhs) {
  Type elementType = getElementTypeOrSelf(lhs.getType());
  Value zero = createFloatConstant(b, loc, elementType, 0.0);
  Value init =
      linalg::FillOp::create(b, loc, zero, createEmptyLike(b, loc, lhs))
          .getResult(0);
  return linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                  ValueRange{lhs, rhs}, ValueRange{init})
      .getResult(0);
}

/// `in` with dimension 1 removed (a rank-reduced slice at `index`), and the
/// offsets, sizes and strides that select it.
struct ChannelSlice {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  RankedTensorType type;
};

static ChannelSlice getChannelSlice(OpBuilder &b, Location loc, Value in,
                                    Value index) {
  auto type = cast<RankedTensorType>(in.getType());
  ChannelSlice slice;
  slice.offsets.assign(type.getRank(), b.getIndexAttr(0));
  slice.offsets[1] = index;
  slice.sizes = tensor::getMixedSizes(b, loc, in);
  slice.sizes[1] = b.getIndexAttr(1);
  slice.strides.assign(type.getRank(), b.getIndexAttr(1));
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + 1);
  slice.type = RankedTensorType::get(shape, type.getElementType());
  return slice;
}

/// Solves T y = rhs along dimension 1 for each sample and pixel, T
/// triangular with strictly triangular part `strict` and diagonal `diag`
/// (null: unit), by substitution: C steps, each reading one row of T.
static Value buildTriangularSolve(OpBuilder &b, Location loc, Value rhs,
                                  Value strict, Value diag, bool lower) {
  auto type = cast<RankedTensorType>(rhs.getType());
  int64_t rank = type.getRank(), channels = type.getDimSize(1);
  Type elementType = type.getElementType();
  MLIRContext *ctx = b.getContext();
  Value zero = createFloatConstant(b, loc, elementType, 0.0);
  Value start =
      linalg::FillOp::create(b, loc, zero, createEmptyLike(b, loc, rhs))
          .getResult(0);
  auto loop = scf::ForOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0),
      arith::ConstantIndexOp::create(b, loc, channels),
      arith::ConstantIndexOp::create(b, loc, 1), ValueRange{start},
      [&](OpBuilder &nb, Location nloc, Value step, ValueRange iter) {
        Value solved = iter[0];
        // Forward substitution for lower, backward for upper.
        Value index =
            lower ? step
                  : arith::SubIOp::create(
                        nb, nloc,
                        arith::ConstantIndexOp::create(nb, nloc, channels - 1),
                        step);
        auto rowType = RankedTensorType::get({channels}, elementType);
        Value row = tensor::ExtractSliceOp::create(
            nb, nloc, rowType, strict,
            ArrayRef<OpFoldResult>{index, nb.getIndexAttr(0)},
            ArrayRef<OpFoldResult>{nb.getIndexAttr(1),
                                   nb.getIndexAttr(channels)},
            ArrayRef<OpFoldResult>{nb.getIndexAttr(1), nb.getIndexAttr(1)});
        ChannelSlice slice = getChannelSlice(nb, nloc, rhs, index);
        Value rhsColumn = tensor::ExtractSliceOp::create(
            nb, nloc, slice.type, rhs, slice.offsets, slice.sizes,
            slice.strides);
        // acc[b, pixel] = sum_j row[j] solved[b, j, pixel]; entries not yet
        // solved are still 0.
        SmallVector<AffineExpr> solvedExprs, accExprs;
        for (int64_t d = 0; d < rank; ++d) {
          solvedExprs.push_back(nb.getAffineDimExpr(d == 1   ? rank - 1
                                                    : d == 0 ? 0
                                                             : d - 1));
          if (d != 1)
            accExprs.push_back(nb.getAffineDimExpr(d == 0 ? 0 : d - 1));
        }
        SmallVector<AffineMap> maps = {
            AffineMap::get(rank, 0, solvedExprs, ctx),
            AffineMap::get(rank, 0, {nb.getAffineDimExpr(rank - 1)}, ctx),
            AffineMap::get(rank, 0, accExprs, ctx)};
        SmallVector<utils::IteratorType> iterators(
            rank - 1, utils::IteratorType::parallel);
        iterators.push_back(utils::IteratorType::reduction);
        Value accInit =
            linalg::FillOp::create(nb, nloc, zero,
                                   createEmptyLike(nb, nloc, rhsColumn))
                .getResult(0);
        Value acc =
            linalg::GenericOp::create(
                nb, nloc, TypeRange{accInit.getType()}, ValueRange{solved, row},
                ValueRange{accInit}, maps, iterators,
                [](OpBuilder &bb, Location bloc, ValueRange args) {
                  ScalarBuilder s = scalarFor(bb, bloc, args[0]);
                  linalg::YieldOp::create(
                      bb, bloc, s.add(args[2], s.mul(args[0], args[1])));
                })
                .getResult(0);
        Value pivot =
            diag ? tensor::ExtractOp::create(nb, nloc, diag, ValueRange{index})
                       .getResult()
                 : Value();
        Value column =
            mapElementwise(nb, nloc, rhsColumn, {rhsColumn, acc}, 1,
                           [&](OpBuilder &bb, Location bloc, ValueRange args) {
                             ScalarBuilder s = scalarFor(bb, bloc, args[0]);
                             Value value = s.sub(args[0], args[1]);
                             return SmallVector<Value>{
                                 pivot ? s.div(value, pivot) : value};
                           })
                .front();
        Value updated = tensor::InsertSliceOp::create(
            nb, nloc, column, solved, slice.offsets, slice.sizes,
            slice.strides);
        scf::YieldOp::create(nb, nloc, updated);
      });
  return loop.getResult(0);
}

/// The permutation matrix of P, (P v)_i = v_{perm_i}.
static SmallVector<double> getPermutationMatrix(ArrayRef<int64_t> perm) {
  int64_t n = perm.size();
  SmallVector<double> matrix(n * n, 0.0);
  for (auto [i, p] : llvm::enumerate(perm))
    matrix[i * n + p] = 1.0;
  return matrix;
}

/// V = (spatial size) sum log|s|, once per call.
static Value buildLULogDet(LULinearOp op, OpBuilder &b, Value diag) {
  Location loc = op.getLoc();
  RankedTensorType dataType = op.getInput().getType();
  double spatial = getSpatialSize(dataType);
  Value logs =
      mapElementwise(b, loc, diag, {diag}, 1,
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       ScalarBuilder s = scalarFor(nb, nloc, args[0]);
                       return SmallVector<Value>{
                           s.mul(s.c(spatial), s.log(s.abs(args[0])))};
                     })
          .front();
  return sumAll(b, loc, logs);
}

FailureOr<LayerValues>
LULinearOp::buildForward(OpBuilder &b, ValueRange operands, bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value lower = buildTriangularFactor(b, loc, adaptor.getLower(),
                                      adaptor.getDiag(), /*lower=*/true,
                                      /*strict=*/false);
  Value upper = buildTriangularFactor(b, loc, adaptor.getUpper(),
                                      adaptor.getDiag(), /*lower=*/false,
                                      /*strict=*/false);
  Value matrix = buildMatrixProduct(b, loc, lower, upper);
  if (std::optional<ArrayRef<int64_t>> perm = getPermutation())
    matrix = buildMatrixProduct(
        b, loc,
        buildMatrixConstant(b, loc, getInput().getType().getElementType(),
                            getPermutationMatrix(*perm), perm->size()),
        matrix);
  Value out = buildChannelMatmul(b, loc, adaptor.getInput(), matrix,
                                 adaptor.getBias(), /*offsetFirst=*/false);
  return LayerValues{
      out, withLogDet ? buildLULogDet(*this, b, adaptor.getDiag()) : Value()};
}

FailureOr<LayerValues> LULinearOp::buildInverse(OpBuilder &b, Value output,
                                                ValueRange operands,
                                                bool withLogDet) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value shifted =
      mapElementwise(b, loc, output, {output, adaptor.getBias()}, 1,
                     [](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{
                           arith::SubFOp::create(nb, nloc, args[0], args[1])};
                     })
          .front();
  if (std::optional<ArrayRef<int64_t>> perm = getPermutation())
    shifted = gatherFeatures(b, loc, shifted, invertPermutation(*perm));
  Value strictLower = buildTriangularFactor(b, loc, adaptor.getLower(),
                                            adaptor.getDiag(), /*lower=*/true,
                                            /*strict=*/true);
  Value strictUpper =
      buildTriangularFactor(b, loc, adaptor.getUpper(), adaptor.getDiag(),
                            /*lower=*/false, /*strict=*/true);
  Value y = buildTriangularSolve(b, loc, shifted, strictLower, Value(),
                                 /*lower=*/true);
  Value x = buildTriangularSolve(b, loc, y, strictUpper, adaptor.getDiag(),
                                 /*lower=*/false);
  return LayerValues{x, withLogDet ? buildLULogDet(*this, b, adaptor.getDiag())
                                   : Value()};
}
