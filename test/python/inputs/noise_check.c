/* Runs the generated noise kernels and the runtime's noise on the same
   keys, from global row 0 and from row 2^33 + 5 (row ranges); prints the
   largest differences. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "nf_runtime.h"
typedef struct { void *a, *b; int64_t off, sizes[2], strides[2]; } memref2;
#define DECL(T, S) \
  void _mlir_ciface_nf_noise_normal_##S(int64_t, int64_t, int64_t,         \
                                        memref2 *);                       \
  void _mlir_ciface_nf_noise_uniform_##S(int64_t, int64_t, int64_t,        \
                                         memref2 *);
DECL(float, f32)
DECL(double, f64)
#define CHECK(T, S, FILL, LAYERFILL)                                          \
  {                                                                            \
    const int64_t n = 257, cols = 7;                                           \
    T *a = malloc(n * cols * sizeof(T)), *b = malloc(n * cols * sizeof(T));    \
    memref2 m = {a, a, 0, {n, cols}, {cols, 1}};                               \
    for (int run = 0; run < 6; ++run) {                                        \
      int kind = run % 3;                                                      \
      int64_t r0 = run < 3 ? 0 : ((int64_t)1 << 33) + 5;                       \
      uint64_t seed = 0x123456789abcdefull + kind;                             \
      if (kind == 0) {                                                         \
        _mlir_ciface_nf_noise_normal_##S(seed, r0, 0, &m);                    \
        FILL(NFRT_NOISE_NORMAL, seed, r0, r0 + n, cols, b);                    \
      } else if (kind == 1) {                                                  \
        _mlir_ciface_nf_noise_uniform_##S(seed, r0, 0, &m);                   \
        FILL(NFRT_NOISE_UNIFORM, seed, r0, r0 + n, cols, b);                   \
      } else {                                                                 \
        _mlir_ciface_nf_noise_uniform_##S(seed, r0, (int64_t)1 << 31, &m);    \
        LAYERFILL(seed, r0, r0 + n, cols, b);                                  \
      }                                                                        \
      double worst = 0;                                                        \
      int64_t exact = 0;                                                       \
      for (int64_t i = 0; i < n * cols; ++i) {                                 \
        double d = fabs((double)a[i] - (double)b[i]) / (1 + fabs((double)b[i])); \
        worst = d > worst ? d : worst;                                         \
        exact += a[i] == b[i];                                                 \
      }                                                                        \
      printf("%s %s%s %.3g %lld/%lld\n", #S,                                   \
             kind == 0 ? "normal" : kind == 1 ? "uniform" : "layer",           \
             r0 ? "@offset" : "", worst, (long long)exact,                     \
             (long long)(n * cols));                                           \
    }                                                                          \
    free(a);                                                                   \
    free(b);                                                                   \
  }
int main(void) {
  CHECK(float, f32, nfrt_fill_noise_f32, nfrt_fill_layer_noise_f32)
  CHECK(double, f64, nfrt_fill_noise_f64, nfrt_fill_layer_noise_f64)
  return 0;
}
