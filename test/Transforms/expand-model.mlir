// RUN: nf-opt %s --nf-expand-model | FileCheck %s

func.func private @net(%xa: tensor<?x1xf32>, %c: tensor<?x2xf32>) -> tensor<?x2xf32>

// Two private bodies compute every output of their direction; the five
// kernels (the memref destination-passing ABI) call them with scratch rows
// for the outputs they do not return. The model is erased and its
// conditioner kept.
// CHECK-NOT: nf.model
// CHECK-LABEL: func.func private @net
// CHECK-LABEL: func.func private @nfk_m_normalize(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x2xf32>, %[[C:[^:]*]]: memref<?x2xf32>, %[[Z:[^:]*]]: memref<?x2xf32>, %[[V:[^:]*]]: memref<?xf32>, %[[LP:[^:]*]]: memref<?xf32>) attributes {nf.kernel_body}
// CHECK: bufferization.to_tensor %[[X]] restrict : memref<?x2xf32> to tensor<?x2xf32>
// CHECK: bufferization.to_tensor %[[C]] restrict
// CHECK: call @net
// CHECK: bufferization.materialize_in_destination %{{.*}} in restrict writable %[[Z]] : (tensor<?x2xf32>, memref<?x2xf32>) -> ()
// CHECK: bufferization.materialize_in_destination %{{.*}} in restrict writable %[[V]] : (tensor<?xf32>, memref<?xf32>) -> ()
// log p_Z of the standard normal: -1/2 sum z^2 - log(2 pi) for D = 2.
// CHECK: arith.constant -1.8378770{{[0-9]*}} : f32
// CHECK: bufferization.materialize_in_destination %{{.*}} in restrict writable %[[LP]] : (tensor<?xf32>, memref<?xf32>) -> ()
// The generative body inverts the coupling.
// CHECK-LABEL: func.func private @nfk_m_generate(
// CHECK-SAME: memref<?x2xf32>, %{{[^:]*}}: memref<?x2xf32>, %{{[^:]*}}: memref<?x2xf32>, %{{[^:]*}}: memref<?xf32>) attributes {nf.kernel_body}
// CHECK: math.exp
// CHECK: arith.divf
// CHECK-LABEL: func.func private @nfk_m_base_from_noise(
// CHECK-LABEL: func.func @nfk_m_log_prob(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x2xf32>, %[[C:[^:]*]]: memref<?x2xf32>, %[[OUT:[^:]*]]: memref<?xf32>) attributes {llvm.emit_c_interface}
// CHECK: %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[ZS:.*]] = memref.alloc(%[[N]]) : memref<?x2xf32>
// CHECK: %[[VS:.*]] = memref.alloc(%[[N]]) : memref<?xf32>
// CHECK: call @nfk_m_normalize(%[[X]], %[[C]], %[[ZS]], %[[VS]], %[[OUT]]) {no_inline}
// CHECK-LABEL: func.func @nfk_m_forward(
// CHECK-SAME: %[[X:[^:]*]]: memref<?x2xf32>, %[[C:[^:]*]]: memref<?x2xf32>, %[[Z:[^:]*]]: memref<?x2xf32>, %[[V:[^:]*]]: memref<?xf32>)
// CHECK: %[[LPS:.*]] = memref.alloc
// CHECK: call @nfk_m_normalize(%[[X]], %[[C]], %[[Z]], %[[V]], %[[LPS]]) {no_inline}
// CHECK-LABEL: func.func @nfk_m_inverse(
// CHECK: call @nfk_m_generate(
// CHECK-LABEL: func.func @nfk_m_sample(
// CHECK-SAME: %[[U:[^:]*]]: memref<?x2xf32>, %[[C:[^:]*]]: memref<?x2xf32>, %[[XOUT:[^:]*]]: memref<?x2xf32>)
// CHECK: %[[LATENT:.*]] = memref.alloc
// CHECK: call @nfk_m_base_from_noise(%[[U]], %[[LATENT]]) {no_inline}
// CHECK: %[[LPS:.*]] = memref.alloc
// CHECK: call @nfk_m_generate(%[[LATENT]], %[[C]], %[[XOUT]], %[[LPS]]) {no_inline}
// CHECK-LABEL: func.func @nfk_m_sample_with_log_prob(
// CHECK-SAME: %{{[^:]*}}: memref<?x2xf32>, %{{[^:]*}}: memref<?x2xf32>, %{{[^:]*}}: memref<?x2xf32>, %{{[^:]*}}: memref<?xf32>)
nf.model @m(%x: tensor<?x2xf32>, %c: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.affine_coupling %x identity [0] conditioner @net context %c : tensor<?x2xf32> : tensor<?x2xf32>
  nf.yield %0 : tensor<?x2xf32>
}

// A diagonal-normal base turns the noise into z = mean + exp(log_std) * eps
// before the inverse.
// CHECK-LABEL: func.func private @nfk_d_base_from_noise(
// CHECK-SAME: %[[EPS:[^:]*]]: memref<?x3xf64>, %[[ZOUT:[^:]*]]: memref<?x3xf64>)
// CHECK: %[[E:.*]] = bufferization.to_tensor %[[EPS]]
// CHECK: linalg.generic {{.*}} ins(%[[E]], %{{.*}}, %{{.*}} : tensor<?x3xf64>, tensor<3xf64>, tensor<3xf64>)
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: bufferization.materialize_in_destination %{{.*}} in restrict writable %[[ZOUT]]
nf.model @d(%x: tensor<?x3xf64>)
    base #nf.diag_normal<mean = dense<[1.0, 2.0, 3.0]> : tensor<3xf64>, log_std = dense<0.5> : tensor<3xf64>> {
  %0 = nf.reverse %x : tensor<?x3xf64>
  nf.yield %0 : tensor<?x3xf64>
}
