// A derived function never silently clobbers or duplicates a symbol.
// RUN: not nf-opt %s --nf-derive-logdet 2>&1 | FileCheck %s --check-prefix=FORWARD
// RUN: not nf-opt %s --nf-derive-inverse --nf-derive-inverse 2>&1 | FileCheck %s --check-prefix=TWICE

// FORWARD: derive-errors.mlir:[[# @LINE + 2]]:1: error: 'nf.model' op cannot derive @m_forward: a symbol of that name already exists
// TWICE: derive-errors.mlir:[[# @LINE + 1]]:1: error: 'nf.model' op cannot derive @m_inverse: a symbol of that name already exists
nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

func.func @m_forward(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  return %x : tensor<?x2xf32>
}
