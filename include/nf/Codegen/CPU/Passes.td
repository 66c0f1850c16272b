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

def NFTileKernelsPass : Pass<"nf-tile-kernels", "ModuleOp"> {
  let summary = "Run each kernel over static tiles of rows";
  let description = [{
    Every kernel (a public `func.func` with `llvm.emit_c_interface` whose
    arguments are row arrays `memref<?x...>`) becomes a loop over tiles of
    `tile-rows` rows that calls `<kernel>_tile`: the kernel's body with every
    row count static, so one tile runs through all layers of the flow with
    its intermediates in cache and every op has static shapes for tiling and
    vectorization. A last partial tile is padded with zeros in scratch
    buffers and only its real rows are written back.

    `tile-rows` 0 picks the tile from the widest row of the kernel's
    intermediates and the host's L2 cache: the largest power of two from 8
    to 256 whose widest intermediates fit in half of it.
  }];
  let options = [
    Option<"tileRows", "tile-rows", "int64_t", "0",
           "Rows per tile (0: chosen from the model's widths and the cache)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect"
  ];
}

#endif // NF_CODEGEN_CPU_PASSES_TD
