// Every verifier error of the nf dialect, one case per split.
// RUN: nf-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// nf.model
//===----------------------------------------------------------------------===//

// expected-error @+1 {{expects the data x and an optional context as arguments, but has 3 arguments}}
nf.model @three_args(%x: tensor<?x2xf32>, %c: tensor<?x1xf32>, %d: tensor<?x1xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{expects the data x and an optional context as arguments, but has 0 arguments}}
nf.model @no_args() base #nf.std_normal {
  %x = arith.constant dense<0.0> : tensor<1x2xf32>
  %y = tensor.cast %x : tensor<1x2xf32> to tensor<?x2xf32>
  nf.yield %y : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{data must be a tensor<?x...xT> with a dynamic batch dimension, static event dimensions and T = f32 or f64, but is 'tensor<8x2xf32>'}}
nf.model @static_batch(%x: tensor<8x2xf32>) base #nf.std_normal {
  %y = tensor.cast %x : tensor<8x2xf32> to tensor<?x2xf32>
  nf.yield %y : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{data must be a tensor<?x...xT> with a dynamic batch dimension, static event dimensions and T = f32 or f64, but is 'tensor<?x2xf16>'}}
nf.model @half(%x: tensor<?x2xf16>) base #nf.std_normal {
  %y = arith.extf %x : tensor<?x2xf16> to tensor<?x2xf32>
  nf.yield %y : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{context must be a tensor<?xCxT> with the data's element type 'f32', but is 'tensor<?x1xf64>'}}
nf.model @context_type(%x: tensor<?x2xf32>, %c: tensor<?x1xf64>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

// -----

nf.model @no_yield(%x: tensor<?x2xf32>) base #nf.std_normal {
  // expected-error @+1 {{block with no terminator}}
  %0 = nf.reverse %x : tensor<?x2xf32>
}

// -----

nf.model @not_a_chain(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x2xf32>
  // expected-error @+1 {{input must be the output of the previous layer (or the model's data): the flow is a chain}}
  %1 = nf.reverse %x : tensor<?x2xf32>
  nf.yield %1 : tensor<?x2xf32>
}

// -----

nf.model @data_in_parameter_code(%x: tensor<?x2xf32>) base #nf.std_normal {
  // expected-error @+1 {{uses flow data as operand #0; only a layer's input may take the data path}}
  %0 = arith.negf %x : tensor<?x2xf32>
  nf.yield %x : tensor<?x2xf32>
}

// -----

nf.model @data_as_parameter(%x: tensor<?x2xf32>) base #nf.std_normal {
  %t = arith.constant dense<0.0> : tensor<2xf32>
  %0 = nf.reverse %x : tensor<?x2xf32>
  // expected-error @+1 {{uses flow data as operand #1; only a layer's input may take the data path}}
  %1 = nf.affine %0 scale %0 shift %t : tensor<?x2xf32>, tensor<?x2xf32>, tensor<2xf32>
  nf.yield %1 : tensor<?x2xf32>
}

// -----

nf.model @context_in_parameter_code(%x: tensor<?x2xf32>, %c: tensor<?x2xf32>) base #nf.std_normal {
  // expected-error @+1 {{uses the model context; only layers may take the context}}
  %0 = arith.negf %c : tensor<?x2xf32>
  nf.yield %x : tensor<?x2xf32>
}

// -----

nf.model @yield_skips_layers(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.reverse %x : tensor<?x2xf32>
  // expected-error @+1 {{'nf.yield' op must return the output of the last layer}}
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{base distribution parameter 'mean' has type 'tensor<3xf32>', but the latent 'tensor<?x2xf32>' needs the event shape and element type 'tensor<2xf32>'}}
nf.model @base_shape(%x: tensor<?x2xf32>)
    base #nf.diag_normal<mean = dense<0.0> : tensor<3xf32>, log_std = dense<0.0> : tensor<3xf32>> {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{base distribution parameter 'low' has type 'tensor<2xf64>', but the latent 'tensor<?x2xf32>' needs the event shape and element type 'tensor<2xf32>'}}
nf.model @base_element_type(%x: tensor<?x2xf32>)
    base #nf.uniform<low = dense<0.0> : tensor<2xf64>, high = dense<1.0> : tensor<2xf64>> {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{expected a base distribution (#nf.std_normal, #nf.diag_normal<...> or #nf.uniform<...>), but got 1 : i32}}
nf.model @base_not_a_distribution(%x: tensor<?x2xf32>) base 1 : i32 {
  nf.yield %x : tensor<?x2xf32>
}

// -----

func.func @yield_outside_model(%x: tensor<?x2xf32>) {
  // expected-error @+1 {{'nf.yield' op expects parent op 'nf.model'}}
  nf.yield %x : tensor<?x2xf32>
}

//===----------------------------------------------------------------------===//
// Base distributions
//===----------------------------------------------------------------------===//

// -----

// expected-error @+2 {{'mean' and 'log_std' must have the same type, but have 'tensor<2xf32>' and 'tensor<3xf32>'}}
nf.model @diag_normal_types(%x: tensor<?x2xf32>)
    base #nf.diag_normal<mean = dense<0.0> : tensor<2xf32>, log_std = dense<0.0> : tensor<3xf32>> {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-error @+2 {{uniform box is empty: low >= high at element 1}}
nf.model @uniform_empty(%x: tensor<?x2xf32>)
    base #nf.uniform<low = dense<[0.0, 1.0]> : tensor<2xf32>, high = dense<[1.0, 1.0]> : tensor<2xf32>> {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-error @+2 {{'low' and 'high' must have the same type, but have 'tensor<2xf32>' and 'tensor<2xf64>'}}
nf.model @uniform_types(%x: tensor<?x2xf32>)
    base #nf.uniform<low = dense<0.0> : tensor<2xf32>, high = dense<1.0> : tensor<2xf64>> {
  nf.yield %x : tensor<?x2xf32>
}

//===----------------------------------------------------------------------===//
// Layers: shared checks
//===----------------------------------------------------------------------===//

// -----

func.func @data_rank_1(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{operand #0 must be batch-first tensor of f32 or f64 (rank >= 2, static event dimensions), but got 'tensor<?xf32>'}}
  %0 = nf.reverse %x : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @dynamic_event(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{operand #0 must be batch-first tensor of f32 or f64 (rank >= 2, static event dimensions), but got 'tensor<?x?xf32>'}}
  %0 = nf.reverse %x : tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @mixed_element_types(%x: tensor<?x2xf32>, %s: tensor<2xf64>) -> tensor<?x2xf32> {
  // expected-error @+1 {{operand #1 has element type 'f64', but the data has 'f32'}}
  %0 = nf.affine %x scale %s shift %s : tensor<?x2xf32>, tensor<2xf64>, tensor<2xf64>
  return %0 : tensor<?x2xf32>
}

//===----------------------------------------------------------------------===//
// nf.affine
//===----------------------------------------------------------------------===//

// -----

func.func @affine_scale_shape(%x: tensor<?x2xf32>, %s: tensor<3xf32>, %t: tensor<2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{parameter 'scale' must be a scalar tensor<T>, have the event shape [2] or the data's shape, but has type 'tensor<3xf32>'}}
  %0 = nf.affine %x scale %s shift %t : tensor<?x2xf32>, tensor<3xf32>, tensor<2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @affine_shift_shape(%x: tensor<?x2xf32>, %s: tensor<2xf32>, %t: tensor<?x3xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{parameter 'shift' must be a scalar tensor<T>, have the event shape [2] or the data's shape, but has type 'tensor<?x3xf32>'}}
  %0 = nf.affine %x scale %s shift %t : tensor<?x2xf32>, tensor<2xf32>, tensor<?x3xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @affine_zero_scale(%x: tensor<?x2xf32>, %t: tensor<2xf32>) -> tensor<?x2xf32> {
  %s = arith.constant dense<[1.0, 0.0]> : tensor<2xf32>
  // expected-error @+1 {{scale has a zero entry, so the map is not invertible}}
  %0 = nf.affine %x scale %s shift %t : tensor<?x2xf32>, tensor<2xf32>, tensor<2xf32>
  return %0 : tensor<?x2xf32>
}

//===----------------------------------------------------------------------===//
// nf.permute
//===----------------------------------------------------------------------===//

// -----

func.func @permute_size(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{permutation has 2 entries, but dimension 1 has 3 features}}
  %0 = nf.permute %x [1, 0] : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @permute_range(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{permutation entry 3 is out of range [0, 3)}}
  %0 = nf.permute %x [1, 0, 3] : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @permute_repeat(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{permutation repeats entry 1}}
  %0 = nf.permute %x [1, 0, 1] : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

//===----------------------------------------------------------------------===//
// nf.affine_coupling
//===----------------------------------------------------------------------===//

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @coupling_image_conditioner(%x: tensor<?x2x2x2xf32>) -> tensor<?x2x2x2xf32> {
  // expected-error @+1 {{conditioner @net has type '(tensor<?x1xf32>) -> tensor<?x2xf32>', but this layer calls it as '(tensor<?x1x2x2xf32>) -> tensor<?x2x2x2xf32>'}}
  %0 = nf.affine_coupling %x identity [0] conditioner @net : tensor<?x2x2x2xf32>
  return %0 : tensor<?x2x2x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @coupling_empty_identity(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{identity features must be a non-empty proper subset of the 2 features, but has 0 entries}}
  %0 = nf.affine_coupling %x identity [] conditioner @net : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @coupling_full_identity(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{identity features must be a non-empty proper subset of the 2 features, but has 2 entries}}
  %0 = nf.affine_coupling %x identity [0, 1] conditioner @net : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @coupling_identity_range(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{identity feature 3 is out of range [0, 3)}}
  %0 = nf.affine_coupling %x identity [3] conditioner @net : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @net(%xa: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func @coupling_identity_order(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{identity features must be strictly increasing}}
  %0 = nf.affine_coupling %x identity [2, 0] conditioner @net : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>, %c: tensor<?x1x1xf32>) -> tensor<?x2xf32>
func.func @coupling_context_rank(%x: tensor<?x2xf32>, %c: tensor<?x1x1xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{context must be a tensor<?xCxT>, but is 'tensor<?x1x1xf32>'}}
  %0 = nf.affine_coupling %x identity [0] conditioner @net context %c : tensor<?x1x1xf32> : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @coupling_no_conditioner(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{conditioner @missing does not name a func.func}}
  %0 = nf.affine_coupling %x identity [0] conditioner @missing : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x4xf32>
func.func @coupling_conditioner_type(%x: tensor<?x2xf32>, %w: tensor<3xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{conditioner @net has type '(tensor<?x1xf32>) -> tensor<?x4xf32>', but this layer calls it as '(tensor<?x1xf32>, tensor<3xf32>) -> tensor<?x2xf32>' (the layer's input, then the context if any, then the parameters; the result holds a block of shifts, then a block of unconstrained scales)}}
  %0 = nf.affine_coupling %x identity [0] conditioner @net(%w : tensor<3xf32>) : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @coupling_dynamic_parameter(%x: tensor<?x2xf32>, %w: tensor<?xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{operand #1 must be variadic of statically shaped tensor of f32 or f64, but got 'tensor<?xf32>'}}
  %0 = nf.affine_coupling %x identity [0] conditioner @net(%w : tensor<?xf32>) : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @additive_conditioner_type(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{conditioner @net has type '(tensor<?x1xf32>) -> tensor<?x2xf32>', but this layer calls it as '(tensor<?x1xf32>) -> tensor<?x1xf32>' (the layer's input, then the context if any, then the parameters; the result holds the shifts)}}
  %0 = nf.additive_coupling %x identity [0] conditioner @net : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x2xf32>) -> tensor<?x1xf32>
func.func @additive_identity(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{identity features must be strictly increasing}}
  %0 = nf.additive_coupling %x identity [1, 1] conditioner @net : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

//===----------------------------------------------------------------------===//
// nf.radial
//===----------------------------------------------------------------------===//

// -----

func.func @radial_alpha(%x: tensor<?x2xf64>, %c: tensor<2xf64>) -> tensor<?x2xf64> {
  // expected-error @+1 {{alpha must be positive, but is 0}}
  %0 = nf.radial %x center %c {alpha = 0.0, beta = 1.0} : tensor<?x2xf64>, tensor<2xf64>
  return %0 : tensor<?x2xf64>
}

// -----

func.func @radial_beta(%x: tensor<?x2xf64>, %c: tensor<2xf64>) -> tensor<?x2xf64> {
  // expected-error @+1 {{beta must be >= -alpha for the map to be invertible, but is -2}}
  %0 = nf.radial %x center %c {alpha = 1.0, beta = -2.0} : tensor<?x2xf64>, tensor<2xf64>
  return %0 : tensor<?x2xf64>
}

// -----

func.func @radial_center(%x: tensor<?x2xf64>, %c: tensor<f64>) -> tensor<?x2xf64> {
  // expected-error @+1 {{center must have the event shape}}
  %0 = nf.radial %x center %c {alpha = 1.0, beta = 1.0} : tensor<?x2xf64>, tensor<f64>
  return %0 : tensor<?x2xf64>
}

//===----------------------------------------------------------------------===//
// nf.squeeze
//===----------------------------------------------------------------------===//

// -----

func.func @squeeze_rank(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects data of type tensor<?xCxHxWxT>, but got 'tensor<?x4xf32>'}}
  %0 = nf.squeeze %x : tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @squeeze_odd(%x: tensor<?x1x3x4xf32>) -> tensor<?x4x1x2xf32> {
  // expected-error @+1 {{height and width must be even, but are 3 and 4}}
  %0 = nf.squeeze %x : tensor<?x1x3x4xf32> -> tensor<?x4x1x2xf32>
  return %0 : tensor<?x4x1x2xf32>
}

// -----

func.func @squeeze_result(%x: tensor<?x1x4x4xf32>) -> tensor<?x2x2x4xf32> {
  // expected-error @+1 {{result must have type 'tensor<?x4x2x2xf32>', but has 'tensor<?x2x2x4xf32>'}}
  %0 = nf.squeeze %x : tensor<?x1x4x4xf32> -> tensor<?x2x2x4xf32>
  return %0 : tensor<?x2x2x4xf32>
}

//===----------------------------------------------------------------------===//
// nf.linear
//===----------------------------------------------------------------------===//

// -----

func.func @linear_shape(%x: tensor<?x3xf32>, %b: tensor<3xf32>) -> tensor<?x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2xf32>
  // expected-error @+1 {{weight must be a 3x3 matrix, but has type 'tensor<3x2xf32>'}}
  %0 = nf.linear %x weight %w bias %b : tensor<?x3xf32>, tensor<3x2xf32>, tensor<3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @linear_bias(%x: tensor<?x2xf32>, %b: tensor<3xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  // expected-error @+1 {{bias must have 2 entries, but has type 'tensor<3xf32>'}}
  %0 = nf.linear %x weight %w bias %b : tensor<?x2xf32>, tensor<2x2xf32>, tensor<3xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @linear_not_constant(%x: tensor<?x2xf32>, %w: tensor<2x2xf32>, %b: tensor<2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{weight must be a constant (its inverse and log|det| are computed at compile time)}}
  %0 = nf.linear %x weight %w bias %b : tensor<?x2xf32>, tensor<2x2xf32>, tensor<2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @linear_singular(%x: tensor<?x2xf32>, %b: tensor<2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [2.0, 4.0]]> : tensor<2x2xf32>
  // expected-error @+1 {{weight is singular}}
  %0 = nf.linear %x weight %w bias %b : tensor<?x2xf32>, tensor<2x2xf32>, tensor<2xf32>
  return %0 : tensor<?x2xf32>
}

//===----------------------------------------------------------------------===//
// nf.actnorm, nf.batch_norm
//===----------------------------------------------------------------------===//

// -----

func.func @actnorm_channels(%x: tensor<?x3x4x4xf32>, %s: tensor<4xf32>) -> tensor<?x3x4x4xf32> {
  // expected-error @+1 {{parameter 'scale' must have one value per channel ('tensor<3xf32>'), but has type 'tensor<4xf32>'}}
  %0 = nf.actnorm %x scale %s shift %s : tensor<?x3x4x4xf32>, tensor<4xf32>
  return %0 : tensor<?x3x4x4xf32>
}

// -----

func.func @batch_norm_channels(%x: tensor<?x3xf32>, %p: tensor<2xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{parameter 'mean' must have one value per channel ('tensor<3xf32>'), but has type 'tensor<2xf32>'}}
  %0 = nf.batch_norm %x mean %p variance %p log_gamma %p beta %p : tensor<?x3xf32>, tensor<2xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @batch_norm_epsilon(%x: tensor<?x2xf32>, %p: tensor<2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{epsilon must be >= 0}}
  %0 = nf.batch_norm %x mean %p variance %p log_gamma %p beta %p {epsilon = -1.0} : tensor<?x2xf32>, tensor<2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @batch_norm_variance(%x: tensor<?x2xf32>, %p: tensor<2xf32>) -> tensor<?x2xf32> {
  %v = arith.constant dense<[1.0, 0.0]> : tensor<2xf32>
  // expected-error @+1 {{variance + epsilon must be positive}}
  %0 = nf.batch_norm %x mean %p variance %v log_gamma %p beta %p {epsilon = 0.0} : tensor<?x2xf32>, tensor<2xf32>
  return %0 : tensor<?x2xf32>
}

//===----------------------------------------------------------------------===//
// Elementwise bijections
//===----------------------------------------------------------------------===//

// -----

func.func @sigmoid_temperature(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{temperature must be in (0, inf), but is 0}}
  %0 = nf.sigmoid %x {temperature = 0.0} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @logit_alpha(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{alpha must be in [0, 0.5), but is 0.5}}
  %0 = nf.logit %x {alpha = 0.5} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @logit_temperature(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{temperature must be in (0, inf), but is -1}}
  %0 = nf.logit %x {temperature = -1.0} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @leaky_relu_slope(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{slope must be in (0, inf), but is -0.1}}
  %0 = nf.leaky_relu %x {slope = -0.1} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_not_invertible(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot derive the inverse: 'arith.mulf' uses x in more than one operand; declare `monotone increasing` or `monotone decreasing` to invert it numerically}}
  %0 = nf.elementwise %x : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %sq = arith.mulf %v, %v : f32
    nf.scalar_yield %sq : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_not_invertible_op(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot derive the inverse: 'arith.maximumf' is not invertible in x}}
  %0 = nf.elementwise %x : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %c = arith.constant 0.0 : f32
    %m = arith.maximumf %v, %c : f32
    nf.scalar_yield %m : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_constant(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot derive the inverse: the result does not depend on x}}
  %0 = nf.elementwise %x : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %c = arith.constant 1.0 : f32
    nf.scalar_yield %c : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_not_differentiable(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %0 = nf.elementwise %x monotone increasing : tensor<?x2xf32> {
  ^bb0(%v: f32):
    // expected-error @+1 {{cannot be differentiated in x, so nf.elementwise cannot derive log|f'(x)|}}
    %f = math.floor %v : f32
    nf.scalar_yield %f : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_argument_type(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{body must take one scalar of the data's element type 'f32'}}
  %0 = nf.elementwise %x : tensor<?x2xf32> {
  ^bb0(%v: f64):
    %t = arith.truncf %v : f64 to f32
    nf.scalar_yield %t : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_tolerance(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{tolerance must be positive}}
  %0 = nf.elementwise %x monotone increasing {tolerance = 0.0} : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %e = math.exp %v : f32
    nf.scalar_yield %e : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_body_op(%x: tensor<?x2xf32>, %m: memref<f32>) -> tensor<?x2xf32> {
  %0 = nf.elementwise %x monotone increasing : tensor<?x2xf32> {
  ^bb0(%v: f32):
    // expected-error @+1 {{is not allowed in an nf.elementwise body (only side-effect-free scalar float arith/math ops)}}
    %c = arith.constant 0 : index
    nf.scalar_yield %v : f32
  }
  return %0 : tensor<?x2xf32>
}

//===----------------------------------------------------------------------===//
// nf.mlp
//===----------------------------------------------------------------------===//

// -----

func.func @mlp_odd(%x: tensor<?x2xf32>, %w: tensor<2x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects (weight, bias) pairs, but has 1 parameters}}
  %0 = nf.mlp %x (%w : tensor<2x4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @mlp_weight(%x: tensor<?x2xf32>, %w: tensor<3x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{weight of layer 0 must be a matrix with 2 rows (the width of its input), but has type 'tensor<3x4xf32>'}}
  %0 = nf.mlp %x (%w, %b : tensor<3x4xf32>, tensor<4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @mlp_bias(%x: tensor<?x2xf32>, %w: tensor<2x4xf32>, %b: tensor<5xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{bias of layer 0 must be a vector of 4 entries (the columns of its weight), but has type 'tensor<5xf32>'}}
  %0 = nf.mlp %x (%w, %b : tensor<2x4xf32>, tensor<5xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @mlp_output(%x: tensor<?x2xf32>, %w: tensor<2x4xf32>, %b: tensor<4xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{last layer has 4 outputs, but the result has 3 features}}
  %0 = nf.mlp %x (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @mlp_rank(%x: tensor<?x2x1xf32>, %w: tensor<2x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects tensor<?xNxT> input and output}}
  %0 = nf.mlp %x (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation relu : tensor<?x2x1xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @mlp_batch(%x: tensor<8x2xf32>, %w: tensor<2x4xf32>, %b: tensor<4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{input and output batch dimensions differ}}
  %0 = nf.mlp %x (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation relu : tensor<8x2xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @mlp_result_type(%x: tensor<?x2xf32>, %w: tensor<2x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf64> {
  // expected-error @+1 {{output element type differs from the input's}}
  %0 = nf.mlp %x (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf64>
  return %0 : tensor<?x4xf64>
}

// -----

func.func @mlp_param_type(%x: tensor<?x2xf32>, %w: tensor<2x4xf64>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{layer 0 has parameters of another element type than the input's}}
  %0 = nf.mlp %x (%w, %b : tensor<2x4xf64>, tensor<4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @spline_widths_shape(%x: tensor<?x2xf32>, %w: tensor<3x4xf32>, %d: tensor<3x3xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{widths and heights must have the event shape plus one dimension of K bins, but have type 'tensor<3x4xf32>'}}
  %0 = nf.rq_spline %x widths %w heights %w derivatives %d : tensor<?x2xf32>, tensor<3x4xf32>, tensor<3x3xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @spline_derivatives_shape(%x: tensor<?x2xf32>, %w: tensor<2x4xf32>, %d: tensor<2x4xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{derivatives must have the event shape plus one dimension of K - 1 = 3 interior knots, but have type 'tensor<2x4xf32>'}}
  %0 = nf.rq_spline %x widths %w heights %w derivatives %d : tensor<?x2xf32>, tensor<2x4xf32>, tensor<2x4xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @spline_one_bin(%x: tensor<?x2xf32>, %w: tensor<2x1xf32>, %d: tensor<2x0xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{needs at least 2 bins, but has 1}}
  %0 = nf.rq_spline %x widths %w heights %w derivatives %d : tensor<?x2xf32>, tensor<2x1xf32>, tensor<2x0xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @spline_tail_bound(%x: tensor<?x2xf32>, %w: tensor<2x4xf32>, %d: tensor<2x3xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{tail_bound must be > 0, but is 0}}
  %0 = nf.rq_spline %x widths %w heights %w derivatives %d {tail_bound = 0.0} : tensor<?x2xf32>, tensor<2x4xf32>, tensor<2x3xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x20xf32>
func.func @spline_coupling_min_width(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{min_bin_width and min_bin_height must be in (0, 1 / bins)}}
  %0 = nf.rq_spline_coupling %x identity [0] conditioner @net {bins = 4, min_bin_width = 0.25} : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x20xf32>
func.func @spline_coupling_conditioner(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{conditioner @net has type '(tensor<?x1xf32>) -> tensor<?x20xf32>', but this layer calls it as '(tensor<?x1xf32>) -> tensor<?x22xf32>' (the layer's input, then the context if any, then the parameters; the result holds per transformed feature, K widths, K heights and K - 1 derivatives (raw))}}
  %0 = nf.rq_spline_coupling %x identity [0] conditioner @net {bins = 4} : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @made(%x: tensor<?x1x2x2xf32>) -> tensor<?x2x2x2xf32>
func.func @autoregressive_rank(%x: tensor<?x1x2x2xf32>) -> tensor<?x1x2x2xf32> {
  // expected-error @+1 {{expects data of type tensor<?xDxT>, but got 'tensor<?x1x2x2xf32>'}}
  %0 = nf.affine_autoregressive %x conditioner @made : tensor<?x1x2x2xf32>
  return %0 : tensor<?x1x2x2xf32>
}

// -----

func.func private @made(%x: tensor<?x3xf32>) -> tensor<?x3xf32>
func.func @autoregressive_conditioner(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{conditioner @made has type '(tensor<?x3xf32>) -> tensor<?x3xf32>', but this layer calls it as '(tensor<?x3xf32>) -> tensor<?x6xf32>' (the layer's input, then the context if any, then the parameters; the result holds per feature, the unconstrained scale, then the shift)}}
  %0 = nf.affine_autoregressive %x conditioner @made : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @made(%x: tensor<?x3xf32>, %c: tensor<?x1x1xf32>) -> tensor<?x15xf32>
func.func @autoregressive_context(%x: tensor<?x3xf32>, %c: tensor<?x1x1xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{context must be a tensor<?xCxT>, but is 'tensor<?x1x1xf32>'}}
  %0 = nf.rq_spline_autoregressive %x conditioner @made context %c : tensor<?x1x1xf32> {bins = 2} : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @lu_shape(%x: tensor<?x3xf32>, %m: tensor<2x2xf32>, %s: tensor<3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{lower and upper must be 3x3 matrices, but have type 'tensor<2x2xf32>'}}
  %0 = nf.lu_linear %x lower %m upper %m diag %s bias %s : tensor<?x3xf32>, tensor<2x2xf32>, tensor<3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @lu_permutation(%x: tensor<?x3xf32>, %m: tensor<3x3xf32>, %s: tensor<3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{permutation must be a permutation of the 3 features}}
  %0 = nf.lu_linear %x lower %m upper %m diag %s bias %s permutation [0, 0, 1] : tensor<?x3xf32>, tensor<3x3xf32>, tensor<3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @lu_singular(%x: tensor<?x3xf32>, %m: tensor<3x3xf32>) -> tensor<?x3xf32> {
  %s = arith.constant dense<[1.0, 0.0, 2.0]> : tensor<3xf32>
  // expected-error @+1 {{diag has a zero entry: the map is singular}}
  %0 = nf.lu_linear %x lower %m upper %m diag %s bias %s : tensor<?x3xf32>, tensor<3x3xf32>, tensor<3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @planar_shape(%x: tensor<?x3xf32>, %u: tensor<2xf32>, %b: tensor<f32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{u and w must have the event shape, but have type 'tensor<2xf32>'}}
  %0 = nf.planar %x u %u w %u bias %b : tensor<?x3xf32>, tensor<2xf32>, tensor<f32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @planar_bias(%x: tensor<?x3xf32>, %u: tensor<3xf32>, %b: tensor<1xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{bias must be a scalar tensor, but has type 'tensor<1xf32>'}}
  %0 = nf.planar %x u %u w %u bias %b : tensor<?x3xf32>, tensor<3xf32>, tensor<1xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func @planar_not_invertible(%x: tensor<?x2xf32>, %b: tensor<f32>) -> tensor<?x2xf32> {
  %u = arith.constant dense<[-1.0, -1.0]> : tensor<2xf32>
  %w = arith.constant dense<[1.0, 0.5]> : tensor<2xf32>
  // expected-error @+1 {{needs w . u > -1 to be invertible, but w . u = -1.5}}
  %0 = nf.planar %x u %u w %w bias %b : tensor<?x2xf32>, tensor<2xf32>, tensor<f32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @iresnet_not_contractive(%x: tensor<?x2xf64>) -> tensor<?x2xf64> {
  %w = arith.constant dense<[[1.0, 0.0], [0.0, 0.5]]> : tensor<2x2xf64>
  %b = arith.constant dense<0.0> : tensor<2xf64>
  // expected-error @+1 {{residual branch is not contractive: the product of its weights' spectral norms is 1.000000e+00 (must be < 1 for the inverse to converge)}}
  %0 = nf.iresnet %x (%w, %b : tensor<2x2xf64>, tensor<2xf64>) activation elu : tensor<?x2xf64>
  return %0 : tensor<?x2xf64>
}

// -----

func.func @iresnet_logdet(%x: tensor<?x2xf64>, %w: tensor<2x2xf64>, %b: tensor<2xf64>) -> tensor<?x2xf64> {
  // expected-error @+1 {{logdet must be "exact" or "series", but is "hutchinson"}}
  %0 = nf.iresnet %x (%w, %b : tensor<2x2xf64>, tensor<2xf64>) activation elu {logdet = "hutchinson"} : tensor<?x2xf64>
  return %0 : tensor<?x2xf64>
}

// -----

func.func @iresnet_width(%x: tensor<?x2xf64>, %w: tensor<2x3xf64>, %b: tensor<3xf64>) -> tensor<?x2xf64> {
  // expected-error @+1 {{last layer has 3 outputs, but the result has 2 features}}
  %0 = nf.iresnet %x (%w, %b : tensor<2x3xf64>, tensor<3xf64>) activation elu : tensor<?x2xf64>
  return %0 : tensor<?x2xf64>
}

// -----

func.func @abs_logits_shape(%x: tensor<?x2xf32>, %l: tensor<3xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{logits must have the event shape, but have type 'tensor<3xf32>'}}
  %0 = nf.abs %x logits %l : tensor<3xf32> : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @abs_noise_shape(%x: tensor<?x2xf32>, %u: tensor<?x3xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{noise must hold one uniform per element of the data ('tensor<?x2xf32>'), but has type 'tensor<?x3xf32>'}}
  %0 = nf.abs %x noise %u : tensor<?x3xf32> : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @sort_rank(%x: tensor<?x2x2x2xf32>) -> tensor<?x2x2x2xf32> {
  // expected-error @+1 {{expects data of type tensor<?xDxT> (or point clouds tensor<?xNxKxT> with a key), but got 'tensor<?x2x2x2xf32>'}}
  %0 = nf.sort %x : tensor<?x2x2x2xf32>
  return %0 : tensor<?x2x2x2xf32>
}

// -----

func.func @slice_keep(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{must keep between 1 and 1 of the 2 features, not 2}}
  %0 = nf.slice %x : tensor<?x2xf32> -> tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @slice_shape(%x: tensor<?x2x4x4xf32>) -> tensor<?x1x2x2xf32> {
  // expected-error @+1 {{result must be the input with fewer features along dimension 1, but maps 'tensor<?x2x4x4xf32>' to 'tensor<?x1x2x2xf32>'}}
  %0 = nf.slice %x : tensor<?x2x4x4xf32> -> tensor<?x1x2x2xf32>
  return %0 : tensor<?x1x2x2xf32>
}

// -----

func.func private @dec(%z: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @slice_decoder_type(%x: tensor<?x4xf32>) -> tensor<?x1xf32> {
  // expected-error @+1 {{conditioner @dec has type '(tensor<?x1xf32>) -> tensor<?x2xf32>', but this layer calls it as '(tensor<?x1xf32>) -> tensor<?x6xf32>' (the layer's input, then the context if any, then the parameters; the result holds the means, then the log standard deviations of the drawn part)}}
  %0 = nf.slice %x decoder @dec : tensor<?x4xf32> -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

func.func @slice_params_without_decoder(%x: tensor<?x4xf32>, %w: tensor<2xf32>) -> tensor<?x1xf32> {
  // expected-error @+1 {{has decoder parameters but no decoder}}
  %0 = nf.slice %x (%w : tensor<2xf32>) : tensor<?x4xf32> -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

func.func @augment_shape(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{result must be the input with more features along dimension 1, but maps 'tensor<?x4xf32>' to 'tensor<?x2xf32>'}}
  %0 = nf.augment %x : tensor<?x4xf32> -> tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @dequantize_levels(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{needs at least 2 levels, but has 1}}
  %0 = nf.uniform_dequantize %x {levels = 1} : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// expected-error @+1 {{iwae_paths must be >= 1, but is 0}}
nf.model @no_paths(%x: tensor<?x2xf32>) base #nf.std_normal attributes {iwae_paths = 0} {
  nf.yield %x : tensor<?x2xf32>
}

// -----

func.func private @enc(%x: tensor<?x3xf32>) -> tensor<?x4xf32>
func.func private @dec(%z: tensor<?x2xf32>) -> tensor<?x4xf32>
func.func @vae_decoder(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{conditioner @dec has type '(tensor<?x2xf32>) -> tensor<?x4xf32>', but this layer calls it as '(tensor<?x2xf32>) -> tensor<?x6xf32>'}}
  %0 = nf.vae %x encoder @enc decoder @dec : tensor<?x3xf32> -> tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @random_permutation_noise(%x: tensor<?x3xf32>, %u: tensor<?x2xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{noise must hold one uniform per feature ('tensor<?x3xf32>'), but has type 'tensor<?x2xf32>'}}
  %0 = nf.random_permutation %x forward_noise %u : tensor<?x2xf32> : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @u(%y: tensor<?x2xf32>) -> tensor<?xf32>
func.func @langevin_steps(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{needs at least one step, but has 0}}
  %0 = nf.langevin %x energy @u {step_size = 0.1, steps = 0 : i64} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @u(%y: tensor<?x2xf32>) -> tensor<?xf32>
func.func @langevin_step_size(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{step_size must be positive}}
  %0 = nf.langevin %x energy @u {step_size = 0.0} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @u(%y: tensor<?x2xf32>) -> tensor<?xf32>
func.func @metropolis_lambda(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{lambda must be in [0, 1], but is 1.5}}
  %0 = nf.metropolis %x energy @u {lambda = 1.5, proposal_scale = 0.5} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @u(%y: tensor<?x2xf32>) -> tensor<?xf32>
func.func @metropolis_scale(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{proposal_scale must be positive}}
  %0 = nf.metropolis %x energy @u {proposal_scale = -0.5} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @u(%y: tensor<?x2xf32>) -> tensor<?xf32>
func.func @metropolis_noise(%x: tensor<?x2xf32>, %n: tensor<?x6xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{noise must hold the proposals' standard normal draws, then one uniform per step ('tensor<?x9xf32>'), but has type 'tensor<?x6xf32>'}}
  %0 = nf.metropolis %x energy @u forward_noise %n : tensor<?x6xf32> {proposal_scale = 0.5, steps = 3 : i64} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @u(%y: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func @energy_type(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{energy @u has type '(tensor<?x2xf32>) -> tensor<?x2xf32>', but this layer calls it as '(tensor<?x2xf32>) -> tensor<?xf32>'}}
  %0 = nf.metropolis %x energy @u {proposal_scale = 0.5} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @u(%y: tensor<?x2xf32>) -> tensor<?xf32>
func.func private @g(%y: tensor<?x2xf32>) -> tensor<?xf32>
func.func @gradient_type(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{gradient @g has type '(tensor<?x2xf32>) -> tensor<?xf32>', but this layer calls it as '(tensor<?x2xf32>) -> tensor<?x2xf32>'}}
  %0 = nf.langevin %x energy @u {step_size = 0.1, gradient = @g} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @missing_energy(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{energy @nowhere does not name a func.func}}
  %0 = nf.metropolis %x energy @nowhere {proposal_scale = 0.5} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @u(%y: tensor<?x2x2xf32>) -> tensor<?xf32>
func.func @snf_rank(%x: tensor<?x2x2xf32>) -> tensor<?x2x2xf32> {
  // expected-error @+1 {{expects data of type tensor<?xDxT>, but got 'tensor<?x2x2xf32>'}}
  %0 = nf.metropolis %x energy @u {proposal_scale = 0.5} : tensor<?x2x2xf32>
  return %0 : tensor<?x2x2xf32>
}

// -----

func.func @max_pool_odd(%x: tensor<?x2x3x4xf32>) -> tensor<?x2x1x2xf32> {
  // expected-error @+1 {{expects images tensor<?xCxHxWxT> with even H and W, but got 'tensor<?x2x3x4xf32>'}}
  %0 = nf.max_pool %x : tensor<?x2x3x4xf32> -> tensor<?x2x1x2xf32>
  return %0 : tensor<?x2x1x2xf32>
}

// -----

func.func @max_pool_result(%x: tensor<?x2x4x4xf32>) -> tensor<?x2x4x2xf32> {
  // expected-error @+1 {{result must be the input with H and W halved, but maps 'tensor<?x2x4x4xf32>' to 'tensor<?x2x4x2xf32>'}}
  %0 = nf.max_pool %x : tensor<?x2x4x4xf32> -> tensor<?x2x4x2xf32>
  return %0 : tensor<?x2x4x2xf32>
}

// -----

func.func @max_pool_noise(%x: tensor<?x2x4x4xf32>, %n: tensor<?x6x2x2xf32>) -> tensor<?x2x2x2xf32> {
  // expected-error @+1 {{noise must hold C channels of uniforms for the maxima's positions, then 3C of standard normal draws for the gaps ('tensor<?x8x2x2xf32>'), but has type 'tensor<?x6x2x2xf32>'}}
  %0 = nf.max_pool %x noise %n : tensor<?x6x2x2xf32> : tensor<?x2x4x4xf32> -> tensor<?x2x2x2xf32>
  return %0 : tensor<?x2x2x2xf32>
}

// -----

func.func private @dec(%z: tensor<?x2x2x2xf32>) -> tensor<?x4x2x2xf32>
func.func @max_pool_decoder(%x: tensor<?x2x4x4xf32>) -> tensor<?x2x2x2xf32> {
  // expected-error @+1 {{conditioner @dec has type '(tensor<?x2x2x2xf32>) -> tensor<?x4x2x2xf32>', but this layer calls it as '(tensor<?x2x2x2xf32>) -> tensor<?x6x2x2xf32>'}}
  %0 = nf.max_pool %x decoder @dec : tensor<?x2x4x4xf32> -> tensor<?x2x2x2xf32>
  return %0 : tensor<?x2x2x2xf32>
}

// -----

func.func @sort_key(%x: tensor<?x5x2xf32>) -> tensor<?x5x2xf32> {
  // expected-error @+1 {{with key 2 expects point clouds tensor<?xNxKxT> with 0 <= key < K, but got 'tensor<?x5x2xf32>'}}
  %0 = nf.sort %x {key = 2 : i64} : tensor<?x5x2xf32>
  return %0 : tensor<?x5x2xf32>
}

// -----

func.func @sort_points_without_key(%x: tensor<?x5x2xf32>) -> tensor<?x5x2xf32> {
  // expected-error @+1 {{expects data of type tensor<?xDxT> (or point clouds tensor<?xNxKxT> with a key), but got 'tensor<?x5x2xf32>'}}
  %0 = nf.sort %x : tensor<?x5x2xf32>
  return %0 : tensor<?x5x2xf32>
}

// -----

func.func private @q(%x: tensor<?x3xf32>) -> tensor<?x3xf32>
func.func @variational_dequantize_encoder(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{conditioner @q has type '(tensor<?x3xf32>) -> tensor<?x3xf32>', but this layer calls it as '(tensor<?x3xf32>) -> tensor<?x6xf32>'}}
  %0 = nf.variational_dequantize %x encoder @q {levels = 4 : i64} : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @q(%x: tensor<?x3xf32>) -> tensor<?x6xf32>
func.func @variational_dequantize_levels(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{needs at least 2 levels, but has 1}}
  %0 = nf.variational_dequantize %x encoder @q {levels = 1 : i64} : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

func.func private @q(%x: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func private @t(%u: tensor<?x1xf32>) -> tensor<?x2xf32>
func.func @cif_transform(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{conditioner @t has type '(tensor<?x1xf32>) -> tensor<?x2xf32>', but this layer calls it as '(tensor<?x1xf32>) -> tensor<?x4xf32>'}}
  %0 = nf.cif %x encoder @q decoder @q transform @t {index_features = 1 : i64} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @q(%x: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func private @t(%u: tensor<?x1xf32>) -> tensor<?x4xf32>
func.func @cif_noise(%x: tensor<?x2xf32>, %n: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{noise must hold standard normal draws of u ('tensor<?x1xf32>'), but has type 'tensor<?x2xf32>'}}
  %0 = nf.cif %x encoder @q decoder @q transform @t forward_noise %n : tensor<?x2xf32> {index_features = 1 : i64} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @f(%y: tensor<?x2xf32>, %t: f32) -> tensor<?x2xf32>
func.func @diffusion_times(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{needs t1 > t0, but has t0 = 5.000000e-02 and t1 = 5.000000e-02}}
  %0 = nf.diffusion_step %x drift @f score @f {t0 = 0.05, t1 = 0.05, g0 = 0.2, g1 = 0.2} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @f(%y: tensor<?x2xf32>, %t: f32) -> tensor<?x2xf32>
func.func @diffusion_g(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{needs positive diffusion coefficients g0 and g1}}
  %0 = nf.diffusion_step %x drift @f score @f {t0 = 0.0, t1 = 0.05, g0 = 0.2, g1 = 0.0} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func private @f(%y: tensor<?x2xf32>, %t: f32) -> tensor<?x2xf32>
func.func private @s(%y: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func @diffusion_score(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{score @s has type '(tensor<?x2xf32>) -> tensor<?x2xf32>', but this layer calls it as '(tensor<?x2xf32>, f32) -> tensor<?x2xf32>'}}
  %0 = nf.diffusion_step %x drift @f score @s {t0 = 0.0, t1 = 0.05, g0 = 0.2, g1 = 0.2} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

nf.model @flow(%v: tensor<?x3xf32>, %c: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %v : tensor<?x3xf32>
}
func.func @variational_dequantize_flow_types(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{encoder flow @flow must map 'tensor<?x3xf32>' to 'tensor<?x3xf32>' given the data ('tensor<?x3xf32>') as its context}}
  %0 = nf.variational_dequantize %x encoder @flow {levels = 4 : i64} : tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

nf.model @flow(%v: tensor<?x2xf32>, %c: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.augment %v : tensor<?x2xf32> -> tensor<?x3xf32>
  %1 = nf.slice %0 : tensor<?x3xf32> -> tensor<?x2xf32>
  nf.yield %1 : tensor<?x2xf32>
}
func.func @variational_dequantize_flow_exact(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{encoder flow @flow must be exact (bijective layers only)}}
  %0 = nf.variational_dequantize %x encoder @flow {levels = 4 : i64} : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}

// -----

func.func @sort_negative_key(%x: tensor<?x5x2xf32>) -> tensor<?x5x2xf32> {
  // expected-error @+1 {{with key -1 expects point clouds tensor<?xNxKxT> with 0 <= key < K, but got 'tensor<?x5x2xf32>'}}
  %0 = nf.sort %x {key = -1 : i64} : tensor<?x5x2xf32>
  return %0 : tensor<?x5x2xf32>
}

// -----

func.func @dequantize_negative_levels(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{needs at least 2 levels, but has -3}}
  %0 = nf.uniform_dequantize %x {levels = -3} : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @max_pool_context(%x: tensor<?x2x4x4xf32>, %c: tensor<?x3xf32>) -> tensor<?x2x2x2xf32> {
  // expected-error @+1 {{has decoder parameters or a context but no decoder}}
  %0 = nf.max_pool %x context %c : tensor<?x3xf32> : tensor<?x2x4x4xf32> -> tensor<?x2x2x2xf32>
  return %0 : tensor<?x2x2x2xf32>
}

// -----

// x * c is injective only for c != 0, which a parameter-free body can only
// show with a nonzero constant or an exp.
func.func @elementwise_mul_by_possible_zero(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot derive the inverse: 'arith.mulf' is not injective in x unless its operand #1 is nonzero, which is not proven}}
  %0 = nf.elementwise %x : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %c = arith.constant 0.0 : f32
    %s = arith.mulf %v, %c : f32
    nf.scalar_yield %s : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_even_power(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot derive the inverse: 'math.powf' is not injective in x: its exponent (operand #1) must be an odd integer constant, or a nonzero constant over a base proven positive (operand #0)}}
  %0 = nf.elementwise %x : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %c = arith.constant 2.0 : f32
    %s = math.powf %v, %c : f32
    nf.scalar_yield %s : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

func.func @elementwise_false_monotone(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{is declared monotone increasing, but f(-10) = 100 and f(-9.995) = 99.9}}
  %0 = nf.elementwise %x monotone increasing : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %sq = arith.mulf %v, %v : f32
    nf.scalar_yield %sq : f32
  }
  return %0 : tensor<?x2xf32>
}

// -----

// Feature 0's parameters depend on x_0: no feature-by-feature inverse.
func.func private @self_made(%x: tensor<?x2xf32>, %w0: tensor<2x4xf32>, %b0: tensor<4xf32>, %w1: tensor<4x4xf32>, %b1: tensor<4xf32>) -> tensor<?x4xf32> {
  %h = nf.mlp %x (%w0, %b0, %w1, %b1 : tensor<2x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
  return %h : tensor<?x4xf32>
}
func.func @autoregressive_not(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w0 = arith.constant dense<[[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<2x4xf32>
  %b0 = arith.constant dense<0.0> : tensor<4xf32>
  %w1 = arith.constant dense<[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32>
  %b1 = arith.constant dense<0.0> : tensor<4xf32>
  // expected-error @+1 {{conditioner @self_made is not autoregressive: by the zero pattern of its constant weights, the parameters of feature 0 depend on that feature}}
  %0 = nf.affine_autoregressive %x conditioner @self_made(%w0, %b0, %w1, %b1 : tensor<2x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>) : tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}
