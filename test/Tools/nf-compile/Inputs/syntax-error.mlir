// A parse error.
nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x2xf32
  nf.yield %0 : tensor<?x2xf32>
}
