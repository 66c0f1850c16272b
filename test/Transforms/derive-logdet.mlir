// RUN: nf-opt %s --nf-derive-logdet | FileCheck %s
// RUN: nf-opt %s --nf-derive-logdet -canonicalize -cse | FileCheck %s --check-prefix=CANON

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x4xf32>

// Affine (per-feature scale: V computed once per call), a reverse (V = 0) and
// a coupling (V per sample), in that order.
// CHECK-LABEL: func.func @flow_forward(
// CHECK-SAME: %[[X:.*]]: tensor<?x3xf32>) -> (tensor<?x3xf32>, tensor<?xf32>)
// The affine map, then sum log|scale| over the 3 parameters into a tensor<f32>.
// CHECK: %[[Z0:.*]] = linalg.generic {{.*}} ins(%[[X]], %{{.*}}, %{{.*}} : tensor<?x3xf32>, tensor<3xf32>, tensor<f32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<3xf32>) outs(%{{.*}} : tensor<3xf32>)
// CHECK: math.absf
// CHECK: math.log
// CHECK: %[[PERCALL:.*]] = linalg.generic {{.*}}iterator_types = ["reduction"]{{.*}} outs(%{{.*}} : tensor<f32>)
// The reverse is a gather with no V term.
// CHECK: arith.constant dense<[2, 1, 0]> : tensor<3xindex>
// CHECK: %[[Z1:.*]] = linalg.generic
// CHECK: tensor.extract %[[Z0]]
// The coupling evaluates its conditioner once and sums log scale per sample.
// CHECK: call @net
// CHECK-NOT: call @net
// CHECK: math.exp
// CHECK: %[[PERSAMPLE:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<?xf32>)
// Sample-independent terms are added once, at the end.
// CHECK: %[[V:.*]] = linalg.generic {{.*}} ins(%[[PERSAMPLE]], %[[PERCALL]] : tensor<?xf32>, tensor<f32>)
// CHECK: return %{{.*}}, %[[V]] : tensor<?x3xf32>, tensor<?xf32>
nf.model @flow(%x: tensor<?x3xf32>) base #nf.std_normal {
  %s = arith.constant dense<[0.5, 2.0, -1.0]> : tensor<3xf32>
  %t = arith.constant dense<0.25> : tensor<f32>
  %0 = nf.affine %x scale %s shift %t : tensor<?x3xf32>, tensor<3xf32>, tensor<f32>
  %1 = nf.reverse %0 : tensor<?x3xf32>
  %2 = nf.affine_coupling %1 identity [1] conditioner @net : tensor<?x3xf32>
  nf.yield %2 : tensor<?x3xf32>
}

// Only volume-preserving layers: V is a folded zero.
// CHECK-LABEL: func.func @permutations_forward(
// CHECK-NOT: math.log
// CHECK: %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f64) outs(%{{.*}} : tensor<?xf64>) -> tensor<?xf64>
// CHECK-NEXT: return %{{.*}}, %[[ZERO]] : tensor<?x4xf64>, tensor<?xf64>
nf.model @permutations(%x: tensor<?x4xf64>) base #nf.std_normal {
  %0 = nf.permute %x [3, 1, 0, 2] : tensor<?x4xf64>
  %1 = nf.reverse %0 : tensor<?x4xf64>
  nf.yield %1 : tensor<?x4xf64>
}

// A scalar scale contributes D * log|scale|.
// CANON-LABEL: func.func @scalar_scale_forward(
// CANON: %[[D:.*]] = arith.constant 5.000000e+00 : f32
// CANON: math.log
// CANON: arith.mulf %{{.*}}, %[[D]] : f32
nf.model @scalar_scale(%x: tensor<?x5xf32>) base #nf.std_normal {
  %s = arith.constant dense<3.0> : tensor<f32>
  %0 = nf.affine %x scale %s shift %s : tensor<?x5xf32>, tensor<f32>, tensor<f32>
  nf.yield %0 : tensor<?x5xf32>
}

// A conditional model passes its context through to the conditioner.
func.func private @cnet(%xa: tensor<?x1xf32>, %c: tensor<?x2xf32>) -> tensor<?x2xf32>
// CHECK-LABEL: func.func @conditional_forward(
// CHECK-SAME: %{{.*}}: tensor<?x2xf32>, %[[C:.*]]: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?xf32>)
// CHECK: call @cnet(%{{.*}}, %[[C]])
nf.model @conditional(%x: tensor<?x2xf32>, %c: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.affine_coupling %x identity [0] conditioner @cnet context %c : tensor<?x2xf32> scale_fn sigmoid : tensor<?x2xf32>
  nf.yield %0 : tensor<?x2xf32>
}

// ActNorm on images: sum log|scale| over the channels, times H * W = 16,
// once per call.
// CANON-LABEL: func.func @actnorm_forward(
// CANON: %[[HW:.*]] = arith.constant 1.600000e+01 : f32
// CANON: math.log
// CANON: arith.mulf %{{.*}}, %[[HW]] : f32
nf.model @actnorm(%x: tensor<?x3x4x4xf32>) base #nf.std_normal {
  %s = arith.constant dense<[1.0, 2.0, 0.5]> : tensor<3xf32>
  %0 = nf.actnorm %x scale %s shift %s : tensor<?x3x4x4xf32>, tensor<3xf32>
  nf.yield %0 : tensor<?x3x4x4xf32>
}

// An additive coupling is volume preserving: V is a folded zero.
func.func private @shift(%xa: tensor<?x1xf64>) -> tensor<?x1xf64>
// CHECK-LABEL: func.func @additive_forward(
// CHECK: call @shift
// CHECK: arith.addf
// CHECK-NOT: math.log
// CHECK: %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f64) outs(%{{.*}} : tensor<?xf64>) -> tensor<?xf64>
// CHECK-NEXT: return %{{.*}}, %[[ZERO]]
nf.model @additive(%x: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.additive_coupling %x identity [0] conditioner @shift : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// A constant weight: log|det W| = log 1.5 is computed at compile time and
// scaled by the 3 x 3 pixels, V = 9 log 1.5 = 3.6491..., once per call.
// CHECK-LABEL: func.func @conv1x1_forward(
// CHECK-NOT: math.log
// CHECK: arith.constant dense<3.649{{[0-9]*}}> : tensor<f64>
// CHECK: return
nf.model @conv1x1(%x: tensor<?x2x3x3xf64>) base #nf.std_normal {
  %w = arith.constant dense<[[2.0, 1.0], [0.5, 1.0]]> : tensor<2x2xf64>
  %b = arith.constant dense<0.5> : tensor<2xf64>
  %0 = nf.linear %x weight %w bias %b : tensor<?x2x3x3xf64>, tensor<2x2xf64>, tensor<2xf64>
  nf.yield %0 : tensor<?x2x3x3xf64>
}
