/* A C program using a model library compiled by the installed nf-compile:
 * samples with their log-densities, checks them against log_prob, and
 * checks that the density of a standard-normal-based flow is a density
 * (log_prob finite, below the maximum the samples reach by far). */
#include "realnvp2d.h"

#include <math.h>
#include <stdio.h>

enum { N = 4096 };

int main(void) {
  static float x[N * 2], logp[N], check[N];
  int rc = nf_realnvp2d_sample_with_log_prob(N, 7, NULL, x, logp);
  if (rc != 0) {
    fprintf(stderr, "sample_with_log_prob: %d (%s)\n", rc,
            nf_last_error_message());
    return 1;
  }
  rc = nf_realnvp2d_log_prob(x, N, NULL, check);
  if (rc != 0) {
    fprintf(stderr, "log_prob: %d (%s)\n", rc, nf_last_error_message());
    return 1;
  }
  double worst = 0, mean = 0;
  for (int i = 0; i < N; ++i) {
    double err = fabs((double)logp[i] - check[i]);
    worst = err > worst ? err : worst;
    mean += check[i] / N;
  }
  printf("realnvp2d: %d samples, mean log p %.4f, max |sample_with_log_prob - "
         "log_prob| %.2e\n",
         N, mean, worst);
  if (!(worst < 1e-4) || !isfinite(mean)) {
    fprintf(stderr, "log-densities disagree\n");
    return 1;
  }
  if (nf_realnvp2d_log_prob(x, -1, NULL, check) != 1) {
    fprintf(stderr, "n < 0 was not refused\n");
    return 1;
  }
  return 0;
}
