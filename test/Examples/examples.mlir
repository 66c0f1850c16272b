// The example flows parse, verify and round-trip (custom, generic, bytecode).
// RUN: nf-opt %nf_src_root/examples/realnvp2d.mlir > %t.custom
// RUN: nf-opt %t.custom | diff %t.custom -
// RUN: nf-opt %nf_src_root/examples/realnvp2d.mlir --mlir-print-op-generic | nf-opt | diff %t.custom -
// RUN: nf-opt %nf_src_root/examples/realnvp2d.mlir -emit-bytecode | nf-opt | diff %t.custom -
// RUN: FileCheck %s < %t.custom
// CHECK: nf.model @realnvp2d
// CHECK-COUNT-2: nf.affine_coupling
