// nf-compile's outputs for an f32 model.
// RUN: nf-compile %s --emit=llvm -o - | FileCheck %s --check-prefix=LLVM
// RUN: nf-compile %s --emit=header -o - | FileCheck %s --check-prefix=HEADER
// RUN: nf-compile %s --emit=mlir -o - | FileCheck %s --check-prefix=MLIR
// RUN: nf-compile %s --emit=obj -o %t.o && llvm-nm %t.o | FileCheck %s --check-prefix=OBJ
// RUN: rm -rf %t.dir && mkdir %t.dir && nf-compile %s -O2 -o %t.dir/libflow.so
// RUN: llvm-nm -D --defined-only %t.dir/libflow.so | FileCheck %s --check-prefix=SO
// RUN: FileCheck %s --check-prefix=HEADER < %t.dir/flow.h
// RUN: nf-compile %s -O0 --emit=llvm -o - | FileCheck %s --check-prefix=LLVM

// The polynomial approximations leave no transcendental libm call or
// intrinsic (which the backend would turn into libm calls) in the kernels.
// LLVM: define void @_mlir_ciface_nfk_flow_log_prob(
// LLVM-NOT: call {{.*}}@{{(exp|log|tanh|log1p|expm1)f?}}(
// LLVM-NOT: @llvm.{{(exp|log|tanh)}}.

// HEADER: #include <stdint.h>
// HEADER: int64_t nf_flow_dim(void);
// HEADER: int64_t nf_flow_latent_dim(void);
// HEADER: int64_t nf_flow_context_dim(void);
// HEADER: int nf_flow_log_prob(const float *x, int64_t n, const float *ctx, float *out_logp);
// HEADER: int nf_flow_elbo(const float *x, int64_t n, uint64_t seed, const float *ctx, float *out);
// HEADER: int nf_flow_log_prob_iwae(const float *x, int64_t n, int64_t k, uint64_t seed, const float *ctx, float *out);
// HEADER: int nf_flow_forward(const float *x, int64_t n, uint64_t seed, const float *ctx, float *out_z, float *out_ldj);
// HEADER: int nf_flow_inverse(const float *z, int64_t n, uint64_t seed, const float *ctx, float *out_x);
// HEADER: int nf_flow_sample(int64_t n, uint64_t seed, const float *ctx, float *out_x);
// HEADER: int nf_flow_sample_with_log_prob(int64_t n, uint64_t seed, const float *ctx, float *out_x, float *out_logp);

// MLIR: llvm.func @_mlir_ciface_nfk_flow_sample_with_log_prob(

// OBJ: T _mlir_ciface_nfk_flow_forward

// SO-DAG: T nf_flow_dim
// SO-DAG: T nf_flow_log_prob
// SO-DAG: T nf_flow_forward
// SO-DAG: T nf_flow_inverse
// SO-DAG: T nf_flow_sample
// SO-DAG: T nf_flow_sample_with_log_prob
// SO-DAG: T nf_flow_elbo
// SO-DAG: T nf_flow_log_prob_iwae

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
