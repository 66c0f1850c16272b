//===- CouplingOps.cpp - nf.affine_coupling -------------------------------===//
//
//   h = conditioner(x_A [, c] [, params]),  shift = h[:, :|B|],
//   scale = scale_fn(h[:, |B|:]),  z_A = x_A,  z_B = scale * x_B + shift,
//   V = sum log scale.
// The inverse re-evaluates the conditioner on z_A = x_A and inverts only the
// elementwise transform, so the conditioner is never inverted.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

using namespace mlir;
using namespace mlir::nf;

/// Minimum scale added by the sigmoid and softplus scale functions (nflows).
static constexpr double kMinScale = 1e-3;

SmallVector<int64_t> AffineCouplingOp::getTransformed() {
  int64_t size = getInput().getType().getDimSize(1);
  ArrayRef<int64_t> identity = getIdentity();
  return llvm::to_vector(
      llvm::make_filter_range(llvm::seq<int64_t>(0, size), [&](int64_t i) {
        return !llvm::is_contained(identity, i);
      }));
}

LogicalResult AffineCouplingOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 2)
    return emitOpError("expects data of type tensor<?xDxT>, but got ") << type;
  int64_t size = type.getDimSize(1);
  ArrayRef<int64_t> identity = getIdentity();
  if (identity.empty() || static_cast<int64_t>(identity.size()) >= size)
    return emitOpError("identity features must be a non-empty proper subset of "
                       "the ")
           << size << " features, but has " << identity.size() << " entries";
  for (auto [i, feature] : llvm::enumerate(identity)) {
    if (feature < 0 || feature >= size)
      return emitOpError("identity feature ")
             << feature << " is out of range [0, " << size << ")";
    if (i > 0 && feature <= identity[i - 1])
      return emitOpError("identity features must be strictly increasing");
  }
  if (getCtx() && getCtx().getType().getRank() != 2)
    return emitOpError("context must be a tensor<?xCxT>, but is ")
           << getCtx().getType();
  return success();
}

/// `tensor<?x<size>xT>`, the type of batch values a conditioner exchanges.
static RankedTensorType getDynamicBatchType(int64_t size, Type elementType) {
  return RankedTensorType::get({ShapedType::kDynamic, size}, elementType);
}

LogicalResult
AffineCouplingOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto conditioner = symbolTable.lookupNearestSymbolFrom<func::FuncOp>(
      *this, getConditionerAttr());
  if (!conditioner)
    return emitOpError("conditioner '")
           << getConditioner() << "' does not name a func.func";
  Type elementType = getInput().getType().getElementType();
  SmallVector<Type> inputs = {
      getDynamicBatchType(getIdentity().size(), elementType)};
  if (getCtx())
    inputs.push_back(getCtx().getType());
  llvm::append_range(inputs, getParams().getTypes());
  Type result = getDynamicBatchType(2 * getTransformed().size(), elementType);
  auto expected = FunctionType::get(getContext(), inputs, {result});
  if (conditioner.getFunctionType() != expected)
    return emitOpError("conditioner @")
           << getConditioner() << " has type " << conditioner.getFunctionType()
           << ", but this layer calls it as " << expected
           << " (x_A, then the context if any, then the parameters; the "
              "result holds the shift, then the unconstrained scale)";
  return success();
}

/// The positive scale and its log for the raw conditioner output `raw`.
static std::pair<Value, Value> buildScale(OpBuilder &b, Location loc,
                                          ScaleFn fn, Value raw) {
  Type type = raw.getType();
  auto constant = [&](double v) {
    return createFloatConstant(b, loc, type, v);
  };
  switch (fn) {
  case ScaleFn::Exp:
    return {math::ExpOp::create(b, loc, raw), raw};
  case ScaleFn::Sigmoid: {
    // sigmoid(h + 2) + 1e-3
    Value shifted = arith::AddFOp::create(b, loc, raw, constant(2.0));
    Value scale = arith::AddFOp::create(
        b, loc, buildScalarSigmoid(b, loc, shifted), constant(kMinScale));
    return {scale, math::LogOp::create(b, loc, scale)};
  }
  case ScaleFn::Softplus: {
    // softplus(h) + 1e-3
    Value scale = arith::AddFOp::create(
        b, loc, buildScalarSoftplus(b, loc, raw), constant(kMinScale));
    return {scale, math::LogOp::create(b, loc, scale)};
  }
  }
  llvm_unreachable("unknown scale function");
}

/// Builds the coupling map (or its inverse) on `in`: x for the normalizing
/// direction, z for the generative one. x_A = z_A, so both directions
/// evaluate the conditioner on the same values.
static LayerValues buildAffineCoupling(AffineCouplingOp op, OpBuilder &b,
                                       AffineCouplingOp::Adaptor adaptor,
                                       Value in, bool inverse,
                                       bool withLogDet) {
  Location loc = op.getLoc();
  Type elementType = op.getInput().getType().getElementType();
  SmallVector<int64_t> identity(op.getIdentity());
  SmallVector<int64_t> transformed = op.getTransformed();
  int64_t numTransformed = transformed.size();

  Value inA = gatherFeatures(b, loc, in, identity);
  Value inB = gatherFeatures(b, loc, in, transformed);
  SmallVector<Value> args = {castToDynamicBatch(b, loc, inA)};
  if (Value context = adaptor.getCtx())
    args.push_back(context);
  llvm::append_range(args, adaptor.getParams());
  Type paramsType = getDynamicBatchType(2 * numTransformed, elementType);
  Value params = func::CallOp::create(b, loc, op.getConditionerAttr(),
                                      TypeRange{paramsType}, args)
                     .getResult(0);
  Value shift = sliceFeatures(b, loc, params, 0, numTransformed);
  Value rawScale =
      sliceFeatures(b, loc, params, numTransformed, numTransformed);

  ScaleFn fn = op.getScaleFn();
  SmallVector<Value> results = mapElementwise(
      b, loc, inB, {inB, shift, rawScale}, withLogDet ? 2 : 1,
      [&](OpBuilder &nb, Location nloc, ValueRange s) {
        auto [scale, logScale] = buildScale(nb, nloc, fn, s[2]);
        Value out;
        if (inverse) {
          Value centered = arith::SubFOp::create(nb, nloc, s[0], s[1]);
          out = arith::DivFOp::create(nb, nloc, centered, scale);
        } else {
          Value scaled = arith::MulFOp::create(nb, nloc, s[0], scale);
          out = arith::AddFOp::create(nb, nloc, scaled, s[1]);
        }
        SmallVector<Value> values = {out};
        if (withLogDet)
          values.push_back(logScale);
        return values;
      });

  // Put A and B back in feature order.
  Value merged =
      mergeFeatures(b, loc, in, {inA, results[0]}, {identity, transformed});
  Value logDet = withLogDet ? sumEventDims(b, loc, results[1]) : Value();
  return {merged, logDet};
}

FailureOr<LayerValues> AffineCouplingOp::buildForward(OpBuilder &b,
                                                      ValueRange operands,
                                                      bool withLogDet) {
  Adaptor adaptor(operands, *this);
  return buildAffineCoupling(*this, b, adaptor, adaptor.getInput(),
                             /*inverse=*/false, withLogDet);
}

FailureOr<LayerValues> AffineCouplingOp::buildInverse(OpBuilder &b,
                                                      Value output,
                                                      ValueRange operands,
                                                      bool withLogDet) {
  return buildAffineCoupling(*this, b, Adaptor(operands, *this), output,
                             /*inverse=*/true, withLogDet);
}
