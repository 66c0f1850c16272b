// Stochastic normalizing flow blocks: MCMC steps as an scf.for over the
// state, the energy (and for Langevin its gradient) called per step, the
// gradient derived by reverse-mode AD when not given, and the path term V.
// RUN: nf-opt %s --nf-derive-energy-gradients -canonicalize -cse | FileCheck %s --check-prefix=GRAD
// RUN: nf-opt %s --nf-derive-energy-gradients --nf-derive-logdet -canonicalize -cse | FileCheck %s --check-prefix=FWD
// RUN: nf-opt %s --nf-derive-energy-gradients --nf-derive-inverse -canonicalize -cse | FileCheck %s --check-prefix=INV
// RUN: nf-opt %s --nf-derive-energy-gradients --nf-expand-model | FileCheck %s --check-prefix=KERNEL
// RUN: nf-opt %s --nf-model-summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY
// RUN: nf-opt %s | nf-opt | FileCheck %s --check-prefix=ROUND
// RUN: not nf-opt %s --nf-derive-logdet 2>&1 | FileCheck %s --check-prefix=NOGRAD

// The double well u = y1^4 - 6 y1^2 - 0.5 y1 + 0.5 y2^2 on two slices.
func.func @double_well(%y: tensor<?x2xf64>) -> tensor<?xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2xf64>
  %y1 = tensor.extract_slice %y[0, 0] [%n, 1] [1, 1] : tensor<?x2xf64> to tensor<?xf64>
  %y2 = tensor.extract_slice %y[0, 1] [%n, 1] [1, 1] : tensor<?x2xf64> to tensor<?xf64>
  %init = tensor.empty(%n) : tensor<?xf64>
  %u = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                       iterator_types = ["parallel"]}
      ins(%y1, %y2 : tensor<?xf64>, tensor<?xf64>) outs(%init : tensor<?xf64>) {
  ^bb0(%p: f64, %q: f64, %out: f64):
    %six = arith.constant 6.0 : f64
    %half = arith.constant 0.5 : f64
    %p2 = arith.mulf %p, %p : f64
    %p4 = arith.mulf %p2, %p2 : f64
    %t1 = arith.mulf %six, %p2 : f64
    %t2 = arith.mulf %half, %p : f64
    %q2 = arith.mulf %q, %q : f64
    %t3 = arith.mulf %half, %q2 : f64
    %s1 = arith.subf %p4, %t1 : f64
    %s2 = arith.subf %s1, %t2 : f64
    %s3 = arith.addf %s2, %t3 : f64
    linalg.yield %s3 : f64
  } -> tensor<?xf64>
  return %u : tensor<?xf64>
}

// The gradient: the primal, then one adjoint generic per slice (4 y1^3 -
// 12 y1 - 0.5 and y2 times the seed of ones), inserted back into zeros and
// summed.
// GRAD-LABEL: func.func @double_well_grad(
// GRAD-SAME: %[[Y:.*]]: tensor<?x2xf64>) -> tensor<?x2xf64>
// GRAD-DAG: %[[Y1:.*]] = tensor.extract_slice %[[Y]][0, 0] [%{{.*}}, 1] [1, 1]
// GRAD-DAG: %[[Y2:.*]] = tensor.extract_slice %[[Y]][0, 1] [%{{.*}}, 1] [1, 1]
// GRAD-DAG: %[[ONES:.*]] = linalg.fill ins(%cst{{.*}} : f64)
// GRAD: linalg.generic {{.*}} ins(%[[Y1]], %[[Y2]], %{{.*}}, %[[ONES]] : {{.*}})
// GRAD: linalg.generic {{.*}} ins(%[[Y1]], %[[Y2]], %{{.*}}, %[[ONES]] : {{.*}})
// GRAD: tensor.insert_slice %{{.*}}[0, 1] [%{{.*}}, 1] [1, 1] : tensor<?xf64> into tensor<?x2xf64>
// GRAD: tensor.insert_slice %{{.*}}[0, 0] [%{{.*}}, 1] [1, 1] : tensor<?xf64> into tensor<?x2xf64>
// GRAD: %[[SUM:.*]] = linalg.generic
// GRAD: arith.addf
// GRAD: return %[[SUM]] : tensor<?x2xf64>
// The blocks now name it; the hand-written one is kept.
// GRAD: nf.langevin %{{.*}} energy @double_well {gradient = @double_well_grad, lambda = 5.000000e-01
// GRAD: nf.langevin %{{.*}} energy @double_well {gradient = @double_well_grad, step_size
// GRAD: nf.langevin %{{.*}} energy @double_well {gradient = @hand_grad, step_size

// An external hand-written gradient.
func.func private @hand_grad(%y: tensor<?x2xf64>) -> tensor<?x2xf64>

// SUMMARY: model @snf: tensor<?x2xf64> -> tensor<?x2xf64>, base #nf.std_normal, lower bound
// SUMMARY-NEXT: 0: nf.langevin  stochastic, bound
// SUMMARY-NEXT: 1: nf.metropolis  stochastic, bound

// ROUND: nf.langevin %{{.*}} energy @double_well {lambda = 5.000000e-01 : f64, step_size = 1.000000e-02 : f64, steps = 3 : i64} : tensor<?x2xf64>
// ROUND: nf.metropolis %{{.*}} energy @double_well {proposal_scale = 2.500000e-01 : f64, steps = 4 : i64} : tensor<?x2xf64>

// Forward: Langevin draws 2 x 3 steps x 2 uniforms, Metropolis 4 x (2 x 2
// + 1); the gradient is evaluated once before the steps and once per step.
// FWD-LABEL: func.func @snf_forward(
// FWD-SAME: %[[X:.*]]: tensor<?x2xf64>, %[[U:.*]]: tensor<?x32xf64>) -> (tensor<?x2xf64>, tensor<?xf64>)
// FWD: tensor.extract_slice %[[U]][0, 0] [%{{.*}}, 12] [1, 1]
// FWD: call @double_well_grad(%[[X]])
// FWD: %[[LANGEVIN:.*]]:3 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %[[X]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}})
// FWD: tensor.extract_slice %{{.*}}[0, %{{.*}}] [%{{.*}}, 2] [1, 1]
// FWD: call @double_well_grad(
// FWD: scf.yield
// FWD: tensor.extract_slice %[[U]][0, 12] [%{{.*}}, 20] [1, 1]
// FWD: call @double_well(%[[LANGEVIN]]#0)
// FWD: %[[MC:.*]]:2 = scf.for
// FWD: call @double_well(
// FWD: arith.cmpf olt
// FWD: scf.yield
// V of the Metropolis block: energy at the end minus at the start.
// FWD: linalg.generic {{.*}} ins(%[[MC]]#1, %{{.*}} : tensor<?xf64>, tensor<?xf64>)
// FWD: return %[[MC]]#0, %{{.*}} : tensor<?x2xf64>, tensor<?xf64>

// Inverse: the blocks in reverse order, each drawing its own noise.
// INV-LABEL: func.func @snf_inverse(
// INV-SAME: %[[Z:.*]]: tensor<?x2xf64>, %[[U:.*]]: tensor<?x32xf64>) -> tensor<?x2xf64>
// INV: tensor.extract_slice %[[U]][0, 0] [%{{.*}}, 20] [1, 1]
// INV: call @double_well(%[[Z]])
// INV: scf.for
// INV: tensor.extract_slice %[[U]][0, 20] [%{{.*}}, 12] [1, 1]
// INV: call @double_well_grad(
// INV: scf.for

// KERNEL-LABEL: func.func @nfk_snf_log_prob(
// KERNEL-SAME: %{{.*}}: memref<?x2xf64>, %{{.*}}: memref<?x32xf64>, %{{.*}}: memref<?xf64>)
// KERNEL-LABEL: func.func @nfk_snf_sample(
// KERNEL-SAME: %{{.*}}: memref<?x2xf64>, %{{.*}}: memref<?x32xf64>, %{{.*}}: memref<?x2xf64>)

// NOGRAD: error: 'nf.langevin' op has no energy gradient: give one as `gradient` or run nf-derive-energy-gradients first
nf.model @snf(%x: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.langevin %x energy @double_well {lambda = 0.5, step_size = 0.01, steps = 3 : i64} : tensor<?x2xf64>
  %1 = nf.metropolis %0 energy @double_well {proposal_scale = 0.25, steps = 4 : i64} : tensor<?x2xf64>
  nf.yield %1 : tensor<?x2xf64>
}

// Blocks share one derived gradient; a given gradient is kept.
nf.model @shared(%x: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.langevin %x energy @double_well {step_size = 0.01} : tensor<?x2xf64>
  %1 = nf.langevin %0 energy @double_well {step_size = 0.01, gradient = @hand_grad} : tensor<?x2xf64>
  nf.yield %1 : tensor<?x2xf64>
}
