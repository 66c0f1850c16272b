//===- ThreadPool.h - The runtime's persistent worker threads ---*- C++ -*-===//
//
// Internal to the runtime: one pool per process, created on first use, whose
// threads run the blocks of parallel calls. A call that finds the pool busy
// (a concurrent call from another thread, or a call from inside a job) runs
// its work on its own thread instead, so calls never wait for each other
// and never deadlock.
//
//===----------------------------------------------------------------------===//

#ifndef NF_RUNTIME_THREADPOOL_H
#define NF_RUNTIME_THREADPOOL_H

#include <cstdint>
#include <functional>

namespace nfrt {

/// The threads a call may use: NF_NUM_THREADS if set (> 0), else the CPUs
/// this process may run on: its affinity mask, capped by a cgroup CPU quota.
int getNumThreads();

/// Calls `task(i)` for every i in [0, count) on up to `threads` threads, the
/// caller's thread among them; returns when all are done. Tasks are handed
/// out one at a time, so uneven tasks balance.
void parallelFor(int64_t count, int threads,
                 const std::function<void(int64_t)> &task);

} // namespace nfrt

#endif // NF_RUNTIME_THREADPOOL_H
