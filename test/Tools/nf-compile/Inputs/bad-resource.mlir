// A rank-0 resource blob of the wrong size.

nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal {
  %s = arith.constant dense_resource<half> : tensor<f32>
  %0 = nf.affine %x scale %s shift %s : tensor<?x2xf32>, tensor<f32>, tensor<f32>
  nf.yield %0 : tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      half: "0x040000000000"
    }
  }
#-}
