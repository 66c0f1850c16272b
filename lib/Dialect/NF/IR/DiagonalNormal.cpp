//===- DiagonalNormal.cpp - Diagonal-normal densities of layers -----------===//

#include "nf/Dialect/NF/IR/DiagonalNormal.h"

#include "nf/Dialect/NF/IR/Conditioned.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nf;

/// mean + exp(logStd) eps, or eps for the standard normal (null mean).
Value mlir::nf::buildGaussianDraw(OpBuilder &b, Location loc, Value eps,
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
Value mlir::nf::buildStandardized(OpBuilder &b, Location loc, Value value,
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
Value mlir::nf::buildGaussianLogDensity(OpBuilder &b, Location loc, Value eps,
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
std::pair<Value, Value> mlir::nf::buildDiagonalNormal(
    OpBuilder &b, Location loc, FlatSymbolRefAttr density, Value input,
    Value context, ValueRange params, RankedTensorType type) {
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
LogicalResult mlir::nf::verifyDensityFunction(Operation *op,
                                              SymbolTableCollection &table,
                                              FlatSymbolRefAttr density,
                                              RankedTensorType inputType,
                                              Value context, ValueRange params,
                                              RankedTensorType type) {
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
