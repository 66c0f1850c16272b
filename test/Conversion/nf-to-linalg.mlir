// RUN: nf-opt %s --convert-nf-to-linalg | FileCheck %s

// nf.mlp: per layer, the bias broadcast into the accumulator, a matmul into
// it, then the activation in place (none after the last layer).
// CHECK-LABEL: func.func @mlp(
// CHECK-SAME: %[[X:.*]]: tensor<?x2xf32>, %[[W0:.*]]: tensor<2x8xf32>, %[[B0:.*]]: tensor<8xf32>, %[[W1:.*]]: tensor<8x3xf32>, %[[B1:.*]]: tensor<3xf32>)
// CHECK: %[[I0:.*]] = linalg.generic {{.*}} ins(%[[B0]] : tensor<8xf32>) outs(%{{.*}} : tensor<?x8xf32>)
// CHECK: %[[M0:.*]] = linalg.matmul ins(%[[X]], %[[W0]] : tensor<?x2xf32>, tensor<2x8xf32>) outs(%[[I0]] : tensor<?x8xf32>)
// CHECK: %[[H:.*]] = linalg.generic {{.*}} outs(%[[M0]] : tensor<?x8xf32>)
// CHECK: math.tanh
// CHECK: %[[I1:.*]] = linalg.generic {{.*}} ins(%[[B1]] : tensor<3xf32>)
// CHECK: %[[M1:.*]] = linalg.matmul ins(%[[H]], %[[W1]] : tensor<?x8xf32>, tensor<8x3xf32>) outs(%[[I1]] : tensor<?x3xf32>)
// CHECK-NOT: math.tanh
// CHECK: return %[[M1]]
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
