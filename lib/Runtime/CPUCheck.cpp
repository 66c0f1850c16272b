//===- CPUCheck.cpp - The library's CPU features on this CPU --------------===//
//
// A library compiled for CPU features the running CPU lacks would die on an
// illegal instruction in its first kernel. The entry points ask first: the
// features the glue lists (nfrt_model::cpu_features) against CPUID and the
// OS-enabled register state (XCR0).
//
//===----------------------------------------------------------------------===//

#include "nf/Runtime/nf_runtime.h"
#include "nf/Target/CPUFeatures.h"

#include <cstring>
#include <map>
#include <mutex>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace {

/// Whether the running CPU has `feature` (and the OS saves its registers).
bool hasFeature(const mlir::nf::abi::CPUFeature &feature) {
#if defined(__x86_64__)
  unsigned regs[4] = {0, 0, 0, 0};
  if (!__get_cpuid_count(feature.leaf, feature.subleaf, &regs[0], &regs[1],
                         &regs[2], &regs[3]))
    return false;
  if (!((regs[feature.reg] >> feature.bit) & 1))
    return false;
  if (feature.xcr0 == 0)
    return true;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) // OSXSAVE
    return false;
  unsigned low, high;
  __asm__("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  uint64_t xcr0 = (uint64_t(high) << 32) | low;
  return (xcr0 & feature.xcr0) == feature.xcr0;
#else
  (void)feature;
  return true;
#endif
}

/// The features of the comma-separated `list` this CPU lacks, joined by
/// ", " ("" if none). Names the table does not know are not checked.
std::string getMissingFeatures(const char *list) {
  std::string missing;
#if defined(__x86_64__)
  std::string names = std::string(",") + list + ",";
  for (const auto &feature : mlir::nf::abi::kX86Features)
    if (names.find(std::string(",") + feature.name + ",") !=
            std::string::npos &&
        !hasFeature(feature))
      missing += (missing.empty() ? "" : ", ") + std::string(feature.name);
#else
  (void)list;
#endif
  return missing;
}

} // namespace

extern "C" int nfrt_check_cpu(const nfrt_model *model) {
  const char *list = model->cpu_features;
  if (!list || !*list)
    return NF_OK;
  // Once per list (a library's models share one); the answer cannot change.
  static std::mutex mutex;
  static std::map<const char *, std::string> checked;
  std::string missing;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = checked.find(list);
    if (it == checked.end())
      it = checked.emplace(list, getMissingFeatures(list)).first;
    missing = it->second;
  }
  if (missing.empty())
    return NF_OK;
  return nfrt_fail(NF_ERROR_UNSUPPORTED_CPU,
                   ("this CPU lacks " + missing +
                    ", which the library was compiled for; recompile it with "
                    "nf-compile's default --mcpu (a portable baseline) or "
                    "with --mcpu=native on this machine")
                       .c_str());
}
