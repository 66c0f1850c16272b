//===- RuntimeTest.cpp - The runtime of compiled models -------------------===//

#include "nf/Runtime/nf_runtime.h"

#include "gtest/gtest.h"

#include <cmath>
#include <vector>

namespace {

/// Known-answer vectors of Philox4x32-10 (Random123's kat_vectors).
TEST(Philox, KnownAnswers) {
  struct Case {
    uint32_t counter[4], key[2], expected[4];
  } cases[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Case &c : cases) {
    uint32_t out[4];
    nfrt_philox4x32_10(c.counter, c.key, out);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(out[i], c.expected[i]) << "word " << i;
  }
}

TEST(Noise, RowsDependOnlyOnSeedAndIndex) {
  const int64_t cols = 5;
  std::vector<double> all(10 * cols), part(3 * cols);
  nfrt_fill_noise_f64(NFRT_NOISE_NORMAL, 42, 0, 10, cols, all.data());
  nfrt_fill_noise_f64(NFRT_NOISE_NORMAL, 42, 4, 7, cols, part.data());
  for (int64_t i = 0; i < 3 * cols; ++i)
    EXPECT_EQ(part[i], all[4 * cols + i]);
  std::vector<double> other(10 * cols);
  nfrt_fill_noise_f64(NFRT_NOISE_NORMAL, 43, 0, 10, cols, other.data());
  EXPECT_NE(other, all);
}

TEST(Noise, Moments) {
  const int64_t rows = 20000, cols = 4;
  std::vector<float> normal(rows * cols), uniform(rows * cols);
  nfrt_fill_noise_f32(NFRT_NOISE_NORMAL, 7, 0, rows, cols, normal.data());
  nfrt_fill_noise_f32(NFRT_NOISE_UNIFORM, 7, 0, rows, cols, uniform.data());
  double mean = 0, var = 0, umean = 0, umin = 1, umax = 0;
  for (int64_t i = 0; i < rows * cols; ++i) {
    mean += normal[i];
    var += normal[i] * normal[i];
    umean += uniform[i];
    umin = std::min<double>(umin, uniform[i]);
    umax = std::max<double>(umax, uniform[i]);
  }
  double n = rows * cols;
  EXPECT_NEAR(mean / n, 0.0, 0.02);
  EXPECT_NEAR(var / n, 1.0, 0.02);
  EXPECT_NEAR(umean / n, 0.5, 0.01);
  EXPECT_GE(umin, 0.0);
  EXPECT_LT(umax, 1.0);
}

/// A kernel that copies its input rows and writes the row sums.
void sumRows(nfrt_memref2 *in, nfrt_memref2 *, nfrt_memref2 *,
             nfrt_memref2 *out2, nfrt_memref1 *out1) {
  auto *src = static_cast<float *>(in->aligned) + in->offset;
  auto *dst = static_cast<float *>(out2->aligned) + out2->offset;
  auto *sums = static_cast<float *>(out1->aligned) + out1->offset;
  for (int64_t r = 0; r < in->sizes[0]; ++r) {
    sums[r] = 0;
    for (int64_t c = 0; c < in->sizes[1]; ++c) {
      dst[r * out2->strides[0] + c] = src[r * in->strides[0] + c];
      sums[r] += src[r * in->strides[0] + c];
    }
  }
}

TEST(Run, SplitsRowsAndChecksArguments) {
  nfrt_model model = {3, 3, 0, 4, NFRT_NOISE_NORMAL};
  const int64_t n = 1000;
  std::vector<float> x(n * 3), y(n * 3), sums(n);
  for (int64_t i = 0; i < n * 3; ++i)
    x[i] = static_cast<float>(i % 7);
  ASSERT_EQ(nfrt_run(&model, sumRows, NFRT_INPUT_DATA, x.data(), n, 0, nullptr,
                     y.data(), 3, sums.data(), 1),
            NF_OK);
  EXPECT_EQ(x, y);
  for (int64_t r = 0; r < n; ++r)
    EXPECT_EQ(sums[r], x[3 * r] + x[3 * r + 1] + x[3 * r + 2]);
  EXPECT_EQ(nfrt_run(&model, sumRows, NFRT_INPUT_DATA, x.data(), -1, 0, nullptr,
                     y.data(), 3, sums.data(), 1),
            NF_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nfrt_run(&model, sumRows, NFRT_INPUT_DATA, nullptr, n, 0, nullptr,
                     y.data(), 3, sums.data(), 1),
            NF_ERROR_NULL_POINTER);
  EXPECT_EQ(nfrt_run(&model, sumRows, NFRT_INPUT_DATA, x.data(), n, 0, nullptr,
                     y.data(), 3, nullptr, 1),
            NF_ERROR_NULL_POINTER);
  EXPECT_EQ(nfrt_run(&model, sumRows, NFRT_INPUT_DATA, nullptr, 0, 0, nullptr,
                     nullptr, 3, nullptr, 1),
            NF_OK);
  nfrt_model conditional = {3, 3, 2, 4, NFRT_NOISE_NORMAL};
  EXPECT_EQ(nfrt_run(&conditional, sumRows, NFRT_INPUT_DATA, x.data(), n, 0,
                     nullptr, y.data(), 3, sums.data(), 1),
            NF_ERROR_NULL_POINTER);
}

TEST(Run, NoiseRowsMatchTheGenerator) {
  nfrt_model model = {2, 2, 0, 8, NFRT_NOISE_NORMAL};
  const int64_t n = 300;
  std::vector<double> x(n * 2), expected(n * 2);
  auto copy = [](nfrt_memref2 *in, nfrt_memref2 *, nfrt_memref2 *,
                 nfrt_memref2 *out2, nfrt_memref1 *) {
    auto *src = static_cast<double *>(in->aligned);
    auto *dst = static_cast<double *>(out2->aligned);
    for (int64_t i = 0; i < in->sizes[0] * in->sizes[1]; ++i)
      dst[i] = src[i];
  };
  ASSERT_EQ(nfrt_run(&model, copy, NFRT_INPUT_NOISE, nullptr, n, 9, nullptr,
                     x.data(), 2, nullptr, 0),
            NF_OK);
  nfrt_fill_noise_f64(NFRT_NOISE_NORMAL, 9, 0, n, 2, expected.data());
  EXPECT_EQ(x, expected);
}

TEST(Run, LayerNoiseIsUniformAndSeparateFromBaseNoise) {
  // Generative kernels get inverse_noise columns, normalizing ones
  // forward_noise; both are the layer-noise stream of the call's seed.
  nfrt_model model = {2, 2, 0, 8, NFRT_NOISE_UNIFORM, 1, 3};
  const int64_t n = 300;
  std::vector<double> x(n * 3), expected(n * 3), base(n * 3);
  auto copyNoise = [](nfrt_memref2 *, nfrt_memref2 *, nfrt_memref2 *noise,
                      nfrt_memref2 *out2, nfrt_memref1 *) {
    auto *src = static_cast<double *>(noise->aligned) + noise->offset;
    auto *dst = static_cast<double *>(out2->aligned) + out2->offset;
    for (int64_t r = 0; r < noise->sizes[0]; ++r)
      for (int64_t c = 0; c < noise->sizes[1]; ++c)
        dst[r * out2->strides[0] + c] = src[r * noise->strides[0] + c];
  };
  ASSERT_EQ(nfrt_run(&model, copyNoise, NFRT_INPUT_NOISE, nullptr, n, 5,
                     nullptr, x.data(), 3, nullptr, 0),
            NF_OK);
  nfrt_fill_layer_noise_f64(5, 0, n, 3, expected.data());
  EXPECT_EQ(x, expected);
  nfrt_fill_noise_f64(NFRT_NOISE_UNIFORM, 5, 0, n, 3, base.data());
  EXPECT_NE(x, base);
  for (double v : x) {
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
}

/// A log_prob kernel whose "bound" is the row's first layer-noise uniform,
/// so every path draws a different value.
void uniformBound(nfrt_memref2 *, nfrt_memref2 *, nfrt_memref2 *noise,
                  nfrt_memref2 *, nfrt_memref1 *out1) {
  auto *u = static_cast<double *>(noise->aligned) + noise->offset;
  auto *out = static_cast<double *>(out1->aligned) + out1->offset;
  for (int64_t r = 0; r < noise->sizes[0]; ++r)
    out[r] = std::log(u[r * noise->strides[0]]);
}

TEST(Iwae, AveragesPathsInProbabilitySpace) {
  // With bound_j = log u_j, the estimate is log mean_j u_j: about log 1/2
  // for many paths (std 0.009 at k = 4000; 200 rows stay within 5.5 std),
  // and exactly the ELBO sample for one.
  nfrt_model model = {1, 1, 0, 8, NFRT_NOISE_NORMAL, 1, 0};
  const int64_t n = 200;
  std::vector<double> x(n, 0.0), one(n), many(n), single(1);
  ASSERT_EQ(
      nfrt_iwae(&model, uniformBound, x.data(), n, 1, 3, nullptr, one.data()),
      NF_OK);
  std::vector<double> u(n);
  nfrt_fill_layer_noise_f64(3, 0, n, 1, u.data());
  for (int64_t i = 0; i < n; ++i)
    EXPECT_DOUBLE_EQ(one[i], std::log(u[i]));
  ASSERT_EQ(nfrt_iwae(&model, uniformBound, x.data(), n, 4000, 3, nullptr,
                      many.data()),
            NF_OK);
  for (double v : many)
    EXPECT_NEAR(v, std::log(0.5), 0.05);
  EXPECT_EQ(
      nfrt_iwae(&model, uniformBound, x.data(), n, 0, 3, nullptr, many.data()),
      NF_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(
      nfrt_iwae(&model, uniformBound, nullptr, n, 2, 3, nullptr, many.data()),
      NF_ERROR_NULL_POINTER);
}

} // namespace
