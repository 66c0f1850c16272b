// nf-gpu-stage-constants: the constants kernels read get twins in shared
// memory, filled by the block's threads at each kernel's start before a
// barrier; reads go to the twin. Smallest first within the budget of every
// kernel that reaches a constant: with 64 bytes, @bias (8 B) and @perm
// (16 B) are staged, @weight (64 B) no longer fits and stays global.
// RUN: nf-opt %s --pass-pipeline="builtin.module(gpu.module(nf-gpu-stage-constants{shared-memory-bytes=64}))" | FileCheck %s
// RUN: nf-opt %s --pass-pipeline="builtin.module(gpu.module(nf-gpu-stage-constants{shared-memory-bytes=96}))" | FileCheck %s --check-prefix=ALL
// RUN: nf-opt %s --pass-pipeline="builtin.module(gpu.module(nf-gpu-stage-constants{shared-memory-bytes=0}))" | FileCheck %s --check-prefix=NONE

// CHECK-LABEL: gpu.module @nf_kernels
// CHECK-DAG: memref.global "private" @bias_shared : memref<2xf32, #gpu.address_space<workgroup>> {alignment = 16 : i64}
// CHECK-DAG: memref.global "private" @perm_shared : memref<2xindex, #gpu.address_space<workgroup>> {alignment = 16 : i64}
// CHECK-NOT: @weight_shared

// The shared row function reads the twins through a cast to its own type.
// CHECK-LABEL: func.func private @row(
// CHECK-DAG: %[[B:.*]] = memref.get_global @bias_shared
// CHECK-DAG: memref.memory_space_cast %[[B]] : memref<2xf32, #gpu.address_space<workgroup>> to memref<2xf32>
// CHECK-DAG: memref.get_global @weight : memref<4x4xf32>
// CHECK-DAG: memref.get_global @perm_shared

// Both kernels reach @row: each fills the twins, then waits.
// CHECK-LABEL: gpu.func @first(
// CHECK: %[[SRC:.*]] = memref.get_global @bias : memref<2xf32>
// CHECK: %[[DST:.*]] = memref.get_global @bias_shared
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[BDIM:.*]] = gpu.block_dim x
// CHECK: scf.for %[[I:.*]] = %[[TID]] to %{{.*}} step %[[BDIM]]
// CHECK: %[[V:.*]] = memref.load %[[SRC]][%[[I]]]
// CHECK: memref.store %[[V]], %[[DST]][%[[I]]]
// CHECK: memref.get_global @perm_shared
// CHECK: gpu.barrier
// CHECK: func.call @row
// CHECK-LABEL: gpu.func @second(
// CHECK: memref.get_global @bias_shared
// CHECK: gpu.barrier
// A kernel that reads no constant is left alone.
// CHECK-LABEL: gpu.func @noise(
// CHECK-NOT: gpu.barrier
// CHECK: gpu.return

// With 96 bytes all three fit; the 4x4 matrix is copied as 16 values.
// ALL: memref.global "private" @weight_shared : memref<4x4xf32, #gpu.address_space<workgroup>>
// ALL-LABEL: gpu.func @first(
// ALL: memref.collapse_shape %{{.*}} {{\[\[}}0, 1]] : memref<4x4xf32> into memref<16xf32>
// ALL: memref.collapse_shape %{{.*}} {{\[\[}}0, 1]] : memref<4x4xf32, #gpu.address_space<workgroup>> into memref<16xf32, #gpu.address_space<workgroup>>

// NONE-NOT: _shared
// NONE-NOT: gpu.barrier

module attributes {gpu.container_module} {
  gpu.module @nf_kernels {
    memref.global "private" constant @bias : memref<2xf32> = dense<[1.0, 2.0]>
    memref.global "private" constant @perm : memref<2xindex> = dense<[1, 0]>
    memref.global "private" constant @weight : memref<4x4xf32> = dense<0.5>
    func.func private @row(%x: memref<2xf32>, %out: memref<2xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %b = memref.get_global @bias : memref<2xf32>
      %w = memref.get_global @weight : memref<4x4xf32>
      %p = memref.get_global @perm : memref<2xindex>
      %j = memref.load %p[%c0] : memref<2xindex>
      %v = memref.load %x[%j] : memref<2xf32>
      %bv = memref.load %b[%c1] : memref<2xf32>
      %wv = memref.load %w[%c1, %c1] : memref<4x4xf32>
      %s = arith.addf %v, %bv : f32
      %t = arith.mulf %s, %wv : f32
      memref.store %t, %out[%c0] : memref<2xf32>
      return
    }
    gpu.func @first(%x: memref<2xf32>, %out: memref<2xf32>) kernel {
      func.call @row(%x, %out) : (memref<2xf32>, memref<2xf32>) -> ()
      gpu.return
    }
    gpu.func @second(%x: memref<2xf32>, %out: memref<2xf32>) kernel {
      func.call @row(%x, %out) : (memref<2xf32>, memref<2xf32>) -> ()
      gpu.return
    }
    gpu.func @noise(%out: memref<2xf32>) kernel {
      gpu.return
    }
  }
}
