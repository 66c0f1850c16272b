/* Batch-1 latency of a compiled model through its C ABI, without Python:
 * calls nf_<model>_log_prob on one row (and nf_<model>_sample of one row)
 * in a loop and prints the median time per call over 21 rounds.
 *
 *   clang-22 -O2 latency.c -o latency -ldl
 *   ./latency LIBRARY MODEL DIM
 *
 * Prints one line: "log_prob_ns=T sample_ns=T" (f32 models). */

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*LogProbFn)(const float *, int64_t, const float *, float *);
typedef int (*SampleFn)(int64_t, uint64_t, const float *, float *);

enum { ROUNDS = 21, CALLS = 2000 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median over ROUNDS of the mean time of CALLS calls, in ns. */
#define MEDIAN_NS(call)                                                        \
  ({                                                                           \
    double rounds[ROUNDS];                                                     \
    for (int r = 0; r < ROUNDS; ++r) {                                         \
      double start = now();                                                    \
      for (int i = 0; i < CALLS; ++i)                                          \
        if (call) {                                                            \
          fprintf(stderr, "latency: %s failed\n", #call);                      \
          exit(1);                                                             \
        }                                                                      \
      rounds[r] = (now() - start) / CALLS * 1e9;                               \
    }                                                                          \
    qsort(rounds, ROUNDS, sizeof(double), compare);                            \
    rounds[ROUNDS / 2];                                                        \
  })

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s LIBRARY MODEL DIM\n", argv[0]);
    return 2;
  }
  void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    fprintf(stderr, "latency: %s\n", dlerror());
    return 1;
  }
  char name[256];
  snprintf(name, sizeof(name), "nf_%s_log_prob", argv[2]);
  LogProbFn logProb = (LogProbFn)dlsym(library, name);
  snprintf(name, sizeof(name), "nf_%s_sample", argv[2]);
  SampleFn sample = (SampleFn)dlsym(library, name);
  if (!logProb || !sample) {
    fprintf(stderr, "latency: %s not found\n", name);
    return 1;
  }
  int dim = atoi(argv[3]);
  float *x = calloc(dim, sizeof(float)), out = 0;
  for (int i = 0; i < dim; ++i)
    x[i] = 0.1f * (i % 7) - 0.3f;
  double logProbNs = MEDIAN_NS(logProb(x, 1, NULL, &out));
  double sampleNs = MEDIAN_NS(sample(1, 7, NULL, x));
  printf("log_prob_ns=%.0f sample_ns=%.0f\n", logProbNs, sampleNs);
  free(x);
  return 0;
}
