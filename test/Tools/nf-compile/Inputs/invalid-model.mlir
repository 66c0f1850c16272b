// A verifier error, reported with file:line:col.

nf.model @m(%x: tensor<?x3xf32>) base #nf.std_normal {
  %0 = nf.permute %x [1, 0, 1] : tensor<?x3xf32>
  nf.yield %0 : tensor<?x3xf32>
}
