//===- Errors.h - No exception through the C ABI ----------------*- C++ -*-===//
//
// Internal to the runtime. Every extern "C" entry runs its C++ work through
// guardExceptions: an exception unwinding into a C caller would terminate
// its process. The argument checks the CPU and CUDA entries share.
//
//===----------------------------------------------------------------------===//

#ifndef NF_RUNTIME_ERRORS_H
#define NF_RUNTIME_ERRORS_H

#include "nf/Runtime/nf_runtime.h"

#include <cstdint>
#include <limits>
#include <new>

namespace nfrt {

/// `run()`, or NF_ERROR_OUT_OF_MEMORY (with the thread's error message) if
/// it throws: allocation failures, and thread or lock creation failures,
/// which are resource shortages too.
template <typename Fn> int guardExceptions(Fn &&run) noexcept {
  try {
    return run();
  } catch (const std::bad_alloc &) {
    return nfrt_fail(NF_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (...) {
    return nfrt_fail(NF_ERROR_OUT_OF_MEMORY,
                     "out of resources (threads or memory)");
  }
}

/// Whether rows [firstRow, firstRow + n) are valid global row indices.
inline bool isRowRange(int64_t firstRow, int64_t n) {
  return n >= 0 && firstRow >= 0 &&
         firstRow <= std::numeric_limits<int64_t>::max() - n;
}

} // namespace nfrt

#endif // NF_RUNTIME_ERRORS_H
