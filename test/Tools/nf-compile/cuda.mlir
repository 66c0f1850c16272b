// nf-compile --target=cuda: the device code as PTX for sm_90 with
// polynomial math (no libdevice call), the header's device entries, and
// errors for target mistakes.
// RUN: nf-compile %s --target=cuda --emit=ptx -o - | FileCheck %s --check-prefix=PTX
// RUN: nf-compile %s --target=cuda --gpu-arch=sm_80 --emit=ptx -o - | FileCheck %s --check-prefix=ARCH
// RUN: nf-compile %s --target=cuda --emit=header -o - | FileCheck %s --check-prefix=CUDA
// RUN: nf-compile %s --target=cuda,cpu --emit=header -o - | FileCheck %s --check-prefix=BOTH
// RUN: nf-compile %s --emit=header -o - | FileCheck %s --check-prefix=CPU
// RUN: nf-compile %s --target=cuda --emit=glue -o - | FileCheck %s --check-prefix=GLUE
// RUN: rm -rf %t.dir && mkdir %t.dir && nf-compile %s --target=cuda -o %t.dir/libflow.so
// RUN: llvm-nm -D --defined-only %t.dir/libflow.so | FileCheck %s --check-prefix=SO
// RUN: not nf-compile %s --target=tpu -o %t.so 2>&1 | FileCheck %s --check-prefix=BADTARGET
// RUN: not nf-compile %s --emit=ptx -o %t.ptx 2>&1 | FileCheck %s --check-prefix=NOCUDA
// RUN: not nf-compile %s --target=cuda --emit=obj -o %t.o 2>&1 | FileCheck %s --check-prefix=NOCPU
// RUN: nf-compile %s --target=cuda --gpu-shared-memory=0 --emit=ptx -o - | FileCheck %s --check-prefix=NOSHARED
// RUN: not nf-compile %s --target=cuda --gpu-shared-memory=65536 --emit=ptx -o %t.ptx 2>&1 | FileCheck %s --check-prefix=BIGSHARED

// One kernel per direction body, one row per thread.
// PTX: .target sm_90
// PTX-NOT: .extern
// PTX-DAG: .visible .entry nfk_flow_normalize(
// PTX-DAG: .visible .entry nfk_flow_generate(
// PTX-DAG: .visible .entry nfk_flow_base_from_noise(
// PTX-DAG: .visible .entry nf_noise_normal_f32(
// PTX-DAG: .visible .entry nf_noise_uniform_f32(
// PTX-DAG: .visible .entry nf_iwae_step_f32(
// PTX-DAG: .visible .entry nf_iwae_finish_f32(
// The conditioner's weights are staged in shared memory and read there.
// PTX-DAG: .shared .align 16 .b8 __constant_4x2xf32_shared[32];
// PTX-DAG: bar.sync 0;
// PTX-DAG: ld.shared.b32
// PTX-NOT: .extern
// ARCH: .target sm_80
// NOSHARED-NOT: .shared
// NOSHARED-NOT: bar.sync
// BIGSHARED: --gpu-shared-memory must be between 0 and 49152 bytes

// CUDA: const char *nf_last_error_message(void);
// CUDA: int nf_cuda_malloc(void **d_ptr, int64_t bytes);
// CUDA: int nf_cuda_free(void *d_ptr);
// CUDA: int nf_cuda_memcpy(void *dst, const void *src, int64_t bytes, int kind);
// CUDA: int64_t nf_flow_dim(void);
// CUDA-NOT: int nf_flow_log_prob(
// CUDA: int nf_flow_cuda_log_prob(const float *d_x, int64_t n, const float *d_ctx, float *d_out_logp, void *stream);
// CUDA: int nf_flow_cuda_elbo(const float *d_x, int64_t n, uint64_t seed, const float *d_ctx, float *d_out, void *stream);
// CUDA: int nf_flow_cuda_log_prob_iwae(const float *d_x, int64_t n, int64_t k, uint64_t seed, const float *d_ctx, float *d_out, void *stream);
// CUDA: int nf_flow_cuda_forward(const float *d_x, int64_t n, uint64_t seed, const float *d_ctx, float *d_out_z, float *d_out_ldj, void *stream);
// CUDA: int nf_flow_cuda_inverse(const float *d_z, int64_t n, uint64_t seed, const float *d_ctx, float *d_out_x, void *stream);
// CUDA: int nf_flow_cuda_sample(int64_t n, uint64_t seed, const float *d_ctx, float *d_out_x, void *stream);
// CUDA: int nf_flow_cuda_sample_with_log_prob(int64_t n, uint64_t seed, const float *d_ctx, float *d_out_x, float *d_out_logp, void *stream);
// CUDA: int nf_flow_cuda_log_prob_iwae_rows(const float *d_x, int64_t first_row, int64_t n, int64_t k, uint64_t seed, const float *d_ctx, float *d_out, void *stream);
// CUDA-NOT: int nf_flow_sample(

// BOTH: int nf_flow_log_prob(const float *x, int64_t n, const float *ctx, float *out_logp);
// BOTH: int nf_flow_sample_with_log_prob(
// BOTH: int nf_flow_cuda_log_prob(

// CPU-NOT: cuda

// The glue embeds the PTX and launches through the runtime: sample draws
// the base noise on the device and maps it with base_from_noise.
// GLUE: NF_API const char *nf_last_error_message(void) {
// GLUE-NEXT: return nfrt_last_error_message();
// GLUE: static const char nf_cuda_ptx[] =
// GLUE: .visible .entry nfk_flow_normalize(
// GLUE: static const nfrt_cuda_module nf_cuda_module = {nf_cuda_ptx};
// GLUE: NF_API int nf_flow_cuda_log_prob(const float *d_x, int64_t n, const float *d_ctx, float *d_out_logp, void *stream) {
// GLUE-NEXT: return nfrt_cuda_run(&flow_model, &nf_cuda_module, "nfk_flow_normalize", 0, NFRT_INPUT_DATA, d_x, 0, n, 0, d_ctx, 0, 0, d_out_logp, stream);
// GLUE: NF_API int nf_flow_cuda_log_prob_iwae(const float *d_x, int64_t n, int64_t k, uint64_t seed, const float *d_ctx, float *d_out, void *stream) {
// GLUE-NEXT: return nfrt_cuda_iwae(&flow_model, &nf_cuda_module, "nfk_flow_normalize", d_x, 0, n, k, seed, d_ctx, d_out, stream);
// GLUE: NF_API int nf_flow_cuda_sample(int64_t n, uint64_t seed, const float *d_ctx, float *d_out_x, void *stream) {
// GLUE-NEXT: return nfrt_cuda_run(&flow_model, &nf_cuda_module, "nfk_flow_generate", "nfk_flow_base_from_noise", NFRT_INPUT_NOISE, 0, 0, n, seed, d_ctx, d_out_x, 0, 0, stream);
// Row ranges: the global first row keys the device noise.
// GLUE: NF_API int nf_flow_cuda_sample_rows(int64_t first_row, int64_t n, uint64_t seed, const float *d_ctx, float *d_out_x, void *stream) {
// GLUE-NEXT: return nfrt_cuda_run(&flow_model, &nf_cuda_module, "nfk_flow_generate", "nfk_flow_base_from_noise", NFRT_INPUT_NOISE, 0, first_row, n, seed, d_ctx, d_out_x, 0, 0, stream);
// GLUE: entry flow cuda_sample int n:n seed:seed ctx:d_ctx:context_dim out:d_out_x:dim stream:stream

// SO-DAG: nf_cuda_malloc
// SO-DAG: nf_flow_cuda_log_prob
// SO-DAG: nf_flow_dim
// SO-DAG: nf_last_error_message
// SO-DAG: nf_library_manifest

// BADTARGET: nf-compile: error: unknown target 'tpu' (cpu or cuda)
// NOCUDA: nf-compile: error: --emit=ptx needs the cuda target
// NOCPU: nf-compile: error: this output is CPU code; add the cpu target

func.func private @net(%xa: tensor<?x1xf32>) -> tensor<?x2xf32> {
  %w0 = arith.constant dense<[[0.5, -0.3, 0.8, 0.1]]> : tensor<1x4xf32>
  %b0 = arith.constant dense<0.1> : tensor<4xf32>
  %w1 = arith.constant dense<0.2> : tensor<4x2xf32>
  %b1 = arith.constant dense<0.0> : tensor<2xf32>
  %h = nf.mlp %xa (%w0, %b0, %w1, %b1 : tensor<1x4xf32>, tensor<4xf32>, tensor<4x2xf32>, tensor<2xf32>)
         activation tanh : tensor<?x1xf32> -> tensor<?x2xf32>
  return %h : tensor<?x2xf32>
}

nf.model @flow(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.affine_coupling %x identity [0] conditioner @net scale_fn softplus : tensor<?x2xf32>
  %1 = nf.reverse %0 : tensor<?x2xf32>
  %2 = nf.affine_coupling %1 identity [0] conditioner @net scale_fn sigmoid : tensor<?x2xf32>
  nf.yield %2 : tensor<?x2xf32>
}
