// nf-gpu-map-rows: a kernel body becomes a grid function running one row
// per GPU thread through `<body>_row` (static shapes); host kernels go.
// Then the device part of nf-cuda-pipeline to the gpu.module.
// RUN: nf-opt %s --nf-gpu-map-rows --canonicalize | FileCheck %s --check-prefix=ROWS
// RUN: nf-opt %s --nf-gpu-map-rows --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --promote-buffers-to-stack --convert-linalg-to-loops --nf-approximate-math --nf-gpu-outline-kernels="chip=sm_90" | FileCheck %s --check-prefix=OUTLINE

// ROWS-NOT: func.func @nfk_m_forward
// ROWS-LABEL: func.func @nfk_m_normalize(
// ROWS-SAME: %[[X:.*]]: memref<?x4xf32>, %[[Z:.*]]: memref<?x4xf32>, %[[V:.*]]: memref<?xf32>) attributes {nf.gpu_kernel}
// ROWS: %[[N:.*]] = memref.dim %[[X]], %c0
// ROWS: %[[B:.*]] = gpu.block_id x
// ROWS: %[[D:.*]] = gpu.block_dim x
// ROWS: %[[BD:.*]] = arith.muli %[[B]], %[[D]]
// ROWS: %[[T:.*]] = gpu.thread_id x
// ROWS: %[[R:.*]] = arith.addi %[[BD]], %[[T]]
// ROWS: %[[IN:.*]] = arith.cmpi ult, %[[R]], %[[N]]
// ROWS: scf.if %[[IN]] {
// ROWS: %[[XR:.*]] = memref.subview %[[X]][%[[R]], 0] [1, 4] [1, 1]
// ROWS: %[[ZR:.*]] = memref.subview %[[Z]][%[[R]], 0] [1, 4] [1, 1]
// ROWS: %[[VR:.*]] = memref.subview %[[V]][%[[R]]] [1] [1]
// ROWS: func.call @nfk_m_normalize_row(%[[XR]], %[[ZR]], %[[VR]])
// ROWS-LABEL: func.func private @nfk_m_normalize_row(
// ROWS-SAME: memref<1x4xf32, strided<[4, 1], offset: ?>>
// ROWS-NOT: ?x
// ROWS: math.tanh %{{.*}} : f32
// ROWS: return
// The runtime's helpers for the bodies' element type: noise and IWAE steps.
// ROWS: func.func @nf_noise_normal_f32(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: memref<?x?xf32>) attributes {nf.gpu_kernel}
// ROWS: func.func @nf_noise_uniform_f32(
// ROWS: func.func @nf_iwae_step_f32(%{{.*}}: i64, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>) attributes {nf.gpu_kernel}
// ROWS: gpu.block_id x
// ROWS: math.exp
// ROWS: func.func @nf_iwae_finish_f32(
// ROWS: math.log

// OUTLINE: module attributes {gpu.container_module}
// OUTLINE: gpu.module @nf_kernels [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// OUTLINE: gpu.func @nfk_m_normalize(%{{.*}}: memref<?x4xf32>, %{{.*}}: memref<?x4xf32>, %{{.*}}: memref<?xf32>) kernel
// OUTLINE: gpu.thread_id x
// OUTLINE: func.call @nfk_m_normalize_row(
// OUTLINE: gpu.return
// Temporaries on the thread's stack, tanh as a polynomial.
// OUTLINE: func.func private @nfk_m_normalize_row(
// OUTLINE-NOT: math.tanh
// OUTLINE-NOT: memref.alloc(
// OUTLINE: memref.alloca()
// OUTLINE-NOT: math.tanh
// OUTLINE-NOT: memref.alloc(
// OUTLINE: return

#map = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
func.func private @nfk_m_normalize(%x: memref<?x4xf32>, %z: memref<?x4xf32>, %v: memref<?xf32>) attributes {nf.kernel_body} {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = bufferization.to_tensor %x restrict : memref<?x4xf32> to tensor<?x4xf32>
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %y = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel"]} ins(%t : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = math.tanh %in : f32
    linalg.yield %s : f32
  } -> tensor<?x4xf32>
  %re = tensor.empty(%n) : tensor<?xf32>
  %r0 = linalg.fill ins(%zero : f32) outs(%re : tensor<?xf32>) -> tensor<?xf32>
  %s = linalg.generic {indexing_maps = [#map, #rows], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<?x4xf32>) outs(%r0 : tensor<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %a = arith.addf %in, %acc : f32
    linalg.yield %a : f32
  } -> tensor<?xf32>
  bufferization.materialize_in_destination %y in restrict writable %z : (tensor<?x4xf32>, memref<?x4xf32>) -> ()
  bufferization.materialize_in_destination %s in restrict writable %v : (tensor<?xf32>, memref<?xf32>) -> ()
  return
}
// The host kernel: on the GPU the runtime launches the body itself.
func.func @nfk_m_forward(%x: memref<?x4xf32>, %z: memref<?x4xf32>) attributes {llvm.emit_c_interface} {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %v = memref.alloc(%n) : memref<?xf32>
  call @nfk_m_normalize(%x, %z, %v) {no_inline} : (memref<?x4xf32>, memref<?x4xf32>, memref<?xf32>) -> ()
  return
}
