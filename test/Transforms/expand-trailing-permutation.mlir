// The normalizing body evaluates the density before the latent's trailing
// permutations, under the base distribution permuted instead (here a
// diagonal normal's mean and log std swapped): the permutation moves data
// only for the latent rows it returns, which log_prob drops.
// RUN: nf-opt %s --nf-expand-model --canonicalize | FileCheck %s

// CHECK-LABEL: func.func private @nfk_m_normalize(
// CHECK-SAME: %{{[^:]*}}: memref<?x2xf32>, %[[Z:[^:]*]]: memref<?x2xf32>, %{{[^:]*}}: memref<?xf32>, %[[LP:[^:]*]]: memref<?xf32>)
// CHECK-DAG: %[[LOGSTD:.*]] = arith.constant dense<[-5.000000e-01, 5.000000e-01]> : tensor<2xf32>
// CHECK-DAG: %[[MEAN:.*]] = arith.constant dense<[2.000000e+00, 1.000000e+00]> : tensor<2xf32>
// CHECK: %[[AFFINE:.*]] = linalg.generic
// The latent rows: the affine layer's result reversed, a gather.
// CHECK: %[[REVERSED:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<2xindex>)
// CHECK: tensor.extract %[[AFFINE]]
// CHECK: bufferization.materialize_in_destination %[[REVERSED]] in restrict writable %[[Z]]
// log p: the permuted base at the value before the reverse.
// CHECK: linalg.generic {{.*}} ins(%[[AFFINE]], %[[MEAN]], %[[LOGSTD]] :
// CHECK-NOT: tensor.extract
// CHECK: bufferization.materialize_in_destination %{{.*}} in restrict writable %[[LP]]
// CHECK: return

nf.model @m(%x: tensor<?x2xf32>) base #nf.diag_normal<mean = dense<[1.0, 2.0]> : tensor<2xf32>, log_std = dense<[0.5, -0.5]> : tensor<2xf32>> {
  %s = arith.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %0 = nf.affine %x scale %s shift %s : tensor<?x2xf32>, tensor<2xf32>, tensor<2xf32>
  %1 = nf.reverse %0 : tensor<?x2xf32>
  nf.yield %1 : tensor<?x2xf32>
}
