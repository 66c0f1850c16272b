//===- MLPOp.cpp - nf.mlp -------------------------------------------------===//

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
