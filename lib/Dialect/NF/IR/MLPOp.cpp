//===- MLPOp.cpp - nf.mlp: verifier and lowering --------------------------===//

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

using namespace mlir;
using namespace mlir::nf;

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
  OperandRange params = getParams();
  if (params.empty() || params.size() % 2 != 0)
    return emitOpError("expects (weight, bias) pairs, but has ")
           << params.size() << " parameters";
  int64_t width = inputType.getDimSize(1);
  for (unsigned layer = 0; layer < params.size() / 2; ++layer) {
    auto weight = cast<RankedTensorType>(params[2 * layer].getType());
    auto bias = cast<RankedTensorType>(params[2 * layer + 1].getType());
    if (weight.getElementType() != elementType ||
        bias.getElementType() != elementType)
      return emitOpError("layer ") << layer << " has parameters of another "
                                   << "element type than the input's";
    if (weight.getRank() != 2 || weight.getDimSize(0) != width)
      return emitOpError("weight of layer ")
             << layer << " must be a matrix with " << width
             << " rows (the width of its input), but has type " << weight;
    if (bias.getRank() != 1 || bias.getDimSize(0) != weight.getDimSize(1))
      return emitOpError("bias of layer ")
             << layer << " must be a vector of " << weight.getDimSize(1)
             << " entries (the columns of its weight), but has type " << bias;
    width = weight.getDimSize(1);
  }
  if (width != outputType.getDimSize(1))
    return emitOpError("last layer has ")
           << width << " outputs, but the result has "
           << outputType.getDimSize(1) << " features";
  return success();
}

/// The activation `kind` applied to the scalar `x`.
static Value buildActivation(OpBuilder &b, Location loc, Activation kind,
                             Value x) {
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

Value MLPOp::buildLinalg(OpBuilder &b, ValueRange operands) {
  Adaptor adaptor(operands, *this);
  Location loc = getLoc();
  Value hidden = adaptor.getInput();
  ValueRange params = adaptor.getParams();
  unsigned numLayers = params.size() / 2;
  Activation activation = getActivation();
  for (unsigned layer = 0; layer < numLayers; ++layer) {
    Value weight = params[2 * layer], bias = params[2 * layer + 1];
    auto hiddenType = cast<RankedTensorType>(hidden.getType());
    int64_t width = cast<RankedTensorType>(weight.getType()).getDimSize(1);
    Value empty = tensor::EmptyOp::create(
        b, loc,
        {tensor::getMixedSize(b, loc, hidden, 0), b.getIndexAttr(width)},
        hiddenType.getElementType());
    // The accumulator starts as the broadcast bias (each layer's init is
    // distinct, so CSE cannot merge inits that bufferization would then have
    // to copy); the activation then updates the product in place.
    SmallVector<AffineMap> broadcastMaps = {
        AffineMap::get(2, 0, {b.getAffineDimExpr(1)}, b.getContext()),
        b.getMultiDimIdentityMap(2)};
    SmallVector<utils::IteratorType> iterators(2,
                                               utils::IteratorType::parallel);
    Value init = linalg::GenericOp::create(
                     b, loc, TypeRange{empty.getType()}, ValueRange{bias},
                     ValueRange{empty}, broadcastMaps, iterators,
                     [](OpBuilder &nb, Location nloc, ValueRange args) {
                       linalg::YieldOp::create(nb, nloc, args[0]);
                     })
                     .getResult(0);
    hidden =
        linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                 ValueRange{hidden, weight}, ValueRange{init})
            .getResult(0);
    if (layer + 1 == numLayers)
      break;
    SmallVector<AffineMap> identity = {b.getMultiDimIdentityMap(2)};
    hidden =
        linalg::GenericOp::create(
            b, loc, TypeRange{hidden.getType()}, ValueRange{},
            ValueRange{hidden}, identity, iterators,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              linalg::YieldOp::create(
                  nb, nloc, buildActivation(nb, nloc, activation, args[0]));
            })
            .getResult(0);
  }
  return hidden;
}
