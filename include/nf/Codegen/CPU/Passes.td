//===- Passes.td - CPU codegen passes ----------------------*- tablegen -*-===//
//
// Passes of the CPU pipeline only: loop order, tiling and vectorization for
// the host's vector units.
//
//===----------------------------------------------------------------------===//

#ifndef NF_CODEGEN_CPU_PASSES_TD
#define NF_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

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

#endif // NF_CODEGEN_CPU_PASSES_TD
