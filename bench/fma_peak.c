/* The f32 FMA peak of this machine, measured: 12 independent accumulator
 * chains of vector FMAs (512-bit with AVX-512F, else 256-bit AVX2 FMA), so
 * that FMA latency is hidden and only the FMA throughput counts.
 *
 *   clang-22 -O2 -march=native -pthread fma_peak.c -o fma_peak
 *   ./fma_peak [-t THREADS] [-s SECONDS]
 *
 * Prints one line: "isa=... threads=N seconds=S gflops=G", G the aggregate
 * over the threads (2 flops per FMA lane). */

#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12
#define INNER 1000 /* FMA rounds between clock reads */

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define ISA "avx512"
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define ISA "avx2"
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#else
#error "fma_peak needs AVX-512F or AVX2 with FMA (compile with -march=native)"
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

struct job {
  double seconds;
  pthread_barrier_t *start;
  double flops, elapsed;
  float sink; /* keeps the chains alive */
};

/* Runs the chains for about `seconds`; returns the number of rounds. */
static long long run_chains(double seconds, float *sink) {
  /* acc = acc * m + c converges to c / (1 - m): finite, never denormal. */
  vec m = SET1(0.999f), c = SET1(1e-3f);
  vec acc[CHAINS];
  for (int i = 0; i < CHAINS; ++i)
    acc[i] = SET1(1.0f + 0.01f * i);
  long long rounds = 0;
  double end = now() + seconds;
  do {
    for (int r = 0; r < INNER; ++r) {
      for (int i = 0; i < CHAINS; ++i)
        acc[i] = FMA(acc[i], m, c);
    }
    rounds += INNER;
  } while (now() < end);
  vec total = acc[0];
  for (int i = 1; i < CHAINS; ++i)
    total = ADD(total, acc[i]);
  float lanes[LANES];
  STORE(lanes, total);
  *sink += lanes[0];
  return rounds;
}

static void *worker(void *arg) {
  struct job *job = arg;
  run_chains(0.05, &job->sink); /* warm-up: let the clock settle */
  pthread_barrier_wait(job->start);
  double t0 = now();
  long long rounds = run_chains(job->seconds, &job->sink);
  job->elapsed = now() - t0;
  job->flops = 2.0 * LANES * CHAINS * (double)rounds;
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 1;
  double seconds = 0.3;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "-t") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-s") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [-t THREADS] [-s SECONDS]\n", argv[0]);
      return 2;
    }
  }
  if (threads < 1 || !(seconds > 0)) {
    fprintf(stderr, "fma_peak: need THREADS >= 1 and SECONDS > 0\n");
    return 2;
  }
  pthread_t *ids = calloc(threads, sizeof *ids);
  struct job *jobs = calloc(threads, sizeof *jobs);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, threads);
  for (int i = 0; i < threads; ++i) {
    jobs[i].seconds = seconds;
    jobs[i].start = &start;
    if (pthread_create(&ids[i], NULL, worker, &jobs[i])) {
      fprintf(stderr, "fma_peak: cannot start thread %d\n", i);
      return 1;
    }
  }
  double flops = 0, elapsed = 0;
  float sink = 0;
  for (int i = 0; i < threads; ++i) {
    pthread_join(ids[i], NULL);
    flops += jobs[i].flops;
    elapsed = jobs[i].elapsed > elapsed ? jobs[i].elapsed : elapsed;
    sink += jobs[i].sink;
  }
  /* The slowest thread's time: the aggregate rate all threads sustain. */
  printf("isa=%s threads=%d seconds=%.3f gflops=%.1f\n", ISA, threads, elapsed, flops / elapsed * 1e-9);
  if (sink != sink) /* never true; uses the results */
    return 1;
  pthread_barrier_destroy(&start);
  free(ids);
  free(jobs);
  return 0;
}
