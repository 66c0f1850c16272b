// Inference surjections: deterministic normalizing maps with exact V, and
// generative maps that draw uniform layer noise, passed to the derived
// inverse as a trailing tensor<?xNxT> argument (N = the layers' total, in
// layer order), unless the op is given its noise as an operand.
// RUN: nf-opt %s --nf-derive-logdet -canonicalize -cse | FileCheck %s --check-prefix=FWD
// RUN: nf-opt %s --nf-derive-inverse -canonicalize -cse | FileCheck %s --check-prefix=INV
// RUN: nf-opt %s --nf-model-summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=SUMMARY
// RUN: nf-opt %s | nf-opt | FileCheck %s --check-prefix=ROUND
// RUN: nf-opt %s --nf-expand-model | FileCheck %s --check-prefix=KERNEL

func.func private @dec(%z: tensor<?x1xf64>) -> tensor<?x4xf64>

// ROUND: nf.abs %{{.*}} logits %{{.*}} : tensor<3xf64> : tensor<?x3xf64>
// ROUND: nf.sort %{{.*}} : tensor<?x3xf64>
// ROUND: nf.slice %{{.*}} decoder @dec : tensor<?x3xf64> -> tensor<?x1xf64>
// SUMMARY: model @surjective: tensor<?x3xf64> -> tensor<?x1xf64>, base #nf.std_normal, exact
// SUMMARY-NEXT: 0: nf.abs  inference_surjection, exact
// SUMMARY-NEXT: 1: nf.sort  inference_surjection, exact
// SUMMARY-NEXT: 2: nf.slice  inference_surjection, exact

// The normalizing map needs no noise: |x|, the sort (ranks, then a scatter
// by rank), the slice; V = -3 log 2 ... per call plus the decoder's
// log-density per sample.
// FWD-LABEL: func.func @surjective_forward(
// FWD-SAME: %{{.*}}: tensor<?x3xf64>) -> (tensor<?x1xf64>, tensor<?xf64>)
// FWD: math.absf
// FWD: iterator_types = ["parallel", "parallel", "reduction"]
// FWD: arith.cmpf olt
// FWD: call @dec
// FWD: return

// The generative map draws 3 (signs) + 3 (order) + 2 x 2 (Box-Muller for
// the 2 dropped values) = 10 uniforms per sample, in the order the
// direction applies the layers: the slice's 4 first, then the sort's 3, then
// the abs's 3.
// INV-LABEL: func.func @surjective_inverse(
// INV-SAME: %[[Z:.*]]: tensor<?x1xf64>, %[[U:.*]]: tensor<?x10xf64>) -> tensor<?x3xf64>
// INV: tensor.extract_slice %[[U]][0, 0] [%{{.*}}, 4] [1, 1]
// INV: math.cos
// INV: call @dec(%[[Z]])
// INV: tensor.concat
// INV: tensor.extract_slice %[[U]][0, 4] [%{{.*}}, 3] [1, 1]
// INV: tensor.extract_slice %[[U]][0, 7] [%{{.*}}, 3] [1, 1]
// INV: return
nf.model @surjective(%x: tensor<?x3xf64>) base #nf.std_normal {
  %l = arith.constant dense<[0.5, -1.0, 0.0]> : tensor<3xf64>
  %0 = nf.abs %x logits %l : tensor<3xf64> : tensor<?x3xf64>
  %1 = nf.sort %0 : tensor<?x3xf64>
  %2 = nf.slice %1 decoder @dec : tensor<?x3xf64> -> tensor<?x1xf64>
  nf.yield %2 : tensor<?x1xf64>
}

// With explicit noise operands the layers draw nothing: no noise argument.
// INV-LABEL: func.func @fixed_noise_inverse(
// INV-SAME: %{{.*}}: tensor<?x2xf64>) -> tensor<?x2xf64>
nf.model @fixed_noise(%x: tensor<?x2xf64>) base #nf.std_normal {
  %u = arith.constant dense<[[0.2, 0.9]]> : tensor<1x2xf64>
  %n = tensor.cast %u : tensor<1x2xf64> to tensor<?x2xf64>
  %0 = nf.abs %x noise %n : tensor<?x2xf64> : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// The kernels of the generative direction take the layer noise after the
// input; the normalizing ones do not.
// KERNEL-LABEL: func.func @nfk_surjective_log_prob(
// KERNEL-SAME: %{{.*}}: memref<?x3xf64>, %{{.*}}: memref<?xf64>)
// KERNEL-LABEL: func.func @nfk_surjective_inverse(
// KERNEL-SAME: %{{.*}}: memref<?x1xf64>, %{{.*}}: memref<?x10xf64>, %{{.*}}: memref<?x3xf64>)
// KERNEL-LABEL: func.func @nfk_surjective_sample(
// KERNEL-SAME: %{{.*}}: memref<?x1xf64>, %{{.*}}: memref<?x10xf64>, %{{.*}}: memref<?x3xf64>)

// Stochastic layers draw in both directions: the VAE layer 2 x 2 uniforms
// for z going forward, 2 x 3 for x going back; the random permutation one
// per feature each way.
// ROUND: nf.vae %{{.*}} encoder @enc decoder @vdec : tensor<?x3xf64> -> tensor<?x2xf64>
// ROUND: nf.random_permutation %{{.*}} : tensor<?x2xf64>
// SUMMARY: model @stochastic: tensor<?x3xf64> -> tensor<?x2xf64>, base #nf.std_normal, lower bound
// SUMMARY-NEXT: 0: nf.vae  stochastic, bound
// SUMMARY-NEXT: 1: nf.random_permutation  stochastic, bound
// FWD-LABEL: func.func @stochastic_forward(
// FWD-SAME: %{{.*}}: tensor<?x3xf64>, %{{.*}}: tensor<?x6xf64>) -> (tensor<?x2xf64>, tensor<?xf64>)
// FWD: math.cos
// FWD: call @enc
// FWD: call @vdec
// FWD: arith.negf
// INV-LABEL: func.func @stochastic_inverse(
// INV-SAME: %{{.*}}: tensor<?x2xf64>, %{{.*}}: tensor<?x8xf64>) -> tensor<?x3xf64>
// INV: call @vdec
// INV-NOT: call @enc
// INV: return
func.func private @enc(%x: tensor<?x3xf64>) -> tensor<?x4xf64>
func.func private @vdec(%z: tensor<?x2xf64>) -> tensor<?x6xf64>
nf.model @stochastic(%x: tensor<?x3xf64>) base #nf.std_normal {
  %0 = nf.vae %x encoder @enc decoder @vdec : tensor<?x3xf64> -> tensor<?x2xf64>
  %1 = nf.random_permutation %0 : tensor<?x2xf64>
  nf.yield %1 : tensor<?x2xf64>
}

// Max-pooling: the four window positions are stride-2 slices; the gaps are
// interleaved to 3C channels for V, and sampling writes the windows back.
// FWD-LABEL: func.func @pool_forward(
// FWD-COUNT-4: tensor.extract_slice %{{.*}} [1, 1, 2, 2] : tensor<?x1x4x4xf64> to tensor<?x1x2x2xf64>
// FWD: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] : tensor<?x1x3x2x2xf64> into tensor<?x3x2x2xf64>
// INV-LABEL: func.func @pool_inverse(
// INV-SAME: %{{.*}}: tensor<?x1x2x2xf64>, %{{.*}}: tensor<?x28xf64>) -> tensor<?x1x4x4xf64>
// INV-COUNT-4: tensor.insert_slice %{{.*}} [1, 1, 2, 2] : tensor<?x1x2x2xf64> into tensor<?x1x4x4xf64>
nf.model @pool(%x: tensor<?x1x4x4xf64>) base #nf.std_normal {
  %0 = nf.max_pool %x : tensor<?x1x4x4xf64> -> tensor<?x1x2x2xf64>
  nf.yield %0 : tensor<?x1x2x2xf64>
}

// Sorting points by a key: the ranks of the key column order whole points
// (loops b, i, j, k with j summed).
// FWD-LABEL: func.func @points_forward(
// FWD: %[[KEYS:.*]] = tensor.extract_slice %{{.*}}[0, 0, 1] [%{{.*}}, 5, 1] [1, 1, 1] : tensor<?x5x2xf64> to tensor<?x5xf64>
// FWD: %[[RANKS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[KEYS]], %[[KEYS]] :
// FWD: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%{{.*}}, %[[RANKS]] : tensor<?x5x2xf64>, tensor<?x5xf64>)
nf.model @points(%x: tensor<?x5x2xf64>) base #nf.std_normal {
  %0 = nf.sort %x {key = 1 : i64} : tensor<?x5x2xf64>
  nf.yield %0 : tensor<?x5x2xf64>
}
