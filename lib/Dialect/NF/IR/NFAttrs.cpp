//===- NFAttrs.cpp - Base distributions -----------------------------------===//

#include "nf/Dialect/NF/IR/NFAttrs.h"

using namespace mlir;
using namespace mlir::nf;

/// Checks that the parameter `param` of a base distribution has the event
/// shape and element type of `latentType`.
static LogicalResult
verifyEventShaped(function_ref<InFlightDiagnostic()> emitError, StringRef name,
                  DenseFPElementsAttr param, RankedTensorType latentType) {
  auto paramType = cast<RankedTensorType>(param.getType());
  ArrayRef<int64_t> eventShape = latentType.getShape().drop_front();
  if (paramType.getShape() != eventShape ||
      paramType.getElementType() != latentType.getElementType())
    return emitError() << "base distribution parameter '" << name
                       << "' has type " << paramType << ", but the latent "
                       << latentType
                       << " needs the event shape and element type "
                       << RankedTensorType::get(eventShape,
                                                latentType.getElementType());
  return success();
}

/// Checks that two parameters of a base distribution have one type.
static LogicalResult
verifySameType(function_ref<InFlightDiagnostic()> emitError, StringRef lhsName,
               DenseFPElementsAttr lhs, StringRef rhsName,
               DenseFPElementsAttr rhs) {
  if (lhs.getType() != rhs.getType())
    return emitError() << "'" << lhsName << "' and '" << rhsName
                       << "' must have the same type, but have "
                       << lhs.getType() << " and " << rhs.getType();
  return success();
}

LogicalResult
StandardNormalAttr::verifyLatentType(function_ref<InFlightDiagnostic()>,
                                     RankedTensorType) const {
  return success();
}

LogicalResult
DiagNormalAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       DenseFPElementsAttr mean, DenseFPElementsAttr logStd) {
  return verifySameType(emitError, "mean", mean, "log_std", logStd);
}

LogicalResult
DiagNormalAttr::verifyLatentType(function_ref<InFlightDiagnostic()> emitError,
                                 RankedTensorType latentType) const {
  return verifyEventShaped(emitError, "mean", getMean(), latentType);
}

LogicalResult UniformAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  DenseFPElementsAttr low,
                                  DenseFPElementsAttr high) {
  if (failed(verifySameType(emitError, "low", low, "high", high)))
    return failure();
  for (auto [i, bounds] : llvm::enumerate(
           llvm::zip(low.getValues<APFloat>(), high.getValues<APFloat>()))) {
    auto [lo, hi] = bounds;
    if (!(lo < hi))
      return emitError() << "uniform box is empty: low >= high at element "
                         << i;
  }
  return success();
}

LogicalResult
UniformAttr::verifyLatentType(function_ref<InFlightDiagnostic()> emitError,
                              RankedTensorType latentType) const {
  return verifyEventShaped(emitError, "low", getLow(), latentType);
}
