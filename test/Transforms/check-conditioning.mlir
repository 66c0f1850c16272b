// nf-check-conditioning: near-singular constant linear layers are reported
// (a warning, or an error with `error`); well-conditioned ones and those
// whose type has the precision for them are not.
// RUN: nf-opt %s --nf-check-conditioning -split-input-file -verify-diagnostics -o /dev/null
// RUN: not nf-opt %s --nf-check-conditioning=error=true -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=ERROR
// RUN: not nf-compile %s --ill-conditioned=error --emit=header -o %t.h 2>&1 | FileCheck %s --check-prefix=COMPILE

// kappa_1 of [[1, 1], [1, 1 + d]] is (2 + d)^2 / d, with d = 9.5e-7 after
// rounding 1.000001 to f32: 4.19e6, above 8.4e4 for f32.
// ERROR: error: near-singular weight: condition number 4.19e+06 exceeds 8.4e+04 for 'f32'
// COMPILE: error: near-singular weight
// COMPILE: nf-compile: error: {{.*}} has a near-singular linear layer
nf.model @near_singular_f32(%x: tensor<?x2xf32>) base #nf.std_normal {
  %w = arith.constant dense<[[1.0, 1.0], [1.0, 1.000001]]> : tensor<2x2xf32>
  %b = arith.constant dense<0.0> : tensor<2xf32>
  // expected-warning @+1 {{near-singular weight: condition number 4.19e+06 exceeds 8.4e+04 for 'f32', so its inverse and log|det| lose accuracy}}
  %0 = nf.linear %x weight %w bias %b : tensor<?x2xf32>, tensor<2x2xf32>, tensor<2xf32>
  nf.yield %0 : tensor<?x2xf32>
}

// -----

// The same matrix in f64 is well within 4.5e13.
nf.model @near_singular_f64(%x: tensor<?x2xf64>) base #nf.std_normal {
  %w = arith.constant dense<[[1.0, 1.0], [1.0, 1.000001]]> : tensor<2x2xf64>
  %b = arith.constant dense<0.0> : tensor<2xf64>
  %0 = nf.linear %x weight %w bias %b : tensor<?x2xf64>, tensor<2x2xf64>, tensor<2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// -----

// W = P L (U + diag s) = [[0, 1e-6], [1, 1]] with permutation [1, 0]:
// W^-1 = [[-1e6, 1], [1e6, 0]], so kappa_1 = ||W||_1 ||W^-1||_1 = 1 * 2e6.
nf.model @lu_near_singular(%x: tensor<?x2xf32>) base #nf.std_normal {
  %l = arith.constant dense<[[0.0, 0.0], [0.0, 0.0]]> : tensor<2x2xf32>
  %u = arith.constant dense<[[0.0, 1.0], [0.0, 0.0]]> : tensor<2x2xf32>
  %s = arith.constant dense<[1.0, 1.0e-6]> : tensor<2xf32>
  %b = arith.constant dense<0.0> : tensor<2xf32>
  // expected-warning @+1 {{condition number 2.00e+06 exceeds 8.4e+04}}
  %0 = nf.lu_linear %x lower %l upper %u diag %s bias %b permutation [1, 0] : tensor<?x2xf32>, tensor<2x2xf32>, tensor<2xf32>
  nf.yield %0 : tensor<?x2xf32>
}

// -----

// A rotation by 45 degrees: kappa_1 = sqrt(2) * sqrt(2) = 2.
nf.model @rotation(%x: tensor<?x2xf32>) base #nf.std_normal {
  %w = arith.constant dense<[[0.7071068, -0.7071068], [0.7071068, 0.7071068]]> : tensor<2x2xf32>
  %b = arith.constant dense<0.0> : tensor<2xf32>
  %0 = nf.linear %x weight %w bias %b : tensor<?x2xf32>, tensor<2x2xf32>, tensor<2xf32>
  nf.yield %0 : tensor<?x2xf32>
}
