//===- CouplingOps.cpp - nf.affine_coupling, nf.additive_coupling ---------===//
//
//   h = conditioner(x_A [, c] [, params]),  z_A = x_A,
//   affine:   shift = h[:, :|B|], scale = scale_fn(h[:, |B|:]),
//             z_B = scale * x_B + shift  (or (x_B + shift) * scale, Glow),
//             V = sum log scale;
//   additive: shift = h,  z_B = x_B + shift,  V = 0.
// The inverse re-evaluates the conditioner on z_A = x_A and inverts only the
// elementwise transform, so the conditioner is never inverted. Both ops share
// every helper here through templates over their (identical) accessors.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

using namespace mlir;
using namespace mlir::nf;

/// Minimum scale added by the sigmoid and softplus scale functions (nflows).
static constexpr double kMinScale = 1e-3;

/// `tensor<?x<size>xT>`, the type of batch values a conditioner exchanges.
static RankedTensorType getDynamicBatchType(int64_t size, Type elementType) {
  return RankedTensorType::get({ShapedType::kDynamic, size}, elementType);
}

/// The features not in `identity`, in increasing order.
template <typename CouplingOp>
static SmallVector<int64_t> getTransformedFeatures(CouplingOp op) {
  int64_t size = op.getInput().getType().getDimSize(1);
  ArrayRef<int64_t> identity = op.getIdentity();
  return llvm::to_vector(
      llvm::make_filter_range(llvm::seq<int64_t>(0, size), [&](int64_t i) {
        return !llvm::is_contained(identity, i);
      }));
}

template <typename CouplingOp>
static LogicalResult verifyCoupling(CouplingOp op) {
  RankedTensorType type = op.getInput().getType();
  if (type.getRank() != 2)
    return op.emitOpError("expects data of type tensor<?xDxT>, but got ")
           << type;
  int64_t size = type.getDimSize(1);
  ArrayRef<int64_t> identity = op.getIdentity();
  if (identity.empty() || static_cast<int64_t>(identity.size()) >= size)
    return op.emitOpError("identity features must be a non-empty proper "
                          "subset of the ")
           << size << " features, but has " << identity.size() << " entries";
  for (auto [i, feature] : llvm::enumerate(identity)) {
    if (feature < 0 || feature >= size)
      return op.emitOpError("identity feature ")
             << feature << " is out of range [0, " << size << ")";
    if (i > 0 && feature <= identity[i - 1])
      return op.emitOpError("identity features must be strictly increasing");
  }
  if (op.getCtx() && op.getCtx().getType().getRank() != 2)
    return op.emitOpError("context must be a tensor<?xCxT>, but is ")
           << op.getCtx().getType();
  return success();
}

/// The conditioner must map (x_A [, context], params...) to
/// `paramsPerFeature` values per transformed feature.
template <typename CouplingOp>
static LogicalResult
verifyConditioner(CouplingOp op, SymbolTableCollection &symbolTable,
                  int64_t paramsPerFeature, StringRef resultLayout) {
  auto conditioner = symbolTable.lookupNearestSymbolFrom<func::FuncOp>(
      op, op.getConditionerAttr());
  if (!conditioner)
    return op.emitOpError("conditioner '")
           << op.getConditioner() << "' does not name a func.func";
  Type elementType = op.getInput().getType().getElementType();
  SmallVector<Type> inputs = {
      getDynamicBatchType(op.getIdentity().size(), elementType)};
  if (op.getCtx())
    inputs.push_back(op.getCtx().getType());
  llvm::append_range(inputs, op.getParams().getTypes());
  Type result = getDynamicBatchType(
      paramsPerFeature * getTransformedFeatures(op).size(), elementType);
  auto expected = FunctionType::get(op.getContext(), inputs, {result});
  if (conditioner.getFunctionType() != expected)
    return op.emitOpError("conditioner @")
           << op.getConditioner() << " has type "
           << conditioner.getFunctionType() << ", but this layer calls it as "
           << expected
           << " (x_A, then the context if any, then the parameters; the "
              "result holds "
           << resultLayout << ")";
  return success();
}

/// Scalar body of a coupling's elementwise transform: (x_B or z_B, the
/// conditioner's values for that feature) -> (output, log-det term or null).
using CouplingTransformFn =
    function_ref<std::pair<Value, Value>(OpBuilder &, Location, ValueRange)>;

/// Builds the coupling map (or its inverse) on `in`: x for the normalizing
/// direction, z for the generative one. x_A = z_A, so both directions
/// evaluate the conditioner on the same values. The conditioner's output
/// holds `paramsPerFeature` blocks of |B| values, passed to `transform`.
template <typename CouplingOp>
static LayerValues buildCoupling(CouplingOp op, OpBuilder &b,
                                 typename CouplingOp::Adaptor adaptor, Value in,
                                 int64_t paramsPerFeature, bool withLogDet,
                                 CouplingTransformFn transform) {
  Location loc = op.getLoc();
  Type elementType = op.getInput().getType().getElementType();
  SmallVector<int64_t> identity(op.getIdentity());
  SmallVector<int64_t> transformed = getTransformedFeatures(op);
  int64_t numTransformed = transformed.size();

  Value inA = gatherFeatures(b, loc, in, identity);
  Value inB = gatherFeatures(b, loc, in, transformed);
  SmallVector<Value> args = {castToDynamicBatch(b, loc, inA)};
  if (Value context = adaptor.getCtx())
    args.push_back(context);
  llvm::append_range(args, adaptor.getParams());
  Type paramsType =
      getDynamicBatchType(paramsPerFeature * numTransformed, elementType);
  Value params = func::CallOp::create(b, loc, op.getConditionerAttr(),
                                      TypeRange{paramsType}, args)
                     .getResult(0);
  SmallVector<Value> inputs = {inB};
  for (int64_t k = 0; k < paramsPerFeature; ++k)
    inputs.push_back(
        sliceFeatures(b, loc, params, k * numTransformed, numTransformed));

  SmallVector<Value> results =
      mapElementwise(b, loc, inB, inputs, withLogDet ? 2 : 1,
                     [&](OpBuilder &nb, Location nloc, ValueRange s) {
                       auto [out, logTerm] = transform(nb, nloc, s);
                       SmallVector<Value> values = {out};
                       if (withLogDet)
                         values.push_back(logTerm);
                       return values;
                     });

  // Put A and B back in feature order.
  Value merged =
      mergeFeatures(b, loc, in, {inA, results[0]}, {identity, transformed});
  Value logDet = withLogDet ? sumEventDims(b, loc, results[1]) : Value();
  return {merged, logDet};
}

//===----------------------------------------------------------------------===//
// nf.affine_coupling
//===----------------------------------------------------------------------===//

SmallVector<int64_t> AffineCouplingOp::getTransformed() {
  return getTransformedFeatures(*this);
}

LogicalResult AffineCouplingOp::verify() { return verifyCoupling(*this); }

LogicalResult
AffineCouplingOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyConditioner(*this, symbolTable, 2,
                           "the shift, then the unconstrained scale");
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

/// z_B from x_B (or x_B from z_B with `inverse`), and log scale.
static LayerValues buildAffineCoupling(AffineCouplingOp op, OpBuilder &b,
                                       AffineCouplingOp::Adaptor adaptor,
                                       Value in, bool inverse,
                                       bool withLogDet) {
  ScaleFn fn = op.getScaleFn();
  bool shiftFirst = op.getShiftFirst();
  return buildCoupling(
      op, b, adaptor, in, /*paramsPerFeature=*/2, withLogDet,
      [&](OpBuilder &nb, Location nloc, ValueRange s) {
        auto [scale, logScale] = buildScale(nb, nloc, fn, s[2]);
        Value value = s[0], shift = s[1], out;
        if (!inverse && !shiftFirst) // scale * x + shift
          out = arith::AddFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, value, scale), shift);
        else if (!inverse) // (x + shift) * scale
          out = arith::MulFOp::create(
              nb, nloc, arith::AddFOp::create(nb, nloc, value, shift), scale);
        else if (!shiftFirst) // (z - shift) / scale
          out = arith::DivFOp::create(
              nb, nloc, arith::SubFOp::create(nb, nloc, value, shift), scale);
        else // z / scale - shift
          out = arith::SubFOp::create(
              nb, nloc, arith::DivFOp::create(nb, nloc, value, scale), shift);
        return std::make_pair(out, logScale);
      });
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

//===----------------------------------------------------------------------===//
// nf.additive_coupling
//===----------------------------------------------------------------------===//

SmallVector<int64_t> AdditiveCouplingOp::getTransformed() {
  return getTransformedFeatures(*this);
}

LogicalResult AdditiveCouplingOp::verify() { return verifyCoupling(*this); }

LogicalResult
AdditiveCouplingOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyConditioner(*this, symbolTable, 1, "the shift");
}

static LayerValues buildAdditiveCoupling(AdditiveCouplingOp op, OpBuilder &b,
                                         AdditiveCouplingOp::Adaptor adaptor,
                                         Value in, bool inverse) {
  // Volume preserving: no log-det terms, V = 0 (null).
  return buildCoupling(
      op, b, adaptor, in, /*paramsPerFeature=*/1, /*withLogDet=*/false,
      [&](OpBuilder &nb, Location nloc, ValueRange s) {
        Value out =
            inverse ? arith::SubFOp::create(nb, nloc, s[0], s[1]).getResult()
                    : arith::AddFOp::create(nb, nloc, s[0], s[1]).getResult();
        return std::make_pair(out, Value());
      });
}

FailureOr<LayerValues>
AdditiveCouplingOp::buildForward(OpBuilder &b, ValueRange operands, bool) {
  Adaptor adaptor(operands, *this);
  return buildAdditiveCoupling(*this, b, adaptor, adaptor.getInput(),
                               /*inverse=*/false);
}

FailureOr<LayerValues> AdditiveCouplingOp::buildInverse(OpBuilder &b,
                                                        Value output,
                                                        ValueRange operands,
                                                        bool) {
  return buildAdditiveCoupling(*this, b, Adaptor(operands, *this), output,
                               /*inverse=*/true);
}
