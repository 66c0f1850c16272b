// nf.elementwise_chain: round trips and verifier errors.
// RUN: nf-opt %s | nf-opt | FileCheck %s
// RUN: nf-opt %s --mlir-print-op-generic | nf-opt | FileCheck %s
// RUN: nf-opt %s --emit-bytecode | nf-opt | FileCheck %s

// CHECK-LABEL: nf.model @chain
// CHECK: %[[Z:.*]] = nf.elementwise_chain %arg0 : tensor<?x3xf64> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x3xf64>):
// CHECK-NEXT: %[[T:.*]] = nf.tanh %[[A]]
// CHECK-NEXT: %[[E:.*]] = nf.elementwise %[[T]]
// CHECK: nf.chain_yield %[[E]]
nf.model @chain(%x: tensor<?x3xf64>) base #nf.std_normal {
  %0 = nf.elementwise_chain %x : tensor<?x3xf64> {
  ^bb0(%a: tensor<?x3xf64>):
    %1 = nf.tanh %a : tensor<?x3xf64>
    %2 = nf.elementwise %1 : tensor<?x3xf64> {
    ^bb0(%v: f64):
      %c = arith.constant 3.0 : f64
      %w = arith.mulf %v, %c : f64
      nf.scalar_yield %w : f64
    }
    nf.chain_yield %2 : tensor<?x3xf64>
  }
  nf.yield %0 : tensor<?x3xf64>
}
