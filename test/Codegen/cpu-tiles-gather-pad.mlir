// nf-transpose-tiles on gathers (a feature permutation reads the input at
// its own row) and on padded images, and nf-vectorize-tiles' register block
// for a convolution (Glow's conditioner).
// RUN: nf-opt %s --pass-pipeline="builtin.module(nf-tile-kernels{tile-rows=64},canonicalize,cse,func.func(nf-transpose-tiles),canonicalize,cse)" | FileCheck %s --check-prefix=MINOR
// RUN: nf-opt %s --pass-pipeline="builtin.module(nf-tile-kernels{tile-rows=64},canonicalize,cse,func.func(nf-transpose-tiles),canonicalize,cse,func.func(nf-vectorize-tiles{vector-bits=512}),canonicalize,cse,loop-invariant-subset-hoisting)" | FileCheck %s --check-prefix=VECTOR

// The gather's batch index moves last with the input's rows.
// MINOR-LABEL: func.func private @perm_tile(
// MINOR: %[[XT:.*]] = linalg.transpose ins(%{{.*}} : tensor<64x4xf32>) outs(%{{.*}} : tensor<4x64xf32>) permutation = [1, 0]
// MINOR: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x64xf32>)
// MINOR: %[[ROW:.*]] = linalg.index 0 : index
// MINOR: %[[FEATURE:.*]] = linalg.index 1 : index
// MINOR: %[[SOURCE:.*]] = arith.subi %c3, %[[FEATURE]] : index
// MINOR: tensor.extract %[[XT]][%[[SOURCE]], %[[ROW]]] : tensor<4x64xf32>

// The padding moves with the image dimensions; the rows stay unpadded.
// MINOR-LABEL: func.func private @conv_tile(
// MINOR: %[[IT:.*]] = linalg.transpose ins(%{{.*}} : tensor<64x4x4x2xf32>) outs(%{{.*}} : tensor<4x4x2x64xf32>) permutation = [1, 2, 3, 0]
// MINOR: tensor.pad %[[IT]] low[1, 1, 0, 0] high[1, 1, 0, 0]
// MINOR: } : tensor<4x4x2x64xf32> to tensor<6x6x2x64xf32>
// MINOR: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<6x6x2x64xf32>, tensor<3x3x2x8xf32>) outs(%{{.*}} : tensor<4x4x8x64xf32>)

// The convolution accumulates an 8-channel by 32-row block in registers
// over the filter taps and input channels.
// VECTOR-LABEL: func.func private @conv_tile(
// VECTOR: %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<4x4x8x64xf32>, vector<8x32xf32>
// VECTOR: scf.for {{.*}} = %c0 to %c3 step %c1 iter_args({{.*}}, %{{.*}} = %[[ACC]]) -> (tensor<4x4x8x64xf32>, vector<8x32xf32>)
// VECTOR: scf.for {{.*}} = %c0 to %c3 step %c1 iter_args({{.*}}) -> (tensor<4x4x8x64xf32>, vector<8x32xf32>)
// VECTOR: scf.for {{.*}} = %c0 to %c2 step %c1 iter_args({{.*}}) -> (tensor<4x4x8x64xf32>, vector<8x32xf32>)
// VECTOR: vector.transfer_read %padded{{.*}} : tensor<6x6x2x64xf32>, vector<32xf32>
// VECTOR: arith.mulf %{{.*}}, %{{.*}} : vector<8x32xf32>
// VECTOR: arith.addf %{{.*}}, %{{.*}} : vector<8x32xf32>

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @perm(%x: memref<?x4xf32>, %out: memref<?x4xf32>) attributes {llvm.emit_c_interface} {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %t = bufferization.to_tensor %x restrict : memref<?x4xf32> to tensor<?x4xf32>
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %g = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%e : tensor<?x4xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %k = arith.subi %c3, %j : index
    %v = tensor.extract %t[%i, %k] : tensor<?x4xf32>
    linalg.yield %v : f32
  } -> tensor<?x4xf32>
  bufferization.materialize_in_destination %g in restrict writable %out : (tensor<?x4xf32>, memref<?x4xf32>) -> ()
  return
}
func.func @conv(%x: memref<?x4x4x2xf32>, %out: memref<?x4x4x8xf32>) attributes {llvm.emit_c_interface} {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<3x3x2x8xf32>
  %t = bufferization.to_tensor %x restrict : memref<?x4x4x2xf32> to tensor<?x4x4x2xf32>
  %n = memref.dim %x, %c0 : memref<?x4x4x2xf32>
  %p = tensor.pad %t low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<?x4x4x2xf32> to tensor<?x6x6x2xf32>
  %e = tensor.empty(%n) : tensor<?x4x4x8xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  %y = linalg.conv_2d_nhwc_hwcf ins(%p, %w : tensor<?x6x6x2xf32>, tensor<3x3x2x8xf32>) outs(%f : tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  bufferization.materialize_in_destination %y in restrict writable %out : (tensor<?x4x4x8xf32>, memref<?x4x4x8xf32>) -> ()
  return
}
