// A small RealNVP on 2-D data: per-feature affine, then two affine couplings
// separated by a reverse, over a standard-normal base.
//
//   build/bin/nf-opt examples/realnvp2d.mlir                 # round trip
//   build/bin/nf-opt examples/realnvp2d.mlir --nf-model-summary -o /dev/null

// Conditioner of the couplings: x_A (1 feature) -> [shift, raw scale].
func.func private @net(%xa: tensor<?x1xf32>, %w0: tensor<1x8xf32>, %b0: tensor<8xf32>,
                       %w1: tensor<8x2xf32>, %b1: tensor<2xf32>) -> tensor<?x2xf32> {
  %h = nf.mlp %xa (%w0, %b0, %w1, %b1 : tensor<1x8xf32>, tensor<8xf32>, tensor<8x2xf32>, tensor<2xf32>)
         activation tanh : tensor<?x1xf32> -> tensor<?x2xf32>
  return %h : tensor<?x2xf32>
}

nf.model @realnvp2d(%x: tensor<?x2xf32>) base #nf.std_normal {
  %s = arith.constant dense<[0.5, 2.0]> : tensor<2xf32>
  %t = arith.constant dense<[0.1, -0.3]> : tensor<2xf32>
  %w0 = arith.constant dense<[[0.9, -0.4, 0.3, 0.7, -1.1, 0.2, 0.5, -0.6]]> : tensor<1x8xf32>
  %b0 = arith.constant dense<[0.1, 0.0, -0.2, 0.3, 0.05, -0.1, 0.2, 0.0]> : tensor<8xf32>
  %w1 = arith.constant dense<[[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2], [0.2, 0.1],
                              [0.6, -0.3], [-0.1, 0.2], [0.4, 0.1], [0.2, -0.4]]> : tensor<8x2xf32>
  %b1 = arith.constant dense<[0.0, 0.1]> : tensor<2xf32>
  %0 = nf.affine %x scale %s shift %t : tensor<?x2xf32>, tensor<2xf32>, tensor<2xf32>
  %1 = nf.affine_coupling %0 identity [0] conditioner @net(%w0, %b0, %w1, %b1 : tensor<1x8xf32>, tensor<8xf32>, tensor<8x2xf32>, tensor<2xf32>) : tensor<?x2xf32>
  %2 = nf.reverse %1 : tensor<?x2xf32>
  %3 = nf.affine_coupling %2 identity [0] conditioner @net(%w0, %b0, %w1, %b1 : tensor<1x8xf32>, tensor<8xf32>, tensor<8x2xf32>, tensor<2xf32>) scale_fn sigmoid : tensor<?x2xf32>
  nf.yield %3 : tensor<?x2xf32>
}
