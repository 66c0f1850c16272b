//===- Passes.td - nf conversion passes --------------------*- tablegen -*-===//

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

def NFApproximateMathPass : Pass<"nf-approximate-math"> {
  let summary = "Replace f32 transcendentals with polynomial approximations";
  let description = [{
    Rewrites f32 (scalar and vector) `math.exp`, `math.log`, `math.log1p`,
    `math.expm1`, `math.tanh` and friends into arith polynomials with MLIR's
    upstream approximations, so no libm call remains in a hot loop and the
    loops vectorize. f64 ops are kept exact.
  }];
  let options = [
    Option<"enableAvx2", "enable-avx2", "bool", "false",
           "Use AVX2 intrinsics where the approximations offer them">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::vector::VectorDialect"
  ];
}

def NFInlineScalarResourcesPass : Pass<"nf-inline-scalar-resources"> {
  let summary = "Turn rank-0 dense_resource constants into dense literals";
  let description = [{
    Rewrites `arith.constant dense_resource<...> : tensor<T>` (rank 0) into
    `arith.constant dense<v> : tensor<T>`. Upstream MLIR 22 lowers rank-0
    `memref.global`s by iterating their elements, which dense_resource blobs
    do not support, so without this the LLVM lowering aborts. Larger
    resources (weights) are kept as blobs. A missing or malformed blob is a
    located error.
  }];
}

def NFReorderContractionsPass : Pass<"nf-reorder-contractions"> {
  let summary = "Loop order (m, k, n) for matmuls, so the inner loop vectorizes";
  let description = [{
    Generalizes `linalg.matmul` and interchanges its loops from (m, n, k) to
    (m, k, n): the innermost loop then walks contiguous rows of B and C with
    a loop-invariant A[m, k], which LLVM vectorizes into broadcast-FMA
    chains; the batch dimension m stays outermost, so it may be dynamic.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

#endif // NF_CONVERSION_PASSES_TD
