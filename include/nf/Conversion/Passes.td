//===- Passes.td - nf conversion passes --------------------*- tablegen -*-===//
//
// Conversions from the nf dialect to upstream dialects.
//
//===----------------------------------------------------------------------===//

#ifndef NF_CONVERSION_PASSES_TD
#define NF_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertNFToLinalgPass : Pass<"convert-nf-to-linalg", "ModuleOp"> {
  let summary = "Lower nf ops outside models to linalg/tensor/arith/math";
  let description = [{
    Lowers `nf.mlp` to `linalg.matmul` and elementwise `linalg.generic` ops
    (bias and activation), and every layer op outside an `nf.model` to its
    normalizing map through `FlowLayerOpInterface::buildForward`. Ops inside
    models are left alone (`nf-expand-model` turns models into functions).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"
  ];
}

#endif // NF_CONVERSION_PASSES_TD
