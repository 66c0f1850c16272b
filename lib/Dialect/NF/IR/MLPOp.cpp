//===- MLPOp.cpp - nf.mlp: verifier and lowering --------------------------===//

#include "nf/Dialect/NF/IR/MLPOp.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::nf;

LogicalResult mlir::nf::verifyMLPParams(Operation *op, ValueRange params,
                                        int64_t inputWidth, int64_t outputWidth,
                                        Type elementType) {
  if (params.empty() || params.size() % 2 != 0)
    return op->emitOpError("expects (weight, bias) pairs, but has ")
           << params.size() << " parameters";
  int64_t width = inputWidth;
  for (unsigned layer = 0; layer < params.size() / 2; ++layer) {
    auto weight = cast<RankedTensorType>(params[2 * layer].getType());
    auto bias = cast<RankedTensorType>(params[2 * layer + 1].getType());
    if (weight.getElementType() != elementType ||
        bias.getElementType() != elementType)
      return op->emitOpError("layer ") << layer << " has parameters of another "
                                       << "element type than the input's";
    if (weight.getRank() != 2 || weight.getDimSize(0) != width)
      return op->emitOpError("weight of layer ")
             << layer << " must be a matrix with " << width
             << " rows (the width of its input), but has type " << weight;
    if (bias.getRank() != 1 || bias.getDimSize(0) != weight.getDimSize(1))
      return op->emitOpError("bias of layer ")
             << layer << " must be a vector of " << weight.getDimSize(1)
             << " entries (the columns of its weight), but has type " << bias;
    width = weight.getDimSize(1);
  }
  if (width != outputWidth)
    return op->emitOpError("last layer has ")
           << width << " outputs, but the result has " << outputWidth
           << " features";
  return success();
}

LogicalResult MLPOp::verify() {
  RankedTensorType inputType = getInput().getType();
  RankedTensorType outputType = getOutput().getType();
  if (inputType.getRank() != 2 || outputType.getRank() != 2)
    return emitOpError("expects tensor<?xNxT> input and output");
  if (inputType.getDimSize(0) != outputType.getDimSize(0))
    return emitOpError("input and output batch dimensions differ");
  Type elementType = inputType.getElementType();
  if (outputType.getElementType() != elementType)
    return emitOpError("output element type differs from the input's");
  return verifyMLPParams(*this, getParams(), inputType.getDimSize(1),
                         outputType.getDimSize(1), elementType);
}

Value mlir::nf::buildScalarActivation(OpBuilder &b, Location loc,
                                      Activation kind, Value x) {
  Type type = x.getType();
  Value zero = createFloatConstant(b, loc, type, 0.0);
  auto positive = [&] {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
  };
  switch (kind) {
  case Activation::ReLU:
    return arith::MaximumFOp::create(b, loc, x, zero);
  case Activation::LeakyReLU: {
    Value slope = createFloatConstant(b, loc, type, 0.01);
    Value scaled = arith::MulFOp::create(b, loc, x, slope);
    return arith::SelectOp::create(b, loc, positive(), x, scaled);
  }
  case Activation::ELU: {
    Value negativePart = math::ExpM1Op::create(b, loc, x);
    return arith::SelectOp::create(b, loc, positive(), x, negativePart);
  }
  case Activation::Tanh:
    return math::TanhOp::create(b, loc, x);
  case Activation::Sigmoid:
    return buildScalarSigmoid(b, loc, x);
  }
  llvm_unreachable("unknown activation");
}

Value mlir::nf::buildScalarActivationDerivative(OpBuilder &b, Location loc,
                                                Activation kind, Value x) {
  ScalarBuilder s = scalarFor(b, loc, x);
  Value positive = s.cmp(arith::CmpFPredicate::OGT, x, s.c(0.0));
  switch (kind) {
  case Activation::ReLU:
    return s.select(positive, s.c(1.0), s.c(0.0));
  case Activation::LeakyReLU:
    return s.select(positive, s.c(1.0), s.c(0.01));
  case Activation::ELU:
    return s.select(positive, s.c(1.0), s.exp(x));
  case Activation::Tanh: {
    Value t = s.tanh(x);
    return s.sub(s.c(1.0), s.mul(t, t));
  }
  case Activation::Sigmoid: {
    Value sig = s.sigmoid(x);
    return s.mul(sig, s.sub(s.c(1.0), sig));
  }
  }
  llvm_unreachable("unknown activation");
}

Value mlir::nf::buildDenseLayer(OpBuilder &b, Location loc, Value input,
                                Value weight, Value bias) {
  auto inputType = cast<RankedTensorType>(input.getType());
  int64_t width = cast<RankedTensorType>(weight.getType()).getDimSize(1);
  Value empty = tensor::EmptyOp::create(
      b, loc, {tensor::getMixedSize(b, loc, input, 0), b.getIndexAttr(width)},
      inputType.getElementType());
  // The accumulator starts as the broadcast bias (each layer's init is
  // distinct, so CSE cannot merge inits that bufferization would then have
  // to copy).
  Value init = empty;
  if (bias) {
    SmallVector<AffineMap> broadcastMaps = {
        AffineMap::get(2, 0, {b.getAffineDimExpr(1)}, b.getContext()),
        b.getMultiDimIdentityMap(2)};
    SmallVector<utils::IteratorType> iterators(2,
                                               utils::IteratorType::parallel);
    init = linalg::GenericOp::create(
               b, loc, TypeRange{empty.getType()}, ValueRange{bias},
               ValueRange{empty}, broadcastMaps, iterators,
               [](OpBuilder &nb, Location nloc, ValueRange args) {
                 linalg::YieldOp::create(nb, nloc, args[0]);
               })
               .getResult(0);
  } else {
    Value zero = createFloatConstant(b, loc, inputType.getElementType(), 0.0);
    init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  }
  return linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                  ValueRange{input, weight}, ValueRange{init})
      .getResult(0);
}

Value MLPOp::buildLinalg(OpBuilder &b, ValueRange operands) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value hidden = adaptor.getInput();
  ValueRange params = adaptor.getParams();
  unsigned numLayers = params.size() / 2;
  Activation activation = getActivation();
  for (unsigned layer = 0; layer < numLayers; ++layer) {
    hidden = buildDenseLayer(b, loc, hidden, params[2 * layer],
                             params[2 * layer + 1]);
    if (layer + 1 == numLayers)
      break;
    // The activation updates the product in place.
    SmallVector<AffineMap> identity = {b.getMultiDimIdentityMap(2)};
    SmallVector<utils::IteratorType> iterators(2,
                                               utils::IteratorType::parallel);
    hidden = linalg::GenericOp::create(
                 b, loc, TypeRange{hidden.getType()}, ValueRange{},
                 ValueRange{hidden}, identity, iterators,
                 [&](OpBuilder &nb, Location nloc, ValueRange args) {
                   linalg::YieldOp::create(
                       nb, nloc,
                       buildScalarActivation(nb, nloc, activation, args[0]));
                 })
                 .getResult(0);
  }
  return hidden;
}

std::optional<ConditionerMLP>
mlir::nf::getConditionerMLP(ConditionedLayerOpInterface layer) {
  auto fn = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      layer, layer.getConditionerAttr());
  if (!fn || fn.isDeclaration())
    return std::nullopt;
  Block &body = fn.getBody().front();
  auto ret = dyn_cast<func::ReturnOp>(body.getTerminator());
  auto mlp = ret && ret.getNumOperands() == 1
                 ? ret.getOperand(0).getDefiningOp<MLPOp>()
                 : MLPOp();
  if (!mlp)
    return std::nullopt;
  // The input: the conditioned features, then the context.
  Value input = mlp.getInput();
  if (layer.getCtx()) {
    auto concat = input.getDefiningOp<tensor::ConcatOp>();
    if (!concat || concat.getDim() != 1 || concat.getInputs().size() != 2 ||
        concat.getInputs()[0] != body.getArgument(0) ||
        concat.getInputs()[1] != body.getArgument(1))
      return std::nullopt;
  } else if (input != body.getArgument(0)) {
    return std::nullopt;
  }
  unsigned firstParam = layer.getCtx() ? 2 : 1;
  ConditionerMLP result{mlp, {}, mlp.getActivation()};
  for (Value param : mlp.getParams()) {
    auto arg = dyn_cast<BlockArgument>(param);
    if (!arg || arg.getOwner() != &body || arg.getArgNumber() < firstParam)
      return std::nullopt;
    result.paramIndices.push_back(arg.getArgNumber() - firstParam);
  }
  return result;
}
