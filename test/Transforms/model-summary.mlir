// RUN: nf-opt %s --nf-model-summary -o /dev/null 2>&1 | FileCheck %s
// RUN: nf-opt %s --nf-model-summary=output=%t -o /dev/null && FileCheck %s < %t
// RUN: not nf-opt %s --nf-model-summary=output=/nonexistent/dir/summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADFILE

// BADFILE: error: cannot open summary file

func.func private @net(%xa: tensor<?x2xf32>, %c: tensor<?x1xf32>) -> tensor<?x4xf32> {
  %w = arith.constant dense<0.5> : tensor<2x4xf32>
  %b = arith.constant dense<0.1> : tensor<4xf32>
  %0 = nf.mlp %xa (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// CHECK: model @cond: tensor<?x4xf32> -> tensor<?x4xf32>, context tensor<?x1xf32>, base #nf.std_normal, exact
// CHECK-NEXT:   0: nf.affine  bijection, exact, 5 parameters
// CHECK-NEXT:   1: nf.affine_coupling  bijection, exact, 12 parameters
// CHECK-NEXT:   2: nf.reverse  bijection, exact, volume-preserving, 0 parameters
// CHECK-NEXT:   3: nf.permute  bijection, exact, volume-preserving, 0 parameters
nf.model @cond(%x: tensor<?x4xf32>, %c: tensor<?x1xf32>) base #nf.std_normal {
  %s = arith.constant dense<2.0> : tensor<4xf32>
  %t = arith.constant dense<0.0> : tensor<f32>
  %0 = nf.affine %x scale %s shift %t : tensor<?x4xf32>, tensor<4xf32>, tensor<f32>
  %1 = nf.affine_coupling %0 identity [0, 1] conditioner @net context %c : tensor<?x1xf32> : tensor<?x4xf32>
  %2 = nf.reverse %1 : tensor<?x4xf32>
  %3 = nf.permute %2 [1, 0, 3, 2] : tensor<?x4xf32>
  nf.yield %3 : tensor<?x4xf32>
}

// CHECK: model @empty: tensor<?x3xf64> -> tensor<?x3xf64>, base #nf.uniform<low = dense<0.000000e+00> : tensor<3xf64>, high = dense<1.000000e+00> : tensor<3xf64>>, exact
// CHECK-NOT: 0:
nf.model @empty(%x: tensor<?x3xf64>)
    base #nf.uniform<low = dense<0.0> : tensor<3xf64>, high = dense<1.0> : tensor<3xf64>> {
  nf.yield %x : tensor<?x3xf64>
}
