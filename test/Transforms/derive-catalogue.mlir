// The IR nf-derive-logdet and nf-derive-inverse build for splines,
// autoregressive layers, LU linear, planar and residual flows.
// RUN: nf-opt %s --nf-derive-logdet -canonicalize -cse | FileCheck %s --check-prefix=FWD
// RUN: nf-opt %s --nf-derive-inverse -canonicalize -cse | FileCheck %s --check-prefix=INV
// RUN: nf-opt %s --nf-model-summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY

func.func private @made(%x: tensor<?x3xf64>) -> tensor<?x6xf64>
func.func private @spline_net(%xa: tensor<?x1xf64>) -> tensor<?x10xf64>

// MAF: the density direction is one conditioner pass; nflows' interleaved
// layout puts feature i's unconstrained scale at 2i and its shift at 2i + 1.
// FWD-LABEL: func.func @maf_forward(
// FWD-SAME: %[[X:.*]]: tensor<?x3xf64>) -> (tensor<?x3xf64>, tensor<?xf64>)
// FWD-NOT: scf.for
// FWD: %[[H:.*]] = call @made(%[[X]])
// FWD-DAG: tensor.extract_slice %[[H]][0, 0] [%{{.*}}, 3] [1, 2]
// FWD-DAG: tensor.extract_slice %[[H]][0, 1] [%{{.*}}, 3] [1, 2]
// FWD-NOT: call @made
// FWD: return
// The sampling direction: D - 1 = 2 passes in a loop from x = 0, then the
// last pass, which also gives V.
// INV-LABEL: func.func @maf_inverse(
// INV: linalg.fill
// INV: scf.for %{{.*}} = %{{.*}} to %c2
// INV: func.call @made
// INV: arith.subf
// INV-NEXT: arith.divf
// INV: scf.yield
// INV: call @made
// INV-NOT: call @made
// INV: return
nf.model @maf(%x: tensor<?x3xf64>) base #nf.std_normal {
  %0 = nf.affine_autoregressive %x conditioner @made : tensor<?x3xf64>
  nf.yield %0 : tensor<?x3xf64>
}

// IAF swaps the directions and negates V.
// FWD-LABEL: func.func @iaf_forward(
// FWD: scf.for
// FWD: func.call @made
// FWD: scf.yield
// FWD: call @made
// FWD: math.log
// FWD: arith.negf
// FWD: return
// INV-LABEL: func.func @iaf_inverse(
// INV-NOT: scf.for
// INV: call @made
// INV-NOT: call @made
// INV: return
nf.model @iaf(%x: tensor<?x3xf64>) base #nf.std_normal {
  %0 = nf.affine_autoregressive %x conditioner @made inverted : tensor<?x3xf64>
  nf.yield %0 : tensor<?x3xf64>
}

// A spline coupling with 2 bins: 5 raw values per transformed feature, read
// with stride 5 (one contiguous run per feature, nflows' layout). The bin is
// selected branch free; the inverse picks the root formula by the sign of b.
// FWD-LABEL: func.func @nsf_forward(
// FWD: call @spline_net
// FWD-COUNT-5: tensor.extract_slice %{{.*}}[0, {{[0-4]}}] [%{{.*}}, 2] [1, 5]
// FWD: linalg.generic
// FWD: math.exp
// FWD: arith.cmpf oge
// FWD: arith.select
// FWD-NOT: scf.if
// FWD: math.log
// FWD: return
// INV-LABEL: func.func @nsf_inverse(
// INV: call @spline_net
// INV: linalg.generic
// INV: math.sqrt
// INV: arith.cmpf oge
// INV: arith.select
// INV-NOT: scf.if
// INV: return
nf.model @nsf(%x: tensor<?x3xf64>) base #nf.std_normal {
  %0 = nf.rq_spline_coupling %x identity [1] conditioner @spline_net {bins = 2} : tensor<?x3xf64>
  nf.yield %0 : tensor<?x3xf64>
}

// LU linear: W = L U is formed once per call and V = sum log|s| is a
// per-call reduction over the 3 diagonal entries; the inverse is two
// substitution loops over the features.
// FWD-LABEL: func.func @lu_forward(
// FWD: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<3x3xf64>, tensor<3x3xf64>)
// FWD: math.log
// FWD: linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%{{.*}} : tensor<3xf64>) outs(%{{.*}} : tensor<f64>)
// INV-LABEL: func.func @lu_inverse(
// INV-NOT: linalg.matmul
// INV: scf.for %{{.*}} = %c0 to %c3
// INV: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// INV: tensor.insert_slice
// INV: scf.for %{{.*}} = %c0 to %c3
// INV: arith.divf
// INV: tensor.insert_slice
nf.model @lu(%x: tensor<?x3xf64>) base #nf.std_normal {
  %m = arith.constant dense<0.5> : tensor<3x3xf64>
  %s = arith.constant dense<2.0> : tensor<3xf64>
  %0 = nf.lu_linear %x lower %m upper %m diag %s bias %s : tensor<?x3xf64>, tensor<3x3xf64>, tensor<3xf64>
  nf.yield %0 : tensor<?x3xf64>
}

// Planar: the inverse solves one scalar equation per sample, bracketing
// (64 steps) then Newton/bisection (120 steps).
// INV-LABEL: func.func @planar_inverse(
// INV: linalg.generic {{.*}} iterator_types = ["parallel"]
// INV: scf.for %{{.*}} = %c0 to %c64
// INV: math.tanh
// INV: scf.for %{{.*}} = %c0 to %c120
// INV: arith.divf
nf.model @planar(%x: tensor<?x3xf64>) base #nf.std_normal {
  %u = arith.constant dense<0.5> : tensor<3xf64>
  %b = arith.constant dense<0.1> : tensor<f64>
  %0 = nf.planar %x u %u w %u bias %b : tensor<?x3xf64>, tensor<3xf64>, tensor<f64>
  nf.yield %0 : tensor<?x3xf64>
}

// i-ResNet, exact V: the per-sample Jacobian (tensor<?x2x2xf64>) and a
// Gaussian elimination loop accumulating log|pivot|; series V: a loop over
// the probes (rows of a 2 x 2 constant), and in it a loop over the terms
// k = 1, 2 of Jacobian-vector products (matmuls), no elimination.
// FWD-LABEL: func.func @residual_forward(
// FWD: scf.for {{.*}} -> (tensor<?x2x2xf64>, tensor<?xf64>)
// FWD: math.log
// FWD: scf.yield
// FWD: scf.for %{{.*}} = %c0 to %c2 {{.*}} -> (tensor<?xf64>)
// FWD: tensor.extract_slice %{{.*}}[%{{.*}}, 0] [1, 2] [1, 1] : tensor<2x2xf64> to tensor<2xf64>
// FWD: scf.for %{{.*}} = %c1 to %c3 {{.*}} -> (tensor<?x2xf64>, tensor<?xf64>)
// FWD-NOT: tensor<?x2x2xf64>
// FWD: linalg.matmul
// FWD: arith.sitofp
// FWD: return
// The inverse: fixed-point iterations while some sample still moves; each
// sample's change is its own, and a settled sample keeps its value.
// INV-LABEL: func.func @residual_inverse(
// INV: scf.while
// INV: iterator_types = ["reduction"]
// INV: arith.maximumf
// INV: arith.cmpf ogt
// INV: arith.cmpi ult
// INV: scf.condition
// INV: linalg.matmul
// INV: iterator_types = ["parallel", "reduction"]
// INV: arith.maximumf
// INV: arith.cmpf ogt
// INV-NEXT: arith.select
// INV: scf.while
nf.model @residual(%x: tensor<?x2xf64>) base #nf.std_normal {
  %w = arith.constant dense<0.2> : tensor<2x2xf64>
  %b = arith.constant dense<0.0> : tensor<2xf64>
  %0 = nf.iresnet %x (%w, %b, %w, %b : tensor<2x2xf64>, tensor<2xf64>, tensor<2x2xf64>, tensor<2xf64>) activation elu : tensor<?x2xf64>
  %1 = nf.iresnet %0 (%w, %b, %w, %b : tensor<2x2xf64>, tensor<2xf64>, tensor<2x2xf64>, tensor<2xf64>) activation elu {logdet = "series", terms = 2, probes = 2} : tensor<?x2xf64>
  nf.yield %1 : tensor<?x2xf64>
}

// SUMMARY: model @maf: {{.*}}, exact
// SUMMARY: model @residual: {{.*}}, estimate
// SUMMARY-NEXT: 0: nf.iresnet  bijection, exact
// SUMMARY-NEXT: 1: nf.iresnet  bijection, estimate
