// RUN: nf-opt %s --nf-derive-inverse | FileCheck %s

func.func private @net(%xa: tensor<?x1xf64>) -> tensor<?x4xf64>

// Layers are inverted in reverse order: coupling, then permutation, then
// affine.
// CHECK-LABEL: func.func @flow_inverse(
// CHECK-SAME: %[[Z:.*]]: tensor<?x3xf64>) -> tensor<?x3xf64>
// The coupling re-evaluates its conditioner on z_A = z[:, 1] and inverts only
// the elementwise transform: x_B = (z_B - shift) / exp(h).
// CHECK: %[[ZA:.*]] = tensor.extract_slice %[[Z]][0, 1] [%{{.*}}, 1] [1, 1]
// CHECK: %[[H:.*]] = call @net(%[[ZA]]) : (tensor<?x1xf64>) -> tensor<?x4xf64>
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK-NEXT: arith.subf
// CHECK-NEXT: arith.divf
// The permutation [2, 0, 1] is undone by its inverse [1, 2, 0].
// CHECK: arith.constant dense<[1, 2, 0]> : tensor<3xindex>
// The affine map: x = (z - shift) / scale.
// CHECK: %[[X:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x3xf64>, tensor<3xf64>, tensor<3xf64>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f64, %[[SCALE:.*]]: f64, %[[SHIFT:.*]]: f64, %{{.*}}: f64):
// CHECK-NEXT: %[[C:.*]] = arith.subf %[[IN]], %[[SHIFT]] : f64
// CHECK-NEXT: %[[Q:.*]] = arith.divf %[[C]], %[[SCALE]] : f64
// CHECK-NEXT: linalg.yield %[[Q]]
// CHECK: return %[[X]] : tensor<?x3xf64>
// No conditioner is inverted, and there is exactly one call.
// CHECK-NOT: call @net
nf.model @flow(%x: tensor<?x3xf64>) base #nf.std_normal {
  %s = arith.constant dense<[0.5, 2.0, -1.0]> : tensor<3xf64>
  %t = arith.constant dense<[0.0, 1.0, 2.0]> : tensor<3xf64>
  %0 = nf.affine %x scale %s shift %t : tensor<?x3xf64>, tensor<3xf64>, tensor<3xf64>
  %1 = nf.permute %0 [2, 0, 1] : tensor<?x3xf64>
  %2 = nf.affine_coupling %1 identity [1] conditioner @net : tensor<?x3xf64>
  nf.yield %2 : tensor<?x3xf64>
}

// The model is kept, and an empty flow inverts to the identity.
// CHECK-LABEL: nf.model @empty
// CHECK-LABEL: func.func @empty_inverse(
// CHECK-SAME: %[[Z:.*]]: tensor<?x2xf32>) -> tensor<?x2xf32>
// CHECK-NEXT: return %[[Z]]
nf.model @empty(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

// Elementwise bijections invert elementwise: softplus by z + log(-expm1(-z)),
// then tanh by (log1p(z) - log1p(-z)) / 2.
// CHECK-LABEL: func.func @elementwise_inverse(
// CHECK: math.expm1
// CHECK: math.log
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK: math.log1p
// CHECK: math.log1p
// CHECK: arith.subf
nf.model @elementwise(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.tanh %x : tensor<?x2xf32>
  %1 = nf.softplus %0 : tensor<?x2xf32>
  nf.yield %1 : tensor<?x2xf32>
}

// A user-defined elementwise bijection: the chain x -> 2x -> sinh -> +1 is
// undone symbolically in reverse.
// CHECK-LABEL: func.func @user_symbolic_inverse(
// CHECK: ^bb0(%[[Z:.*]]: f64, %{{.*}}: f64):
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.000000e+00 : f64
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK: %[[S:.*]] = arith.subf %[[Z]], %[[ONE]] : f64
// CHECK: %[[A:.*]] = math.asinh %[[S]] : f64
// CHECK: %[[X:.*]] = arith.divf %[[A]], %[[TWO]] : f64
// CHECK: linalg.yield %[[X]]
nf.model @user_symbolic(%x: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.elementwise %x : tensor<?x2xf64> {
  ^bb0(%v: f64):
    %c = arith.constant 2.0 : f64
    %one = arith.constant 1.0 : f64
    %a = arith.mulf %v, %c : f64
    %b = math.sinh %a : f64
    %d = arith.addf %b, %one : f64
    nf.scalar_yield %d : f64
  }
  nf.yield %0 : tensor<?x2xf64>
}

// Not a chain (x appears twice) but declared monotone: a numeric solve, a
// bracketing loop then safeguarded Newton steps using the derived f'.
// CHECK-LABEL: func.func @user_numeric_inverse(
// CHECK: scf.for
// CHECK: scf.for
// CHECK: arith.divf
// CHECK: arith.select
nf.model @user_numeric(%x: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.elementwise %x monotone increasing : tensor<?x2xf64> {
  ^bb0(%v: f64):
    %sq = arith.mulf %v, %v : f64
    %cu = arith.mulf %sq, %v : f64
    %r = arith.addf %cu, %v : f64
    nf.scalar_yield %r : f64
  }
  nf.yield %0 : tensor<?x2xf64>
}

// Squeeze inverts to depth-to-space: a generic reading the small image at
// (n, 4c + 2i + j, h, w), collapsed back to (n, c, 2h + i, 2w + j).
// CHECK-LABEL: func.func @squeeze_inverse(
// CHECK-SAME: %{{.*}}: tensor<?x12x2x2xf32>) -> tensor<?x3x4x4xf32>
// CHECK: linalg.generic
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3], [4, 5]] : tensor<?x3x2x2x2x2xf32> into tensor<?x3x4x4xf32>
nf.model @squeeze(%x: tensor<?x3x4x4xf32>) base #nf.std_normal {
  %0 = nf.squeeze %x : tensor<?x3x4x4xf32> -> tensor<?x12x2x2xf32>
  nf.yield %0 : tensor<?x12x2x2xf32>
}
