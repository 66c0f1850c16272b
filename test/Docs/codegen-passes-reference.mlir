// The codegen passes' reference in docs/Dialects is generated from ODS; this
// fails when the committed copy is stale (`ninja -C build nf-update-docs`).
// RUN: diff %nf_obj_root/docs/Dialects/NFCodegenCommonPasses.md %nf_src_root/docs/Dialects/NFCodegenCommonPasses.md
// RUN: diff %nf_obj_root/docs/Dialects/NFCodegenCPUPasses.md %nf_src_root/docs/Dialects/NFCodegenCPUPasses.md
// RUN: diff %nf_obj_root/docs/Dialects/NFCodegenGPUPasses.md %nf_src_root/docs/Dialects/NFCodegenGPUPasses.md
