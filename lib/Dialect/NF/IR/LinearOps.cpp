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

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nf;

/// The values of a constant float tensor (dense or dense_resource), row-major.
static FailureOr<SmallVector<double>> getConstantValues(Value value) {
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
  FailureOr<SmallVector<double>> weight = getConstantValues(getWeight());
  if (failed(weight))
    return emitOpError("weight must be a constant (its inverse and log|det| "
                       "are computed at compile time)");
  if (failed(invertMatrix(*weight, channels)))
    return emitOpError("weight is singular");
  return success();
}

/// z = M x + offset over dimension 1, for a constant matrix `matrix`.
static Value buildChannelMatmul(OpBuilder &b, Location loc, Value in,
                                ArrayRef<double> matrix, Value offset,
                                bool offsetFirst) {
  auto type = cast<RankedTensorType>(in.getType());
  int64_t rank = type.getRank(), channels = type.getDimSize(1);
  Type elementType = type.getElementType();
  if (offsetFirst) // x - bias before applying W^-1
    in = mapElementwise(b, loc, in, {in, offset}, 1,
                        [](OpBuilder &nb, Location nloc, ValueRange args) {
                          return SmallVector<Value>{arith::SubFOp::create(
                              nb, nloc, args[0], args[1])};
                        })
             .front();
  // Loops (d0, out channel d1, spatial..., in channel dr): out += M[d1, dr] x.
  auto matrixType = RankedTensorType::get({channels, channels}, elementType);
  SmallVector<Attribute> values;
  for (double v : matrix)
    values.push_back(FloatAttr::get(elementType, v));
  Value constant = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(matrixType, values));
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
          b, loc, TypeRange{init.getType()}, ValueRange{in, constant},
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

/// V = (spatial size) * log|det W|, a rank-0 constant.
static Value buildLinearLogDet(OpBuilder &b, Location loc,
                               RankedTensorType dataType, double logAbsDet) {
  int64_t spatial = 1;
  for (int64_t d : dataType.getShape().drop_front(2))
    spatial *= d;
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
  FailureOr<SmallVector<double>> weight = getConstantValues(op.getWeight());
  if (failed(weight))
    return failure();
  FailureOr<Inverted> inverted = invertMatrix(*weight, channels);
  if (failed(inverted))
    return failure();
  Value out = buildChannelMatmul(b, op.getLoc(), in,
                                 inverse ? ArrayRef<double>(inverted->inverse)
                                         : ArrayRef<double>(*weight),
                                 bias, /*offsetFirst=*/inverse);
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
