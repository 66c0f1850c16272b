// Variational dequantization, CIF and DiffFlow steps: each direction draws
// its normals from its slice of the layer noise (variational dequantization
// 2 x 2 forward only, CIF 2 x 1 each way, the diffusion step 2 x 2 each
// way), in the order the direction applies the layers.
// RUN: nf-opt %s --nf-derive-logdet -canonicalize -cse | FileCheck %s --check-prefix=FWD
// RUN: nf-opt %s --nf-derive-inverse -canonicalize -cse | FileCheck %s --check-prefix=INV
// RUN: nf-opt %s --nf-model-summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY

// SUMMARY: model @mixed: tensor<?x2xf64> -> tensor<?x2xf64>, base #nf.std_normal, lower bound
// SUMMARY-NEXT: 0: nf.variational_dequantize  generative_surjection, bound
// SUMMARY-NEXT: 1: nf.cif  stochastic, bound
// SUMMARY-NEXT: 2: nf.diffusion_step  stochastic, bound

// FWD-LABEL: func.func @mixed_forward(
// FWD-SAME: %[[X:.*]]: tensor<?x2xf64>, %[[U:.*]]: tensor<?x10xf64>) -> (tensor<?x2xf64>, tensor<?xf64>)
// FWD: tensor.extract_slice %[[U]][0, 0] [%{{.*}}, 4] [1, 1]
// FWD: call @vq(%[[X]])
// FWD: tensor.extract_slice %[[U]][0, 4] [%{{.*}}, 2] [1, 1]
// FWD: call @cq(
// FWD: call @ct(
// FWD: tensor.extract_slice %[[U]][0, 6] [%{{.*}}, 4] [1, 1]
// The drift at t0 for the step, drift and score at t1 for the reverse noise.
// FWD: call @drift(%{{.*}}, %[[T0:.*]]) : (tensor<?x2xf64>, f64) -> tensor<?x2xf64>
// FWD: call @drift(%{{.*}}, %[[T1:.*]]) : (tensor<?x2xf64>, f64) -> tensor<?x2xf64>
// FWD: call @score(%{{.*}}, %[[T1]]) : (tensor<?x2xf64>, f64) -> tensor<?x2xf64>

// Sampling: the backward SDE step first, then the CIF's u ~ p(u | z); the
// dequantizer only rounds.
// INV-LABEL: func.func @mixed_inverse(
// INV-SAME: %[[Z:.*]]: tensor<?x2xf64>, %[[U:.*]]: tensor<?x6xf64>) -> tensor<?x2xf64>
// INV: tensor.extract_slice %[[U]][0, 0] [%{{.*}}, 4] [1, 1]
// INV: call @drift(%[[Z]],
// INV: call @score(%[[Z]],
// INV: tensor.extract_slice %[[U]][0, 4] [%{{.*}}, 2] [1, 1]
// INV: call @cq(
// INV: call @ct(
// INV-NOT: call @vq
// INV: math.floor
// INV: return
func.func private @vq(%x: tensor<?x2xf64>) -> tensor<?x4xf64>
func.func private @cq(%x: tensor<?x2xf64>) -> tensor<?x2xf64>
func.func private @ct(%u: tensor<?x1xf64>) -> tensor<?x4xf64>
func.func private @drift(%y: tensor<?x2xf64>, %t: f64) -> tensor<?x2xf64>
func.func private @score(%y: tensor<?x2xf64>, %t: f64) -> tensor<?x2xf64>
nf.model @mixed(%x: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.variational_dequantize %x encoder @vq {levels = 8 : i64} : tensor<?x2xf64>
  %1 = nf.cif %0 encoder @cq decoder @cq transform @ct {index_features = 1 : i64} : tensor<?x2xf64>
  %2 = nf.diffusion_step %1 drift @drift score @score {t0 = 0.0, t1 = 0.04, g0 = 0.2, g1 = 0.1} : tensor<?x2xf64>
  nf.yield %2 : tensor<?x2xf64>
}

// An encoder flow: the conditional model runs in its generative direction
// on eps, given x as its context, inside the dequantizer.
// FWD-LABEL: func.func @flow_dequantized_forward(
// FWD-SAME: %[[X:.*]]: tensor<?x2xf64>, %{{.*}}: tensor<?x4xf64>)
// FWD: call @flow_net(%{{.*}}, %[[X]])
// FWD: math.log1p
// FWD: return
func.func private @flow_net(%v: tensor<?x1xf64>, %c: tensor<?x2xf64>) -> tensor<?x2xf64>
nf.model @encoder_flow(%v: tensor<?x2xf64>, %c: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.affine_coupling %v identity [0] conditioner @flow_net context %c : tensor<?x2xf64> : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}
nf.model @flow_dequantized(%x: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.variational_dequantize %x encoder @encoder_flow {levels = 8 : i64} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}
