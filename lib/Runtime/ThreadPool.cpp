//===- ThreadPool.cpp - The runtime's persistent worker threads -----------===//

#include "ThreadPool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

/// CPUs of the cgroup (v2 cpu.max, or v1 cfs quota / period), or 0 if
/// unlimited or unknown.
int getCgroupCpus() {
  long long quota = -1, period = 0;
  if (FILE *file = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {
    char text[32] = {0};
    if (std::fscanf(file, "%31s %lld", text, &period) == 2 &&
        std::string(text) != "max")
      quota = std::atoll(text);
    std::fclose(file);
  } else if (FILE *q = std::fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r")) {
    if (std::fscanf(q, "%lld", &quota) != 1)
      quota = -1;
    std::fclose(q);
    if (FILE *p = std::fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r")) {
      if (std::fscanf(p, "%lld", &period) != 1)
        period = 0;
      std::fclose(p);
    }
  }
  if (quota <= 0 || period <= 0)
    return 0;
  return static_cast<int>(
      std::max<long long>(1, (quota + period - 1) / period));
}

/// The CPUs this process may run on.
int getAvailableCpus() {
  int cpus = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    cpus = CPU_COUNT(&set);
  if (cpus <= 0)
    cpus = std::max(1u, std::thread::hardware_concurrency());
  if (int quota = getCgroupCpus())
    cpus = std::min(cpus, quota);
  return cpus;
}

class ThreadPool {
public:
  static ThreadPool &get() {
    // Never destroyed: threads of a static pool would be joined during exit
    // while other static destructors run.
    static ThreadPool *pool = new ThreadPool();
    return *pool;
  }

  /// Runs the job on `threads` threads if the pool is free; false if it is
  /// busy.
  bool tryRun(int64_t count, int threads,
              const std::function<void(int64_t)> &task) {
    std::unique_lock<std::mutex> busy(jobMutex, std::try_to_lock);
    if (!busy.owns_lock())
      return false;
    grow(threads - 1);
    {
      std::lock_guard<std::mutex> lock(mutex);
      job = &task;
      jobSize = count;
      next.store(0);
      helpers = threads - 1;
      active = helpers;
      ++generation;
    }
    wake.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return active == 0; });
    job = nullptr;
    return true;
  }

private:
  /// Takes tasks of the current job until none is left.
  void drain() {
    for (int64_t i = next.fetch_add(1); i < jobSize; i = next.fetch_add(1))
      (*job)(i);
  }

  /// Starts workers until there are `count`.
  void grow(int count) {
    while (static_cast<int>(workers.size()) < count) {
      int index = workers.size();
      workers.emplace_back([this, index] { work(index); });
      workers.back().detach();
    }
  }

  void work(int index) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return generation != seen; });
        seen = generation;
        if (index >= helpers)
          continue; // not needed for this job
      }
      drain();
      std::lock_guard<std::mutex> lock(mutex);
      if (--active == 0)
        finished.notify_one();
    }
  }

  std::mutex jobMutex; // held by the call that owns the pool
  std::mutex mutex;    // guards the job fields below
  std::condition_variable wake, finished;
  std::vector<std::thread> workers;
  const std::function<void(int64_t)> *job = nullptr;
  int64_t jobSize = 0;
  std::atomic<int64_t> next{0};
  int helpers = 0, active = 0;
  uint64_t generation = 0;
};

} // namespace

int nfrt::getNumThreads() {
  if (const char *env = std::getenv("NF_NUM_THREADS")) {
    int value = std::atoi(env);
    if (value > 0)
      return value;
  }
  static const int cpus = getAvailableCpus();
  return cpus;
}

void nfrt::parallelFor(int64_t count, int threads,
                       const std::function<void(int64_t)> &task) {
  threads = static_cast<int>(std::min<int64_t>(threads, count));
  bool ran = false;
  try {
    ran = threads > 1 && ThreadPool::get().tryRun(count, threads, task);
  } catch (const std::system_error &) {
    // No new thread to be had: the caller's thread does the work.
  }
  if (ran)
    return;
  for (int64_t i = 0; i < count; ++i)
    task(i);
}
