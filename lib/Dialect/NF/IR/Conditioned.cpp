//===- Conditioned.cpp - Helpers of coupling and autoregressive layers ----===//
//
// The conditioner call, its type check, the affine transformer and the
// elementwise application of a transformer, shared by the coupling
// (CouplingOps.cpp) and autoregressive (AutoregressiveOps.cpp) layers. The
// spline transformer lives with nf.rq_spline in SplineOps.cpp.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/Conditioned.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::nf;

/// Minimum scale added by the sigmoid and softplus scale functions (nflows).
static constexpr double kMinScale = 1e-3;

RankedTensorType mlir::nf::getBatchType(int64_t size, ArrayRef<int64_t> spatial,
                                        Type elementType) {
  SmallVector<int64_t> shape = {ShapedType::kDynamic, size};
  llvm::append_range(shape, spatial);
  return RankedTensorType::get(shape, elementType);
}

/// The positive scale and its log for the raw conditioner output `raw`.
static std::pair<Value, Value> buildScale(ScalarBuilder &s, ScaleFn fn,
                                          Value raw) {
  switch (fn) {
  case ScaleFn::Exp:
    return {s.exp(raw), raw};
  case ScaleFn::Sigmoid: { // sigmoid(h + 2) + 1e-3
    Value scale = s.add(s.sigmoid(s.add(raw, s.c(2.0))), s.c(kMinScale));
    return {scale, s.log(scale)};
  }
  case ScaleFn::Softplus: { // softplus(h) + 1e-3
    Value scale = s.add(s.softplus(raw), s.c(kMinScale));
    return {scale, s.log(scale)};
  }
  }
  llvm_unreachable("unknown scale function");
}

std::pair<Value, Value>
mlir::nf::buildAffineTransform(OpBuilder &b, Location loc, ScaleFn fn,
                               bool shiftFirst, Value in, Value shift,
                               Value raw, bool inverse) {
  ScalarBuilder s = scalarFor(b, loc, in);
  auto [scale, logScale] = buildScale(s, fn, raw);
  Value out;
  if (!inverse)
    out = shiftFirst ? s.mul(s.add(in, shift), scale)  // (x + shift) * scale
                     : s.add(s.mul(in, scale), shift); // scale * x + shift
  else
    out = shiftFirst ? s.sub(s.div(in, scale), shift)  // z / scale - shift
                     : s.div(s.sub(in, shift), scale); // (z - shift) / scale
  return {out, logScale};
}

Value mlir::nf::callConditioner(OpBuilder &b, Location loc,
                                FlatSymbolRefAttr conditioner, Value input,
                                Value context, ValueRange params,
                                Type resultType) {
  SmallVector<Value> args = {castToDynamicBatch(b, loc, input)};
  if (context)
    args.push_back(context);
  llvm::append_range(args, params);
  return func::CallOp::create(b, loc, conditioner, TypeRange{resultType}, args)
      .getResult(0);
}

LogicalResult
mlir::nf::verifyConditionerType(Operation *op,
                                SymbolTableCollection &symbolTable,
                                FlatSymbolRefAttr conditioner, TypeRange inputs,
                                Type result, StringRef layout, StringRef role) {
  auto function =
      symbolTable.lookupNearestSymbolFrom<func::FuncOp>(op, conditioner);
  if (!function)
    return op->emitOpError(role)
           << " " << conditioner << " does not name a func.func";
  auto expected = FunctionType::get(op->getContext(), inputs, {result});
  if (function.getFunctionType() != expected)
    return op->emitOpError(role)
           << " " << conditioner << " has type " << function.getFunctionType()
           << ", but this layer calls it as " << expected
           << " (the layer's input, then the context if any, then the "
              "parameters; the result holds "
           << layout << ")";
  return success();
}

LogicalResult mlir::nf::verifyContext(Operation *op, Value context) {
  if (context && cast<RankedTensorType>(context.getType()).getRank() != 2)
    return op->emitOpError("context must be a tensor<?xCxT>, but is ")
           << context.getType();
  return success();
}

LayerValues mlir::nf::applyTransformer(OpBuilder &b, Location loc,
                                       const Transformer &transformer, Value in,
                                       Value params, bool inverse,
                                       bool withLogDet) {
  int64_t count = cast<RankedTensorType>(in.getType()).getDimSize(1);
  int64_t numParams = transformer.numParams;
  bool blocked = transformer.layout == ParamLayout::Blocked;
  SmallVector<Value> inputs = {in};
  for (int64_t k = 0; k < numParams; ++k)
    inputs.push_back(blocked
                         ? sliceFeatures(b, loc, params, k * count, count)
                         : sliceFeatures(b, loc, params, k, count, numParams));
  bool hasLogDet = false;
  SmallVector<Value> results = mapElementwise(
      b, loc, in, inputs, withLogDet ? 2 : 1,
      [&](OpBuilder &nb, Location nloc, ValueRange s) {
        auto [out, logTerm] =
            transformer.apply(nb, nloc, s[0], s.drop_front(), inverse);
        SmallVector<Value> values = {out};
        if (withLogDet) {
          hasLogDet = static_cast<bool>(logTerm);
          values.push_back(
              logTerm ? logTerm
                      : createFloatConstant(nb, nloc, out.getType(), 0.0));
        }
        return values;
      });
  Value logDet =
      withLogDet && hasLogDet ? sumEventDims(b, loc, results[1]) : Value();
  return {results[0], logDet};
}
