/* One global sample of a compiled flow, split over MPI ranks.
 *
 * Each rank draws its rows of the sample with nf_<model>_sample_with_log_prob_rows
 * (rows are keyed by their global index, so the union of the ranks' rows is
 * the sample one process would draw), and reduces them in fixed chunks of
 * CHUNK rows: the mean and variance of x, and an importance-sampling
 * estimate of the normalizing constant Z of the 2-D target
 * exp(-2 |x|^2) (exactly pi / 2) with the flow as proposal. Rank 0 adds the
 * chunks' sums in chunk order, so the printed numbers are the same bits for
 * any number of ranks; `--single` computes them from one plain
 * nf_<model>_sample_with_log_prob call in one process.
 *
 *   nf-compile examples/realnvp2d.mlir -o build/mpi/librealnvp2d.so
 *   mpicc -O2 -DNF_MODEL=realnvp2d -DNF_REAL=float -Ibuild/mpi \
 *     examples/mpi/sample_mpi.c -Lbuild/mpi -lrealnvp2d \
 *     -Wl,-rpath,$PWD/build/mpi -lm -o build/mpi/sample_mpi
 *   mpirun -n 2 build/mpi/sample_mpi 1000000 7
 */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NF_CAT2(a, b, c) a##b##c
#define NF_CAT(a, b, c) NF_CAT2(a, b, c)
#define NF_STR2(a) #a
#define NF_STR(a) NF_STR2(a)
#define NF_ENTRY(name) NF_CAT(nf_, NF_MODEL, _##name)
#include NF_STR(NF_MODEL.h)

enum { CHUNK = 1 << 14, DIM = 2, SUMS = 2 * DIM + 2 };

/* The sums of one chunk: x, x^2 per coordinate, the weights and their
 * squares, w = exp(log target - log q). */
static void chunk_sums(const NF_REAL *x, const NF_REAL *logq, int64_t rows,
                       double sums[SUMS]) {
  memset(sums, 0, SUMS * sizeof(double));
  for (int64_t i = 0; i < rows; ++i) {
    double r2 = 0;
    for (int d = 0; d < DIM; ++d) {
      double v = x[i * DIM + d];
      sums[d] += v;
      sums[DIM + d] += v * v;
      r2 += v * v;
    }
    double w = exp(-2.0 * r2 - (double)logq[i]);
    sums[2 * DIM] += w;
    sums[2 * DIM + 1] += w * w;
  }
}

static void report(const double *sums, int64_t chunks, int64_t n) {
  double total[SUMS] = {0};
  for (int64_t c = 0; c < chunks; ++c)
    for (int k = 0; k < SUMS; ++k)
      total[k] += sums[c * SUMS + k];
  for (int d = 0; d < DIM; ++d) {
    double mean = total[d] / n;
    printf("mean[%d] %.17g var[%d] %.17g\n", d, mean, d,
           total[DIM + d] / n - mean * mean);
  }
  double z = total[2 * DIM] / n;
  double se = sqrt((total[2 * DIM + 1] / n - z * z) / n);
  printf("Z %.17g se %.17g exact %.17g\n", z, se, M_PI / 2);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s N SEED [--single]\n", argv[0]);
    return 2;
  }
  int64_t n = atoll(argv[1]);
  uint64_t seed = strtoull(argv[2], NULL, 10);
  int64_t chunks = (n + CHUNK - 1) / CHUNK;
  if (NF_ENTRY(dim)() != DIM || n <= 0) {
    fprintf(stderr, "sample_mpi: needs a 2-D model and N > 0\n");
    return 2;
  }
  double *sums = calloc((size_t)chunks * SUMS, sizeof(double));
  NF_REAL *x = malloc((size_t)CHUNK * DIM * sizeof(NF_REAL));
  NF_REAL *logq = malloc((size_t)CHUNK * sizeof(NF_REAL));

  if (argc > 3 && strcmp(argv[3], "--single") == 0) {
    NF_REAL *all_x = malloc((size_t)n * DIM * sizeof(NF_REAL));
    NF_REAL *all_logq = malloc((size_t)n * sizeof(NF_REAL));
    int rc = NF_ENTRY(sample_with_log_prob)(n, seed, NULL, all_x, all_logq);
    if (rc != 0) {
      fprintf(stderr, "sample_mpi: error %d\n", rc);
      return 1;
    }
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t first = c * CHUNK, rows = n - first < CHUNK ? n - first : CHUNK;
      chunk_sums(all_x + first * DIM, all_logq + first, rows, sums + c * SUMS);
    }
    report(sums, chunks, n);
    return 0;
  }

  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  /* Rank r owns chunks [r * chunks / size, (r + 1) * chunks / size). */
  int *counts = malloc(size * sizeof(int)), *offsets = malloc(size * sizeof(int));
  for (int r = 0; r < size; ++r) {
    int64_t begin = r * chunks / size, end = (r + 1) * chunks / size;
    counts[r] = (int)((end - begin) * SUMS);
    offsets[r] = (int)(begin * SUMS);
  }
  int64_t begin = rank * chunks / size, end = (rank + 1) * chunks / size;
  double *mine = malloc((size_t)(end - begin) * SUMS * sizeof(double) + 1);
  for (int64_t c = begin; c < end; ++c) {
    int64_t first = c * CHUNK, rows = n - first < CHUNK ? n - first : CHUNK;
    int rc = NF_ENTRY(sample_with_log_prob_rows)(first, rows, seed, NULL, x, logq);
    if (rc != 0) {
      fprintf(stderr, "sample_mpi: rank %d: error %d\n", rank, rc);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    chunk_sums(x, logq, rows, mine + (c - begin) * SUMS);
  }
  MPI_Gatherv(mine, counts[rank], MPI_DOUBLE, sums, counts, offsets,
              MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank == 0)
    report(sums, chunks, n);
  MPI_Finalize();
  return 0;
}
