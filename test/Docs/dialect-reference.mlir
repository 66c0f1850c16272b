// The dialect reference in docs/Dialects is generated from ODS; this fails
// when the committed copy is stale. Refresh it with `ninja -C build nf-update-docs`.
// RUN: diff %nf_obj_root/docs/Dialects/NFDialect.md %nf_src_root/docs/Dialects/NFDialect.md
// RUN: diff %nf_obj_root/docs/Dialects/NFInterfaces.md %nf_src_root/docs/Dialects/NFInterfaces.md
// RUN: diff %nf_obj_root/docs/Dialects/NFPasses.md %nf_src_root/docs/Dialects/NFPasses.md
// RUN: diff %nf_obj_root/docs/Dialects/NFConversionPasses.md %nf_src_root/docs/Dialects/NFConversionPasses.md
