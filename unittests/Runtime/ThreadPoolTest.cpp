//===- ThreadPoolTest.cpp - The runtime's worker threads ------------------===//

#include "ThreadPool.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

/// Every task runs exactly once, whatever the thread count.
TEST(ThreadPool, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 3, 8}) {
    for (int64_t count : {0, 1, 5, 1000}) {
      std::vector<std::atomic<int>> runs(count);
      nfrt::parallelFor(count, threads, [&](int64_t i) { ++runs[i]; });
      for (int64_t i = 0; i < count; ++i)
        ASSERT_EQ(runs[i].load(), 1)
            << "task " << i << " of " << count << ", " << threads << " threads";
    }
  }
}

/// Several threads calling at once all finish: one gets the pool, the
/// others run inline.
TEST(ThreadPool, ConcurrentCallsAllFinish) {
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int repeat = 0; repeat < 50; ++repeat)
        nfrt::parallelFor(64, 4, [&](int64_t i) { total += i; });
    });
  for (std::thread &caller : callers)
    caller.join();
  EXPECT_EQ(total.load(), 4 * 50 * (63 * 64 / 2));
}

/// A task may itself call parallelFor (it runs inline, without deadlock).
TEST(ThreadPool, NestedCallsRunInline) {
  std::atomic<int64_t> total{0};
  nfrt::parallelFor(8, 4, [&](int64_t) {
    nfrt::parallelFor(10, 4, [&](int64_t j) { total += j; });
  });
  EXPECT_EQ(total.load(), 8 * 45);
}

TEST(ThreadPool, NumThreadsHonoursTheEnvironment) {
  ASSERT_EQ(setenv("NF_NUM_THREADS", "3", 1), 0);
  EXPECT_EQ(nfrt::getNumThreads(), 3);
  // Not a positive number: the CPUs available, at least one.
  ASSERT_EQ(setenv("NF_NUM_THREADS", "zero", 1), 0);
  EXPECT_GE(nfrt::getNumThreads(), 1);
  unsetenv("NF_NUM_THREADS");
  EXPECT_GE(nfrt::getNumThreads(), 1);
}

} // namespace
