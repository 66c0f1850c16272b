// nf-fuse-layers: affine folding, permutation absorption, elementwise chains.
// RUN: nf-opt %s --nf-fuse-layers --cse | FileCheck %s
// RUN: nf-opt %s --nf-fuse-layers=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

// REPORT: model @affine_chain: 2 layers -> 1; 2 affine-type layers -> 1, 0 permutations -> 0, 0 elementwise layers -> 0 chains
// REPORT: model @batch_norm: 1 layers -> 1; 1 affine-type layers -> 1
// REPORT: model @realnvp: 5 layers -> 3; 0 affine-type layers -> 0, 2 permutations -> 0
// REPORT: model @into_linear: 3 layers -> 2; 0 affine-type layers -> 0, 1 permutations -> 0
// REPORT: model @chain: 3 layers -> 1; {{.*}} 3 elementwise layers -> 1 chains
// REPORT: model @blocked: 2 layers -> 2; 0 affine-type layers -> 0, 1 permutations -> 1
// REPORT: model @maf: 2 layers -> 2; 0 affine-type layers -> 0, 1 permutations -> 1

// Affine-type layers with constant parameters fold into one layer.
// W diag(2, 4) and W [1, 0] + b, in one nf.linear.
// CHECK-LABEL: nf.model @affine_chain
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[2.000000e+00, 4.000000e+00], [0.000000e+00, 4.000000e+00]]> : tensor<2x2xf64>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[1.000000e+00, 5.000000e-01]> : tensor<2xf64>
// CHECK: %[[Z:.*]] = nf.linear %{{.*}} weight %[[W]] bias %[[B]]
// CHECK-NEXT: nf.yield %[[Z]]
nf.model @affine_chain(%x: tensor<?x2xf64>) base #nf.std_normal {
  %s = arith.constant dense<[2.0, 4.0]> : tensor<2xf64>
  %t = arith.constant dense<[1.0, 0.0]> : tensor<2xf64>
  %w = arith.constant dense<[[1.0, 1.0], [0.0, 1.0]]> : tensor<2x2xf64>
  %b = arith.constant dense<[0.0, 0.5]> : tensor<2xf64>
  %0 = nf.affine %x scale %s shift %t : tensor<?x2xf64>, tensor<2xf64>, tensor<2xf64>
  %1 = nf.linear %0 weight %w bias %b : tensor<?x2xf64>, tensor<2x2xf64>, tensor<2xf64>
  nf.yield %1 : tensor<?x2xf64>
}

// The equivalent ActNorm: scale exp(g) / sqrt(v + eps), shift beta - m scale.
// CHECK-LABEL: nf.model @batch_norm
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[5.000000e-01, 1.000000e+00]>
// CHECK-DAG: %[[T:.*]] = arith.constant dense<[0.000000e+00, 1.000000e+00]>
// CHECK: nf.actnorm %{{.*}} scale %[[S]] shift %[[T]]
// CHECK-NOT: nf.batch_norm
nf.model @batch_norm(%x: tensor<?x2xf64>) base #nf.std_normal {
  %m = arith.constant dense<[1.0, -1.0]> : tensor<2xf64>
  %v = arith.constant dense<[3.0, 0.0]> : tensor<2xf64>
  %g = arith.constant dense<[0.0, 0.0]> : tensor<2xf64>
  %be = arith.constant dense<[0.5, 0.0]> : tensor<2xf64>
  %0 = nf.batch_norm %x mean %m variance %v log_gamma %g beta %be {epsilon = 1.0} : tensor<?x2xf64>, tensor<2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

func.func private @net(%xa: tensor<?x1xf64>, %w0: tensor<1x3xf64>, %b0: tensor<3xf64>, %w1: tensor<3x2xf64>, %b1: tensor<2xf64>) -> tensor<?x2xf64> {
  %h = nf.mlp %xa (%w0, %b0, %w1, %b1 : tensor<1x3xf64>, tensor<3xf64>, tensor<3x2xf64>, tensor<2xf64>) activation tanh : tensor<?x1xf64> -> tensor<?x2xf64>
  return %h : tensor<?x2xf64>
}

// Reverses move into the couplings after them; one reaches the latent.
// The first reverse moves into the second coupling (identity [0] -> [1])
// and cancels with the second.
// CHECK-LABEL: nf.model @realnvp
// CHECK: %[[C0:.*]] = nf.affine_coupling %{{.*}} identity [0]
// CHECK: %[[C1:.*]] = nf.affine_coupling %[[C0]] identity [1]
// CHECK: %[[C2:.*]] = nf.affine_coupling %[[C1]] identity [0]
// CHECK-NEXT: nf.yield %[[C2]]
// CHECK-NOT: nf.reverse
nf.model @realnvp(%x: tensor<?x2xf64>) base #nf.std_normal {
  %w0 = arith.constant dense<[[1.0, 2.0, 3.0]]> : tensor<1x3xf64>
  %b0 = arith.constant dense<[0.1, 0.2, 0.3]> : tensor<3xf64>
  %w1 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf64>
  %b1 = arith.constant dense<[0.5, 0.6]> : tensor<2xf64>
  %0 = nf.affine_coupling %x identity [0] conditioner @net(%w0, %b0, %w1, %b1 : tensor<1x3xf64>, tensor<3xf64>, tensor<3x2xf64>, tensor<2xf64>) : tensor<?x2xf64>
  %1 = nf.reverse %0 : tensor<?x2xf64>
  %2 = nf.affine_coupling %1 identity [0] conditioner @net(%w0, %b0, %w1, %b1 : tensor<1x3xf64>, tensor<3xf64>, tensor<3x2xf64>, tensor<2xf64>) : tensor<?x2xf64>
  %3 = nf.reverse %2 : tensor<?x2xf64>
  %4 = nf.affine_coupling %3 identity [0] conditioner @net(%w0, %b0, %w1, %b1 : tensor<1x3xf64>, tensor<3xf64>, tensor<3x2xf64>, tensor<2xf64>) : tensor<?x2xf64>
  nf.yield %4 : tensor<?x2xf64>
}

// A linear layer takes a permutation into its columns.
// Column j of the new weight is column p^-1(j) of the old.
// CHECK-LABEL: nf.model @into_linear
// CHECK: %[[T:.*]] = nf.tanh %arg0
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[2.000000e+00, 3.000000e+00, 1.000000e+00], [1.000000e+00, 4.000000e+00, 0.000000e+00], [0.000000e+00, 1.000000e+00, 0.000000e+00]]>
// CHECK: nf.linear %[[T]] weight %[[W]]
// CHECK-NOT: nf.permute
nf.model @into_linear(%x: tensor<?x3xf64>) base #nf.std_normal {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [0.0, 1.0, 4.0], [0.0, 0.0, 1.0]]> : tensor<3x3xf64>
  %b = arith.constant dense<0.0> : tensor<3xf64>
  %0 = nf.permute %x [2, 0, 1] : tensor<?x3xf64>
  %1 = nf.tanh %0 : tensor<?x3xf64>
  %2 = nf.linear %1 weight %w bias %b : tensor<?x3xf64>, tensor<3x3xf64>, tensor<3xf64>
  nf.yield %2 : tensor<?x3xf64>
}

// Consecutive elementwise bijections compose into one chain.
// CHECK-LABEL: nf.model @chain
// CHECK: %[[Z:.*]] = nf.elementwise_chain %arg0 : tensor<?x2xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x2xf32>):
// CHECK-NEXT: %[[S:.*]] = nf.sigmoid %[[A]]
// CHECK-NEXT: %[[L:.*]] = nf.logit %[[S]]
// CHECK-NEXT: %[[T:.*]] = nf.tanh %[[L]]
// CHECK-NEXT: nf.chain_yield %[[T]]
// CHECK: nf.yield %[[Z]]
nf.model @chain(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.sigmoid %x : tensor<?x2xf32>
  %1 = nf.logit %0 {alpha = 0.05} : tensor<?x2xf32>
  %2 = nf.tanh %1 : tensor<?x2xf32>
  nf.yield %2 : tensor<?x2xf32>
}

// A permutation stops at a layer it cannot pass (a slice's decoder reads
// features by position) and is applied there.
// CHECK-LABEL: nf.model @blocked
// CHECK: %[[P:.*]] = nf.permute %arg0 [2, 1, 0]
// CHECK-NEXT: nf.slice %[[P]]
nf.model @blocked(%x: tensor<?x3xf64>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x3xf64>
  %1 = nf.slice %0 : tensor<?x3xf64> -> tensor<?x2xf64>
  nf.yield %1 : tensor<?x2xf64>
}

func.func private @made(%x: tensor<?x2xf64>, %w0: tensor<2x2xf64>, %b0: tensor<2xf64>, %w1: tensor<2x4xf64>, %b1: tensor<4xf64>) -> tensor<?x4xf64> {
  %h = nf.mlp %x (%w0, %b0, %w1, %b1 : tensor<2x2xf64>, tensor<2xf64>, tensor<2x4xf64>, tensor<4xf64>) activation tanh : tensor<?x2xf64> -> tensor<?x4xf64>
  return %h : tensor<?x4xf64>
}

// An autoregressive layer after a permutation takes it as its order: its
// conditioner's input rows and output groups are permuted.
// Input rows and output groups swapped; the permutation reaches the latent
// and stays as the last layer (density kernels skip it).
// CHECK-LABEL: nf.model @maf
// CHECK-DAG: %[[W0:.*]] = arith.constant dense<{{\[}}[0.000000e+00, 0.000000e+00], [1.000000e+00, 2.000000e+00]]>
// CHECK-DAG: %[[W1:.*]] = arith.constant dense<{{\[}}[3.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00], [5.000000e+00, 6.000000e+00, 0.000000e+00, 0.000000e+00]]>
// CHECK: %[[A:.*]] = nf.affine_autoregressive %arg0 conditioner @made(%[[W0]], %{{.*}}, %[[W1]], %{{.*}} :
// CHECK-NEXT: %[[P:.*]] = nf.permute %[[A]] [1, 0]
// CHECK-NEXT: nf.yield %[[P]]
nf.model @maf(%x: tensor<?x2xf64>) base #nf.std_normal {
  %w0 = arith.constant dense<[[1.0, 2.0], [0.0, 0.0]]> : tensor<2x2xf64>
  %b0 = arith.constant dense<[0.1, 0.2]> : tensor<2xf64>
  %w1 = arith.constant dense<[[0.0, 0.0, 3.0, 4.0], [0.0, 0.0, 5.0, 6.0]]> : tensor<2x4xf64>
  %b1 = arith.constant dense<[0.5, 0.6, 0.7, 0.8]> : tensor<4xf64>
  %0 = nf.reverse %x : tensor<?x2xf64>
  %1 = nf.affine_autoregressive %0 conditioner @made(%w0, %b0, %w1, %b1 : tensor<2x2xf64>, tensor<2xf64>, tensor<2x4xf64>, tensor<4xf64>) : tensor<?x2xf64>
  nf.yield %1 : tensor<?x2xf64>
}
