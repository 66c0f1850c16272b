// A model with a generative surjection: its V is a bound, so the glue's
// log_prob is the IWAE estimate with the model's iwae_paths and seed 0, the
// layer noise is wired to the kernels that draw it (the normalizing ones
// here), and the header documents the dimensions.
// RUN: nf-compile %s --emit=glue -o - 2>&1 | FileCheck %s --check-prefix=GLUE
// RUN: nf-compile %s --emit=header -o - | FileCheck %s --check-prefix=HEADER

// HEADER: Model @deq: double data of 3 values, latent of 3, context of 0.
// HEADER: int nf_deq_log_prob_iwae(const double *x, int64_t n, int64_t k, uint64_t seed, const double *ctx, double *out);

// The kernels' CPU features, checked by the runtime before the first kernel.
// GLUE: static const char nf_cpu_features[] = "{{.*}}avx2{{.*}}";
// GLUE: void _mlir_ciface_nfk_deq_log_prob(nfrt_memref2 *, nfrt_memref2 *, nfrt_memref1 *);
// GLUE: _mlir_ciface_nfk_deq_log_prob(in, noise, out1);
// GLUE: void _mlir_ciface_nfk_deq_inverse(nfrt_memref2 *, nfrt_memref2 *);
// GLUE: static const nfrt_model deq_model = {3, 3, 0, 8, NFRT_NOISE_NORMAL, 3, 0, nf_cpu_features};
// GLUE: int nf_deq_log_prob(const double *x, int64_t n, const double *ctx, double *out_logp) {
// GLUE-NEXT: return nfrt_iwae(&deq_model, deq_log_prob, x, n, 8, 0, ctx, out_logp);
// GLUE: int nf_deq_elbo(
// GLUE-NEXT: return nfrt_iwae(&deq_model, deq_log_prob, x, n, 1, seed, ctx, out);

nf.model @deq(%x: tensor<?x3xf64>) base #nf.std_normal attributes {iwae_paths = 8} {
  %0 = nf.uniform_dequantize %x {levels = 4} : tensor<?x3xf64>
  nf.yield %0 : tensor<?x3xf64>
}
