// The example flows parse, verify and round-trip (custom, generic, bytecode).
// RUN: nf-opt %nf_src_root/examples/realnvp2d.mlir > %t.custom
// RUN: nf-opt %t.custom | diff %t.custom -
// RUN: nf-opt %nf_src_root/examples/realnvp2d.mlir --mlir-print-op-generic | nf-opt | diff %t.custom -
// RUN: nf-opt %nf_src_root/examples/realnvp2d.mlir -emit-bytecode | nf-opt | diff %t.custom -
// RUN: FileCheck %s < %t.custom
// CHECK: nf.model @realnvp2d
// CHECK-COUNT-2: nf.affine_coupling

// Every generated example round-trips too, and its model summary names its
// layer families.
// RUN: for f in conditional_realnvp glow_tiny maf nsf_coupling planar_radial iresnet user_elementwise abs_flow multiscale vae_flow_prior dequantized_augmented; do \
// RUN:   nf-opt %nf_src_root/examples/$f.mlir > %t.$f && nf-opt %t.$f | diff %t.$f - && \
// RUN:   nf-opt %nf_src_root/examples/$f.mlir --mlir-print-op-generic | nf-opt | diff %t.$f - ; done
// RUN: nf-opt %nf_src_root/examples/glow_tiny.mlir --nf-model-summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=GLOW
// RUN: nf-opt %nf_src_root/examples/maf.mlir --nf-model-summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=MAF
// RUN: nf-opt %nf_src_root/examples/nsf_coupling.mlir --nf-model-summary -o /dev/null 2>&1 | FileCheck %s --check-prefix=NSF
// GLOW: nf.linear
// GLOW: nf.affine_coupling
// GLOW: nf.lu_linear
// GLOW: nf.affine_coupling
// MAF-COUNT-3: nf.affine_autoregressive
// NSF: nf.rq_spline_coupling
// NSF: nf.lu_linear
