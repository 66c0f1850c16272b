//===- InlineScalarResources.cpp - Rank-0 dense_resource to dense ---------===//

#include "nf/Codegen/Common/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFINLINESCALARRESOURCESPASS
#include "nf/Codegen/Common/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;

namespace {
struct NFInlineScalarResourcesPass
    : public nf::impl::NFInlineScalarResourcesPassBase<
          NFInlineScalarResourcesPass> {
  void runOnOperation() override {
    WalkResult result = getOperation()->walk([](arith::ConstantOp constant) {
      auto resource =
          dyn_cast<DenseResourceElementsAttr>(constant.getValueAttr());
      if (!resource || resource.getType().getRank() != 0)
        return WalkResult::advance();
      AsmResourceBlob *blob = resource.getRawHandle().getBlob();
      ShapedType type = resource.getType();
      int64_t bytes = type.getElementTypeBitWidth() / 8;
      if (!blob || static_cast<int64_t>(blob->getData().size()) != bytes) {
        constant.emitOpError("resource '")
            << resource.getRawHandle().getKey()
            << "' is missing or does not hold one " << type.getElementType();
        return WalkResult::interrupt();
      }
      constant.setValueAttr(
          DenseElementsAttr::getFromRawBuffer(type, blob->getData()));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
