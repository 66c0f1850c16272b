// Every nf op and attribute round-trips through the custom form, the generic
// form and bytecode.
// RUN: nf-opt %s | nf-opt | FileCheck %s
// RUN: nf-opt %s --mlir-print-op-generic | nf-opt | FileCheck %s
// RUN: nf-opt %s -emit-bytecode | nf-opt | FileCheck %s
// RUN: nf-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func private @net
// CHECK: nf.mlp %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x8xf64>, tensor<8xf64>, tensor<8x2xf64>, tensor<2xf64>) activation relu : tensor<?x1xf64> -> tensor<?x2xf64>
func.func private @net(%xa: tensor<?x1xf64>, %w0: tensor<1x8xf64>, %b0: tensor<8xf64>,
                       %w1: tensor<8x2xf64>, %b1: tensor<2xf64>) -> tensor<?x2xf64> {
  %h = nf.mlp %xa (%w0, %b0, %w1, %b1 : tensor<1x8xf64>, tensor<8xf64>, tensor<8x2xf64>, tensor<2xf64>)
         activation relu : tensor<?x1xf64> -> tensor<?x2xf64>
  return %h : tensor<?x2xf64>
}

// CHECK-LABEL: func.func private @cnet
// CHECK-COUNT-5: activation
func.func private @cnet(%xa: tensor<?x2xf32>, %c: tensor<?x3xf32>) -> tensor<?x4xf32> {
  %w = arith.constant dense<0.5> : tensor<2x4xf32>
  %b = arith.constant dense<0.1> : tensor<4xf32>
  %0 = nf.mlp %xa (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation leaky_relu : tensor<?x2xf32> -> tensor<?x4xf32>
  %1 = nf.mlp %xa (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation elu : tensor<?x2xf32> -> tensor<?x4xf32>
  %2 = nf.mlp %xa (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation tanh : tensor<?x2xf32> -> tensor<?x4xf32>
  %3 = nf.mlp %xa (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation sigmoid : tensor<?x2xf32> -> tensor<?x4xf32>
  %4 = nf.mlp %xa (%w, %b : tensor<2x4xf32>, tensor<4xf32>) activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
  return %4 : tensor<?x4xf32>
}

// CHECK-LABEL: nf.model @flow(%{{.*}}: tensor<?x2xf64>) base #nf.std_normal {
// CHECK: %[[A:.*]] = nf.affine %{{.*}} scale %{{.*}} shift %{{.*}} : tensor<?x2xf64>, tensor<2xf64>, tensor<f64>
// CHECK: %[[C:.*]] = nf.affine_coupling %[[A]] identity [0] conditioner @net(%{{.*}} : tensor<1x8xf64>, tensor<8xf64>, tensor<8x2xf64>, tensor<2xf64>) : tensor<?x2xf64>
// CHECK: %[[R:.*]] = nf.reverse %[[C]] : tensor<?x2xf64>
// CHECK: %[[P:.*]] = nf.permute %[[R]] [1, 0] : tensor<?x2xf64>
// CHECK: nf.yield %[[P]] : tensor<?x2xf64>
// GENERIC: "nf.model"() <{base = #nf.std_normal, sym_name = "flow"}> ({
// GENERIC: "nf.affine"
// GENERIC: "nf.affine_coupling"({{.*}}) <{conditioner = @net, identity = array<i64: 0>, operandSegmentSizes = array<i32: 1, 0, 4>, scale_fn = #nf<scale_fn exp>}>
// GENERIC: "nf.reverse"
// GENERIC: "nf.permute"({{.*}}) <{permutation = array<i64: 1, 0>}>
// GENERIC: "nf.yield"
nf.model @flow(%x: tensor<?x2xf64>) base #nf.std_normal {
  %s = arith.constant dense<[0.5, 2.0]> : tensor<2xf64>
  %t = arith.constant dense<0.25> : tensor<f64>
  %w0 = arith.constant dense<0.3> : tensor<1x8xf64>
  %b0 = arith.constant dense<0.1> : tensor<8xf64>
  %w1 = arith.constant dense<-0.2> : tensor<8x2xf64>
  %b1 = arith.constant dense<0.0> : tensor<2xf64>
  %0 = nf.affine %x scale %s shift %t : tensor<?x2xf64>, tensor<2xf64>, tensor<f64>
  %1 = nf.affine_coupling %0 identity [0] conditioner @net(%w0, %b0, %w1, %b1 : tensor<1x8xf64>, tensor<8xf64>, tensor<8x2xf64>, tensor<2xf64>) : tensor<?x2xf64>
  %2 = nf.reverse %1 : tensor<?x2xf64>
  %3 = nf.permute %2 [1, 0] : tensor<?x2xf64>
  nf.yield %3 : tensor<?x2xf64>
}

// A conditional model on a diagonal-normal base; weights as dense_resource
// blobs, the coupling feeds the context to its conditioner.
// CHECK-LABEL: nf.model @conditional
// CHECK-SAME: (%{{.*}}: tensor<?x4xf32>, %[[CTX:.*]]: tensor<?x3xf32>) base #nf.diag_normal<mean = dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<4xf32>, log_std = dense<-5.000000e-01> : tensor<4xf32>> {
// CHECK: arith.constant dense_resource<scale4> : tensor<4xf32>
// CHECK: nf.affine_coupling %{{.*}} identity [1, 3] conditioner @cnet context %[[CTX]] : tensor<?x3xf32> scale_fn softplus : tensor<?x4xf32>
nf.model @conditional(%x: tensor<?x4xf32>, %c: tensor<?x3xf32>)
    base #nf.diag_normal<mean = dense<[0.0, 1.0, 2.0, 3.0]> : tensor<4xf32>,
                         log_std = dense<-0.5> : tensor<4xf32>> {
  %s = arith.constant dense_resource<scale4> : tensor<4xf32>
  %0 = nf.affine %x scale %s shift %s : tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>
  %1 = nf.affine_coupling %0 identity [1, 3] conditioner @cnet context %c : tensor<?x3xf32> scale_fn softplus : tensor<?x4xf32>
  nf.yield %1 : tensor<?x4xf32>
}

// CHECK-LABEL: nf.model @box(%{{.*}}: tensor<?x2xf32>) base #nf.uniform<low = dense<0.000000e+00> : tensor<2xf32>, high = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>> {
// CHECK-NEXT: nf.yield
nf.model @box(%x: tensor<?x2xf32>)
    base #nf.uniform<low = dense<0.0> : tensor<2xf32>, high = dense<[1.0, 2.0]> : tensor<2xf32>> {
  nf.yield %x : tensor<?x2xf32>
}

// Per-sample parameters (as a conditioner produces) and a sigmoid coupling
// on images-free rank-2 data, outside a model.
// CHECK-LABEL: func.func @layers_in_func
// CHECK: nf.affine %{{.*}} scale %{{.*}} shift %{{.*}} : tensor<?x3xf32>, tensor<?x3xf32>, tensor<3xf32>
// CHECK: nf.reverse %{{.*}} : tensor<5x3x4x4xf32>
// CHECK: nf.affine_coupling %{{.*}} identity [0, 2] conditioner @two scale_fn sigmoid : tensor<?x3xf32>
func.func private @two(%xa: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func @layers_in_func(%x: tensor<?x3xf32>, %s: tensor<?x3xf32>, %t: tensor<3xf32>,
                          %img: tensor<5x3x4x4xf32>) -> (tensor<?x3xf32>, tensor<5x3x4x4xf32>) {
  %0 = nf.affine %x scale %s shift %t : tensor<?x3xf32>, tensor<?x3xf32>, tensor<3xf32>
  %1 = nf.reverse %img : tensor<5x3x4x4xf32>
  %2 = nf.affine_coupling %0 identity [0, 2] conditioner @two scale_fn sigmoid : tensor<?x3xf32>
  return %2, %1 : tensor<?x3xf32>, tensor<5x3x4x4xf32>
}

// CHECK-LABEL: nf.model @elementwise
// CHECK: nf.sigmoid %{{.*}} {temperature = 2.000000e+00 : f64} : tensor<?x3xf32>
// CHECK: nf.logit %{{.*}} {alpha = 5.000000e-02 : f64} : tensor<?x3xf32>
// CHECK: nf.tanh %{{.*}} : tensor<?x3xf32>
// CHECK: nf.softplus %{{.*}} : tensor<?x3xf32>
// CHECK: nf.leaky_relu %{{.*}} {slope = 1.000000e-01 : f64} : tensor<?x3xf32>
// CHECK: nf.exp %{{.*}} : tensor<?x3xf32>
// CHECK: nf.log %{{.*}} : tensor<?x3xf32>
// GENERIC: "nf.sigmoid"({{.*}}) <{temperature = 2.000000e+00 : f64}>
// GENERIC: "nf.logit"({{.*}}) <{alpha = 5.000000e-02 : f64, temperature = 1.000000e+00 : f64}>
nf.model @elementwise(%x: tensor<?x3xf32>) base #nf.std_normal {
  %0 = nf.sigmoid %x {temperature = 2.0} : tensor<?x3xf32>
  %1 = nf.logit %0 {alpha = 0.05} : tensor<?x3xf32>
  %2 = nf.tanh %1 : tensor<?x3xf32>
  %3 = nf.softplus %2 : tensor<?x3xf32>
  %4 = nf.leaky_relu %3 {slope = 0.1} : tensor<?x3xf32>
  %5 = nf.exp %4 : tensor<?x3xf32>
  %6 = nf.log %5 : tensor<?x3xf32>
  nf.yield %6 : tensor<?x3xf32>
}

// CHECK-LABEL: nf.model @image
// CHECK: nf.actnorm %{{.*}} scale %{{.*}} shift %{{.*}} : tensor<?x3x4x4xf32>, tensor<3xf32>
// CHECK: nf.batch_norm %{{.*}} mean %{{.*}} variance %{{.*}} log_gamma %{{.*}} beta %{{.*}} {epsilon = 1.000000e-03 : f64} : tensor<?x3x4x4xf32>, tensor<3xf32>
// CHECK: nf.reverse %{{.*}} : tensor<?x3x4x4xf32>
nf.model @image(%x: tensor<?x3x4x4xf32>) base #nf.std_normal {
  %s = arith.constant dense<[1.0, 2.0, 0.5]> : tensor<3xf32>
  %b = arith.constant dense<0.1> : tensor<3xf32>
  %0 = nf.actnorm %x scale %s shift %b : tensor<?x3x4x4xf32>, tensor<3xf32>
  %1 = nf.batch_norm %0 mean %b variance %s log_gamma %b beta %b {epsilon = 1.0e-3} : tensor<?x3x4x4xf32>, tensor<3xf32>
  %2 = nf.reverse %1 : tensor<?x3x4x4xf32>
  nf.yield %2 : tensor<?x3x4x4xf32>
}

// CHECK-LABEL: nf.model @couplings
// CHECK: nf.additive_coupling %{{.*}} identity [1, 3] conditioner @shift4 : tensor<?x4xf32>
// CHECK: nf.affine_coupling %{{.*}} identity [0, 2] conditioner @scale_shift4 scale_fn sigmoid shift_first : tensor<?x4xf32>
// GENERIC: "nf.additive_coupling"({{.*}}) <{conditioner = @shift4, identity = array<i64: 1, 3>, operandSegmentSizes = array<i32: 1, 0, 0>}>
// GENERIC: shift_first
func.func private @shift4(%xa: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func private @scale_shift4(%xa: tensor<?x2xf32>) -> tensor<?x4xf32>
nf.model @couplings(%x: tensor<?x4xf32>) base #nf.std_normal {
  %0 = nf.additive_coupling %x identity [1, 3] conditioner @shift4 : tensor<?x4xf32>
  %1 = nf.affine_coupling %0 identity [0, 2] conditioner @scale_shift4 scale_fn sigmoid shift_first : tensor<?x4xf32>
  nf.yield %1 : tensor<?x4xf32>
}

// CHECK-LABEL: nf.model @user_defined
// CHECK: nf.elementwise %{{.*}} : tensor<?x2xf32> {
// CHECK: ^bb0(%[[V:.*]]: f32):
// CHECK: math.sinh
// CHECK: nf.scalar_yield
// CHECK: nf.elementwise %{{.*}} monotone increasing {tolerance = 9.9999999999999995E-7 : f64} : tensor<?x2xf32>
// GENERIC: "nf.elementwise"
// GENERIC: "nf.scalar_yield"
// GENERIC: monotone = #nf<monotonicity increasing>
nf.model @user_defined(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.elementwise %x : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %c = arith.constant 2.0 : f32
    %a = arith.mulf %v, %c : f32
    %b = math.sinh %a : f32
    nf.scalar_yield %b : f32
  }
  %1 = nf.elementwise %0 monotone increasing {tolerance = 1.0e-6} : tensor<?x2xf32> {
  ^bb0(%v: f32):
    %sq = arith.mulf %v, %v : f32
    %cu = arith.mulf %sq, %v : f32
    %r = arith.addf %cu, %v : f32
    nf.scalar_yield %r : f32
  }
  nf.yield %1 : tensor<?x2xf32>
}

// CHECK-LABEL: nf.model @linear
// CHECK: nf.linear %{{.*}} weight %{{.*}} bias %{{.*}} : tensor<?x2x3x3xf64>, tensor<2x2xf64>, tensor<2xf64>
nf.model @linear(%x: tensor<?x2x3x3xf64>) base #nf.std_normal {
  %w = arith.constant dense<[[2.0, 1.0], [0.5, 1.0]]> : tensor<2x2xf64>
  %b = arith.constant dense<0.5> : tensor<2xf64>
  %0 = nf.linear %x weight %w bias %b : tensor<?x2x3x3xf64>, tensor<2x2xf64>, tensor<2xf64>
  nf.yield %0 : tensor<?x2x3x3xf64>
}

// CHECK-LABEL: nf.model @squeeze
// CHECK: nf.squeeze %{{.*}} : tensor<?x3x4x4xf32> -> tensor<?x12x2x2xf32>
// CHECK: nf.yield %{{.*}} : tensor<?x12x2x2xf32>
nf.model @squeeze(%x: tensor<?x3x4x4xf32>) base #nf.std_normal {
  %0 = nf.squeeze %x : tensor<?x3x4x4xf32> -> tensor<?x12x2x2xf32>
  nf.yield %0 : tensor<?x12x2x2xf32>
}

// CHECK-LABEL: nf.model @radial
// CHECK: nf.radial %{{.*}} center %{{.*}} {alpha = 5.000000e-01 : f64, beta = -2.500000e-01 : f64} : tensor<?x2xf64>, tensor<2xf64>
nf.model @radial(%x: tensor<?x2xf64>) base #nf.std_normal {
  %c = arith.constant dense<[0.5, -1.0]> : tensor<2xf64>
  %0 = nf.radial %x center %c {alpha = 0.5, beta = -0.25} : tensor<?x2xf64>, tensor<2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// CHECK-LABEL: nf.model @max_pool
// CHECK: nf.max_pool %{{.*}} : tensor<?x2x4x4xf32> -> tensor<?x2x2x2xf32>
// CHECK: nf.max_pool %{{.*}} decoder @pool_decoder noise %{{.*}} : tensor<?x8x1x1xf32> : tensor<?x2x2x2xf32> -> tensor<?x2x1x1xf32>
func.func private @pool_decoder(%z: tensor<?x2x1x1xf32>) -> tensor<?x6x1x1xf32>
nf.model @max_pool(%x: tensor<?x2x4x4xf32>) base #nf.std_normal {
  %0 = nf.max_pool %x : tensor<?x2x4x4xf32> -> tensor<?x2x2x2xf32>
  %n = arith.constant dense<0.5> : tensor<1x8x1x1xf32>
  %nd = tensor.cast %n : tensor<1x8x1x1xf32> to tensor<?x8x1x1xf32>
  %1 = nf.max_pool %0 decoder @pool_decoder noise %nd : tensor<?x8x1x1xf32> : tensor<?x2x2x2xf32> -> tensor<?x2x1x1xf32>
  nf.yield %1 : tensor<?x2x1x1xf32>
}

// CHECK-LABEL: nf.model @points
// CHECK: nf.sort %{{.*}} {key = 1 : i64} : tensor<?x5x2xf32>
nf.model @points(%x: tensor<?x5x2xf32>) base #nf.std_normal {
  %0 = nf.sort %x {key = 1 : i64} : tensor<?x5x2xf32>
  nf.yield %0 : tensor<?x5x2xf32>
}

// CHECK-LABEL: nf.model @variational_dequantize
// CHECK: nf.variational_dequantize %{{.*}} encoder @vdq_encoder(%{{.*}} : tensor<3xf32>) {levels = 16 : i64} : tensor<?x3xf32>
func.func private @vdq_encoder(%x: tensor<?x3xf32>, %w: tensor<3xf32>) -> tensor<?x6xf32>
nf.model @variational_dequantize(%x: tensor<?x3xf32>) base #nf.std_normal {
  %w = arith.constant dense<1.0> : tensor<3xf32>
  %0 = nf.variational_dequantize %x encoder @vdq_encoder(%w : tensor<3xf32>) {levels = 16 : i64} : tensor<?x3xf32>
  nf.yield %0 : tensor<?x3xf32>
}

// CHECK-LABEL: nf.model @cif
// CHECK: nf.cif %{{.*}} encoder @cif_q decoder @cif_p(%{{.*}} : tensor<2xf32>) transform @cif_t {index_features = 1 : i64} : tensor<?x2xf32>
func.func private @cif_q(%x: tensor<?x2xf32>) -> tensor<?x2xf32>
func.func private @cif_p(%z: tensor<?x2xf32>, %w: tensor<2xf32>) -> tensor<?x2xf32>
func.func private @cif_t(%u: tensor<?x1xf32>) -> tensor<?x4xf32>
nf.model @cif(%x: tensor<?x2xf32>) base #nf.std_normal {
  %w = arith.constant dense<1.0> : tensor<2xf32>
  %0 = nf.cif %x encoder @cif_q decoder @cif_p(%w : tensor<2xf32>) transform @cif_t {index_features = 1 : i64} : tensor<?x2xf32>
  nf.yield %0 : tensor<?x2xf32>
}

// CHECK-LABEL: nf.model @diffusion
// CHECK: nf.diffusion_step %{{.*}} drift @diffusion_f(%{{.*}} : tensor<2xf32>) score @diffusion_s {g0 = 2.000000e-01 : f64, g1 = 1.000000e-01 : f64, t0 = 0.000000e+00 : f64, t1 = 5.000000e-02 : f64} : tensor<?x2xf32>
func.func private @diffusion_f(%y: tensor<?x2xf32>, %t: f32, %w: tensor<2xf32>) -> tensor<?x2xf32>
func.func private @diffusion_s(%y: tensor<?x2xf32>, %t: f32) -> tensor<?x2xf32>
nf.model @diffusion(%x: tensor<?x2xf32>) base #nf.std_normal {
  %w = arith.constant dense<1.0> : tensor<2xf32>
  %0 = nf.diffusion_step %x drift @diffusion_f(%w : tensor<2xf32>) score @diffusion_s {t0 = 0.0, t1 = 0.05, g0 = 0.2, g1 = 0.1} : tensor<?x2xf32>
  nf.yield %0 : tensor<?x2xf32>
}

// CHECK-LABEL: nf.model @snf
// CHECK: nf.langevin %{{.*}} energy @energy(%{{.*}} : tensor<2xf64>) forward_noise %{{.*}} : tensor<?x4xf64> {gradient = @energy_grad, lambda = 5.000000e-01 : f64, step_size = 1.000000e-02 : f64, steps = 2 : i64} : tensor<?x2xf64>
// CHECK: nf.metropolis %{{.*}} energy @energy(%{{.*}} : tensor<2xf64>) inverse_noise %{{.*}} : tensor<?x3xf64> {proposal_scale = 5.000000e-01 : f64} : tensor<?x2xf64>
func.func private @energy(%y: tensor<?x2xf64>, %w: tensor<2xf64>) -> tensor<?xf64>
func.func private @energy_grad(%y: tensor<?x2xf64>, %w: tensor<2xf64>) -> tensor<?x2xf64>
nf.model @snf(%x: tensor<?x2xf64>, %c: tensor<?x4xf64>) base #nf.std_normal {
  %w = arith.constant dense<[1.0, 2.0]> : tensor<2xf64>
  %0 = nf.langevin %x energy @energy(%w : tensor<2xf64>) forward_noise %c : tensor<?x4xf64> {lambda = 0.5, step_size = 0.01, steps = 2 : i64, gradient = @energy_grad} : tensor<?x2xf64>
  %n = arith.constant dense<0.5> : tensor<1x3xf64>
  %nd = tensor.cast %n : tensor<1x3xf64> to tensor<?x3xf64>
  %1 = nf.metropolis %0 energy @energy(%w : tensor<2xf64>) inverse_noise %nd : tensor<?x3xf64> {proposal_scale = 0.5} : tensor<?x2xf64>
  nf.yield %1 : tensor<?x2xf64>
}

// CHECK-LABEL: nf.model @catalogue
// CHECK: nf.rq_spline %{{.*}} widths %{{.*}} heights %{{.*}} derivatives %{{.*}} {tail_bound = 2.000000e+00 : f64} : tensor<?x4xf64>, tensor<4x3xf64>, tensor<4x2xf64>
// CHECK: nf.rq_spline_coupling %{{.*}} identity [0, 2] conditioner @spline_net(%{{.*}} : tensor<2x10xf64>) context %{{.*}} : tensor<?x1xf64> {bins = 2 : i64} : tensor<?x4xf64>
// CHECK: nf.affine_autoregressive %{{.*}} conditioner @made : tensor<?x4xf64>
// CHECK: nf.affine_autoregressive %{{.*}} conditioner @made scale_fn exp inverted : tensor<?x4xf64>
// CHECK: nf.rq_spline_autoregressive %{{.*}} conditioner @made_spline inverted {bins = 2 : i64, tail_bound = 4.000000e+00 : f64} : tensor<?x4xf64>
// CHECK: nf.lu_linear %{{.*}} lower %{{.*}} upper %{{.*}} diag %{{.*}} bias %{{.*}} permutation [1, 0, 3, 2] : tensor<?x4xf64>, tensor<4x4xf64>, tensor<4xf64>
// CHECK: nf.planar %{{.*}} u %{{.*}} w %{{.*}} bias %{{.*}} : tensor<?x4xf64>, tensor<4xf64>, tensor<f64>
// CHECK: nf.iresnet %{{.*}}(%{{.*}}, %{{.*}} : tensor<4x4xf64>, tensor<4xf64>) activation elu {logdet = "series", probes = 2 : i64, terms = 3 : i64} : tensor<?x4xf64>
// GENERIC: "nf.rq_spline"({{.*}}) <{min_bin_height = 1.000000e-03 : f64, min_bin_width = 1.000000e-03 : f64, min_derivative = 1.000000e-03 : f64, tail_bound = 2.000000e+00 : f64}>
// GENERIC: "nf.affine_autoregressive"({{.*}}) <{conditioner = @made, operandSegmentSizes = array<i32: 1, 0, 0>, scale_fn = #nf<scale_fn softplus>}>
func.func private @spline_net(%xa: tensor<?x2xf64>, %c: tensor<?x1xf64>, %w: tensor<2x10xf64>) -> tensor<?x10xf64>
func.func private @made(%x: tensor<?x4xf64>) -> tensor<?x8xf64>
func.func private @made_spline(%x: tensor<?x4xf64>) -> tensor<?x20xf64>
nf.model @catalogue(%x: tensor<?x4xf64>, %c: tensor<?x1xf64>) base #nf.std_normal {
  %w = arith.constant dense<0.3> : tensor<4x3xf64>
  %d = arith.constant dense<0.2> : tensor<4x2xf64>
  %cw = arith.constant dense<0.1> : tensor<2x10xf64>
  %m = arith.constant dense<0.5> : tensor<4x4xf64>
  %s = arith.constant dense<[1.5, 0.5, 2.0, -1.0]> : tensor<4xf64>
  %b = arith.constant dense<0.1> : tensor<f64>
  %r = arith.constant dense<0.1> : tensor<4x4xf64>
  %0 = nf.rq_spline %x widths %w heights %w derivatives %d {tail_bound = 2.0} : tensor<?x4xf64>, tensor<4x3xf64>, tensor<4x2xf64>
  %1 = nf.rq_spline_coupling %0 identity [0, 2] conditioner @spline_net(%cw : tensor<2x10xf64>) context %c : tensor<?x1xf64> {bins = 2} : tensor<?x4xf64>
  %2 = nf.affine_autoregressive %1 conditioner @made : tensor<?x4xf64>
  %3 = nf.affine_autoregressive %2 conditioner @made scale_fn exp inverted : tensor<?x4xf64>
  %4 = nf.rq_spline_autoregressive %3 conditioner @made_spline inverted {bins = 2, tail_bound = 4.0} : tensor<?x4xf64>
  %5 = nf.lu_linear %4 lower %m upper %m diag %s bias %s permutation [1, 0, 3, 2] : tensor<?x4xf64>, tensor<4x4xf64>, tensor<4xf64>
  %6 = nf.planar %5 u %s w %s bias %b : tensor<?x4xf64>, tensor<4xf64>, tensor<f64>
  %7 = nf.iresnet %6 (%r, %s : tensor<4x4xf64>, tensor<4xf64>) activation elu {logdet = "series", terms = 3, probes = 2} : tensor<?x4xf64>
  nf.yield %7 : tensor<?x4xf64>
}

{-#
  dialect_resources: {
    builtin: {
      scale4: "0x040000000000803F000000400000403F0000803E"
    }
  }
#-}
