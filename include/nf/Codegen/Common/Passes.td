//===- Passes.td - Target-independent codegen passes -------*- tablegen -*-===//
//
// Passes on upstream IR (after nf is lowered) that every target's pipeline
// runs: the CPU's and, later, the GPU's.
//
//===----------------------------------------------------------------------===//

#ifndef NF_CODEGEN_COMMON_PASSES_TD
#define NF_CODEGEN_COMMON_PASSES_TD

include "mlir/Pass/PassBase.td"

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

#endif // NF_CODEGEN_COMMON_PASSES_TD
