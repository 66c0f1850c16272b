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
    Every kernel (a public `func.func` with `llvm.emit_c_interface`, or a
    kernel body marked `nf.kernel_body`, whose arguments are row arrays
    `memref<?x...>` it only reads, writes or asks the row count of) becomes a loop over tiles of
    `tile-rows` rows that calls `<kernel>_tile`: the kernel's body with every
    row count static, so one tile runs through all layers of the flow with
    its intermediates in cache and every op has static shapes for tiling and
    vectorization. A last partial tile is padded with zeros in scratch
    buffers and only its real rows are written back.

    `tile-rows` 0 picks the tile from the widest row of the kernel's
    intermediates and the host's L2 cache: the largest power of two from 8
    to 128 whose three widest intermediates fit in half of it.
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

def NFTransposeTilesPass : Pass<"nf-transpose-tiles", "func::FuncOp"> {
  let summary = "Store the batch tensors of a row tile batch-minor";
  let description = [{
    In a tile function of `nf-tile-kernels` (`nf.tile_rows` = TM), every
    tensor that carries the tile's rows, found by data flow from the tile's
    inputs, is stored with its batch dimension last: `tensor<TMxWxT>`
    becomes `tensor<WxTMxT>`. Vectors then run along the TM rows whatever
    the model's widths, and feature columns (spline parameters, MAF's
    interleaved scales and shifts) are contiguous. Linalg ops' indexing maps
    and slice offsets are permuted to match; the tile's reads and writes of
    the caller's row-major arrays get one transpose each. Named linalg ops
    are generalized first. A tile function with an op this pass cannot
    rewrite keeps its layout (`report` names the op in a remark).
  }];
  let options = [
    Option<"report", "report", "bool", "false",
           "Emit a remark at the op that keeps a tile batch-first">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"
  ];
}

def NFVectorizeTilesPass : Pass<"nf-vectorize-tiles", "func::FuncOp"> {
  let summary = "Register-tile and vectorize the static linalg ops of a tile";
  let description = [{
    For every linalg op on tensors with static shapes (the inside of the
    row tiles of `nf-tile-kernels`): contractions are tiled to a register
    block of 8 x 2 vectors of outputs (4 x 2 with 16 vector registers; the
    two vectors along the output's contiguous dimension) and a k step of 1,
    every other op to tiles of two vector registers (reductions
    whole), tile sizes dividing the extents so shapes stay
    static. Loops are interchanged first so that the output's contiguous
    dimension is innermost and reductions come before it; then each tile is
    vectorized with upstream's linalg vectorizer
    and cleaned up as `vectorize_children_and_apply_patterns` does. Loop
    invariant subset hoisting afterwards keeps the contractions'
    accumulators in registers across the k loop.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", "0",
           "Vector register width in bits (0: the host's)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

#endif // NF_CODEGEN_CPU_PASSES_TD
