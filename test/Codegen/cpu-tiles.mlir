// The CPU tile passes on a small kernel: nf-tile-kernels (a loop over static
// tiles of rows, the last one padded), nf-transpose-tiles (batch-minor
// tensors inside a tile) and nf-vectorize-tiles (register-blocked
// contraction, vectors along the rows).
// RUN: nf-opt %s --pass-pipeline="builtin.module(nf-tile-kernels{tile-rows=64},canonicalize,cse)" | FileCheck %s --check-prefix=TILE
// RUN: nf-opt %s --pass-pipeline="builtin.module(nf-tile-kernels{tile-rows=64},canonicalize,cse,func.func(nf-transpose-tiles),canonicalize,cse)" | FileCheck %s --check-prefix=MINOR
// RUN: nf-opt %s --pass-pipeline="builtin.module(nf-tile-kernels{tile-rows=64},canonicalize,cse,func.func(nf-transpose-tiles),canonicalize,cse,func.func(nf-vectorize-tiles{vector-bits=512}),canonicalize,cse,loop-invariant-subset-hoisting)" | FileCheck %s --check-prefix=VECTOR

// The kernel runs whole tiles of 64 rows, then the rest: row by row when
// fewer than 64 / 8 rows remain, else through padded scratch buffers.
// TILE-LABEL: func.func @k(
// TILE: %[[N:.*]] = memref.dim %arg0, %c0
// TILE: %[[FULL:.*]] = arith.muli
// TILE: scf.for %[[R:.*]] = %c0 to %[[FULL]] step %c64 {
// TILE: memref.subview %arg0[%[[R]], 0] [64, 4] [1, 1]
// TILE: func.call @k_tile(
// TILE: %[[REST:.*]] = arith.subi %[[N]], %[[FULL]]
// TILE: %[[COST:.*]] = arith.muli %[[REST]], %c8
// TILE: %[[FEW:.*]] = arith.cmpi ult, %[[COST]], %c64
// TILE: scf.if %[[FEW]] {
// TILE: scf.for %[[ROW:.*]] = %[[FULL]] to %[[N]] step %c1 {
// TILE: memref.subview %arg0[%[[ROW]], 0] [1, 4] [1, 1]
// TILE: func.call @k_row(
// TILE: } else {
// TILE: memref.alloc() : memref<64x4xf32>
// TILE: linalg.fill
// TILE: memref.copy
// TILE: func.call @k_tile(
// TILE: memref.copy
// The tile function has static shapes throughout.
// TILE-LABEL: func.func private @k_tile(
// TILE-SAME: memref<64x4xf32, strided<[4, 1], offset: ?>>, %{{.*}}: memref<64xf32, strided<[1], offset: ?>>) attributes {nf.tile_rows = 64 : i64}
// TILE-NOT: ?x
// TILE: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<64x4xf32>, tensor<4x32xf32>) outs(%{{.*}} : tensor<64x32xf32>)
// TILE: return
// So has the one-row function.
// TILE-LABEL: func.func private @k_row(
// TILE-SAME: memref<1x4xf32, strided<[4, 1], offset: ?>>, %{{.*}}: memref<1xf32, strided<[1], offset: ?>>) attributes {nf.tile_rows = 1 : i64}
// TILE: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<1x4xf32>, tensor<4x32xf32>) outs(%{{.*}} : tensor<1x32xf32>)

// Batch-minor: the input is transposed once, every batch tensor has its
// rows last, and the matmul reads x^T.
// MINOR-LABEL: func.func private @k_tile(
// MINOR: %[[X:.*]] = bufferization.to_tensor %arg0
// MINOR: %[[XT:.*]] = linalg.transpose ins(%[[X]] : tensor<64x4xf32>) outs(%{{.*}} : tensor<4x64xf32>) permutation = [1, 0]
// MINOR: linalg.generic {{.*}} outs(%{{.*}} : tensor<32x64xf32>)
// MINOR: linalg.generic {{.*}} ins(%[[XT]], %{{.*}} : tensor<4x64xf32>, tensor<4x32xf32>) outs(%{{.*}} : tensor<32x64xf32>)
// MINOR: linalg.generic {{.*}} ins(%{{.*}} : tensor<32x64xf32>) outs(%{{.*}} : tensor<64xf32>)

// The contraction is an 8 x 32 register block (8 features by 32 rows)
// accumulated over k in registers; the reduction walks its features one at
// a time, adding a vector of rows per feature (no horizontal reduction).
// VECTOR-LABEL: func.func private @k_tile(
// VECTOR: scf.for %{{.*}} = %c0 to %c32 step %c8
// VECTOR: scf.for %{{.*}} = %c0 to %c64 step %c32
// VECTOR: %[[ACC:.*]] = vector.transfer_read {{.*}} vector<8x32xf32>
// VECTOR: scf.for {{.*}} iter_args({{.*}}, %[[A:.*]] = %[[ACC]]) -> (tensor<32x64xf32>, vector<8x32xf32>)
// VECTOR: vector.contract {{.*}} : vector<1x8xf32>, vector<1x32xf32> into vector<8x32xf32>
// VECTOR: scf.for %{{.*}} = %c0 to %c32 step %c1
// VECTOR: vector.transfer_read {{.*}} vector<1x32xf32>
// VECTOR: math.tanh %{{.*}} : vector<1x32xf32>
// VECTOR: %[[T:.*]] = vector.shape_cast %{{.*}} : vector<1x32xf32> to vector<32xf32>
// VECTOR: arith.addf %{{.*}}, %[[T]] : vector<32xf32>

#map = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
#rows = affine_map<(d0, d1) -> (d0)>
func.func @k(%x: memref<?x4xf32>, %out: memref<?xf32>) attributes {llvm.emit_c_interface} {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<4x32xf32>
  %b = arith.constant dense<0.25> : tensor<32xf32>
  %t = bufferization.to_tensor %x restrict : memref<?x4xf32> to tensor<?x4xf32>
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x32xf32>
  %init = linalg.generic {indexing_maps = [#bias, #map], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  } -> tensor<?x32xf32>
  %h = linalg.matmul ins(%t, %w : tensor<?x4xf32>, tensor<4x32xf32>) outs(%init : tensor<?x32xf32>) -> tensor<?x32xf32>
  %re = tensor.empty(%n) : tensor<?xf32>
  %r0 = linalg.fill ins(%zero : f32) outs(%re : tensor<?xf32>) -> tensor<?xf32>
  %s = linalg.generic {indexing_maps = [#map, #rows], iterator_types = ["parallel", "reduction"]} ins(%h : tensor<?x32xf32>) outs(%r0 : tensor<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = math.tanh %in : f32
    %a = arith.addf %m, %acc : f32
    linalg.yield %a : f32
  } -> tensor<?xf32>
  bufferization.materialize_in_destination %s in restrict writable %out : (tensor<?xf32>, memref<?xf32>) -> ()
  return
}
