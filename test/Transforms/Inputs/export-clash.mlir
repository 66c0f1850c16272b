// A function defined under the name of an exported entry.
func.func @m_log_prob(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  return %x : tensor<?x2xf32>
}

nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x2xf32>
  nf.yield %0 : tensor<?x2xf32>
}
