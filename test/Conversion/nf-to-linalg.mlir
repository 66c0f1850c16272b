// RUN: nf-opt %s --convert-nf-to-linalg | FileCheck %s

// nf.mlp: a matmul per layer, then bias (+ activation between layers).
// CHECK-LABEL: func.func @mlp(
// CHECK-SAME: %[[X:.*]]: tensor<?x2xf32>, %[[W0:.*]]: tensor<2x8xf32>, %[[B0:.*]]: tensor<8xf32>, %[[W1:.*]]: tensor<8x3xf32>, %[[B1:.*]]: tensor<3xf32>)
// CHECK: %[[F0:.*]] = linalg.fill
// CHECK: %[[M0:.*]] = linalg.matmul ins(%[[X]], %[[W0]] : tensor<?x2xf32>, tensor<2x8xf32>) outs(%[[F0]] : tensor<?x8xf32>)
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[M0]], %[[B0]] : tensor<?x8xf32>, tensor<8xf32>)
// CHECK: arith.addf
// CHECK: math.tanh
// CHECK: linalg.matmul ins(%[[H]], %[[W1]] : tensor<?x8xf32>, tensor<8x3xf32>)
// CHECK: linalg.generic
// CHECK: arith.addf
// CHECK-NOT: math.tanh
// CHECK: return
func.func @mlp(%x: tensor<?x2xf32>, %w0: tensor<2x8xf32>, %b0: tensor<8xf32>,
               %w1: tensor<8x3xf32>, %b1: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = nf.mlp %x (%w0, %b0, %w1, %b1 : tensor<2x8xf32>, tensor<8xf32>, tensor<8x3xf32>, tensor<3xf32>)
         activation tanh : tensor<?x2xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// Layers outside models become their normalizing maps.
// CHECK-LABEL: func.func @layer(
// CHECK-NOT: nf.
// CHECK: linalg.generic
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @layer(%x: tensor<?x2xf64>, %s: tensor<2xf64>) -> tensor<?x2xf64> {
  %0 = nf.affine %x scale %s shift %s : tensor<?x2xf64>, tensor<2xf64>, tensor<2xf64>
  return %0 : tensor<?x2xf64>
}

// Layers inside models are left to nf-expand-model.
// CHECK-LABEL: nf.model @kept
// CHECK: nf.reverse
nf.model @kept(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x2xf32>
  nf.yield %0 : tensor<?x2xf32>
}
