// nf-export: a model (examples/realnvp2d.mlir) as public functions on
// tensors in upstream dialects only, defining the entries a caller in the
// same module declared; upstream mlir-opt lowers the result with its own
// pipeline and mlir-runner executes it. The printed values are the
// compiled library's (nf-compile, Python: log_prob [-1.9521861, -3.64677,
// -14.864323], inverse [[-0.8890706, -0.08084743], [-1.1750454,
// 0.46471563], [5.8692627, -0.2783356]]), to the printed digits.
// RUN: nf-opt %s --nf-export -o %t.mlir
// RUN: FileCheck %s --input-file=%t.mlir
// RUN: mlir-opt %t.mlir --one-shot-bufferize="bufferize-function-boundaries" --buffer-deallocation-pipeline --convert-bufferization-to-memref --test-lower-to-llvm -o %t.llvm.mlir
// RUN: mlir-runner %t.llvm.mlir -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s --check-prefix=EXEC
// RUN: not nf-opt %S/Inputs/no-models.mlir --nf-export-functions 2>&1 | FileCheck %s --check-prefix=NOKERNELS
// RUN: not nf-opt %S/Inputs/export-clash.mlir --nf-export 2>&1 | FileCheck %s --check-prefix=CLASH

// CHECK-NOT: nf.
// CHECK-NOT: bufferization.
// CHECK-NOT: memref.
// CHECK-LABEL: func.func @main()
// CHECK-LABEL: func.func @realnvp2d_log_prob(%{{.*}}: tensor<?x2xf32>) -> tensor<?xf32>
// CHECK: linalg.
// CHECK: return
// CHECK-LABEL: func.func @realnvp2d_forward(%{{.*}}: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?xf32>)
// CHECK-LABEL: func.func @realnvp2d_inverse(%{{.*}}: tensor<?x2xf32>) -> tensor<?x2xf32>
// CHECK-LABEL: func.func @realnvp2d_sample_from_noise(%{{.*}}: tensor<?x2xf32>) -> tensor<?x2xf32>
// CHECK-LABEL: func.func @realnvp2d_sample_with_log_prob_from_noise(%{{.*}}: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?xf32>)
// CHECK-NOT: nf.
// CHECK-NOT: bufferization.
// CHECK-NOT: memref.

// EXEC-LABEL: Unranked Memref {{.*}} rank = 1 offset = 0 sizes = [3] strides = [1]
// EXEC-NEXT: [-1.9521{{[0-9]*}}, -3.6467{{[0-9]*}}, -14.8643{{[0-9]*}}]
// EXEC-LABEL: Unranked Memref {{.*}} rank = 2 offset = 0 sizes = [3, 2] strides = [2, 1]
// EXEC-NEXT: {{\[}}[-0.8890{{[0-9]*}}, -0.0808{{[0-9]*}}],
// EXEC-NEXT: [-1.1750{{[0-9]*}}, 0.4647{{[0-9]*}}],
// EXEC-NEXT: [5.8692{{[0-9]*}}, -0.2783{{[0-9]*}}]]

// NOKERNELS: error: nf-export-functions: no kernel bodies; run nf-expand-model and convert-nf-to-linalg first (the nf-export pipeline)
// CLASH: error: 'func.func' op is the name of an exported entry of model @m; only a declaration of type '(tensor<?x2xf32>) -> tensor<?xf32>' may have it
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

// A caller: declarations of the entries it uses, which nf-export defines.
func.func private @realnvp2d_log_prob(tensor<?x2xf32>) -> tensor<?xf32>
func.func private @realnvp2d_inverse(tensor<?x2xf32>) -> tensor<?x2xf32>
func.func private @printMemrefF32(memref<*xf32>)

func.func @main() {
  %x = arith.constant dense<[[0.0, 0.0], [1.0, -0.5], [-2.0, 3.0]]> : tensor<3x2xf32>
  %rows = tensor.cast %x : tensor<3x2xf32> to tensor<?x2xf32>
  %logp = call @realnvp2d_log_prob(%rows) : (tensor<?x2xf32>) -> tensor<?xf32>
  %logp_buffer = bufferization.to_buffer %logp : tensor<?xf32> to memref<?xf32>
  %logp_unranked = memref.cast %logp_buffer : memref<?xf32> to memref<*xf32>
  call @printMemrefF32(%logp_unranked) : (memref<*xf32>) -> ()
  %inv = call @realnvp2d_inverse(%rows) : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %inv_buffer = bufferization.to_buffer %inv : tensor<?x2xf32> to memref<?x2xf32>
  %inv_unranked = memref.cast %inv_buffer : memref<?x2xf32> to memref<*xf32>
  call @printMemrefF32(%inv_unranked) : (memref<*xf32>) -> ()
  return
}
