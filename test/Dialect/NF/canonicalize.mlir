// Folds of the permutation layers.
// RUN: nf-opt %s -canonicalize | FileCheck %s

// CHECK-LABEL: nf.model @double_reverse
// CHECK-NEXT: nf.yield %arg0
nf.model @double_reverse(%x: tensor<?x4xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x4xf32>
  %1 = nf.reverse %0 : tensor<?x4xf32>
  nf.yield %1 : tensor<?x4xf32>
}

// CHECK-LABEL: nf.model @triple_reverse
// CHECK-NEXT: %[[R:.*]] = nf.reverse %arg0
// CHECK-NEXT: nf.yield %[[R]]
nf.model @triple_reverse(%x: tensor<?x4xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x4xf32>
  %1 = nf.reverse %0 : tensor<?x4xf32>
  %2 = nf.reverse %1 : tensor<?x4xf32>
  nf.yield %2 : tensor<?x4xf32>
}

// CHECK-LABEL: nf.model @one_feature
// CHECK-NEXT: nf.yield %arg0
nf.model @one_feature(%x: tensor<?x1x3x3xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x1x3x3xf32>
  nf.yield %0 : tensor<?x1x3x3xf32>
}

// z[i] = y[p[i]] = x[q[p[i]]]: [1, 2, 0] after [2, 0, 1] is the identity.
// CHECK-LABEL: nf.model @inverse_permutations
// CHECK-NEXT: nf.yield %arg0
nf.model @inverse_permutations(%x: tensor<?x3xf32>) base #nf.std_normal {
  %0 = nf.permute %x [2, 0, 1] : tensor<?x3xf32>
  %1 = nf.permute %0 [1, 2, 0] : tensor<?x3xf32>
  nf.yield %1 : tensor<?x3xf32>
}

// CHECK-LABEL: nf.model @composed_permutations
// CHECK-NEXT: %[[P:.*]] = nf.permute %arg0 [3, 2, 0, 1] : tensor<?x4xf32>
// CHECK-NEXT: nf.yield %[[P]]
nf.model @composed_permutations(%x: tensor<?x4xf32>) base #nf.std_normal {
  %0 = nf.permute %x [1, 0, 3, 2] : tensor<?x4xf32>
  %1 = nf.permute %0 [2, 3, 1, 0] : tensor<?x4xf32>
  nf.yield %1 : tensor<?x4xf32>
}

// CHECK-LABEL: nf.model @identity_permutation
// CHECK-NEXT: nf.yield %arg0
nf.model @identity_permutation(%x: tensor<?x3xf64>) base #nf.std_normal {
  %0 = nf.permute %x [0, 1, 2] : tensor<?x3xf64>
  nf.yield %0 : tensor<?x3xf64>
}
