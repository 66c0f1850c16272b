//===- CPUFeatures.h - CPU features a library may require -------*- C++ -*-===//
//
// The x86-64 features whose absence makes compiled kernels fault, with where
// CPUID reports them. nf-compile writes the ones its target CPU enables into
// the library; the runtime checks them on the running CPU before the first
// kernel runs, and refuses with NF_ERROR_UNSUPPORTED_CPU rather than dying
// on an illegal instruction. Plain C++17 without LLVM, like EntryPoints.h.
//
//===----------------------------------------------------------------------===//

#ifndef NF_TARGET_CPUFEATURES_H
#define NF_TARGET_CPUFEATURES_H

#include <cstdint>

namespace mlir::nf::abi {

/// The default target CPU of nf-compile on x86-64: AVX2, FMA, BMI1/2, F16C,
/// MOVBE (Intel Haswell, AMD Zen and later). `--mcpu=native` targets the
/// compiling machine instead.
inline constexpr const char *kBaselineX86CPU = "x86-64-v3";

/// A feature by its LLVM name: CPUID leaf/subleaf, register (0-3: eax, ebx,
/// ecx, edx) and bit, and the XCR0 bits the OS must enable for its state
/// (AVX: 0x6, AVX-512: 0xe6, AMX: 0x60000; 0 for none).
struct CPUFeature {
  const char *name;
  uint32_t leaf, subleaf;
  int reg;
  int bit;
  uint64_t xcr0;
};

inline constexpr CPUFeature kX86Features[] = {
    {"sse4.1", 1, 0, 2, 19, 0},
    {"sse4.2", 1, 0, 2, 20, 0},
    {"popcnt", 1, 0, 2, 23, 0},
    {"movbe", 1, 0, 2, 22, 0},
    {"avx", 1, 0, 2, 28, 0x6},
    {"fma", 1, 0, 2, 12, 0x6},
    {"f16c", 1, 0, 2, 29, 0x6},
    {"bmi", 7, 0, 1, 3, 0},
    {"bmi2", 7, 0, 1, 8, 0},
    {"avx2", 7, 0, 1, 5, 0x6},
    {"lzcnt", 0x80000001, 0, 2, 5, 0},
    {"avx512f", 7, 0, 1, 16, 0xe6},
    {"avx512dq", 7, 0, 1, 17, 0xe6},
    {"avx512cd", 7, 0, 1, 28, 0xe6},
    {"avx512bw", 7, 0, 1, 30, 0xe6},
    {"avx512vl", 7, 0, 1, 31, 0xe6},
    {"avx512vbmi", 7, 0, 2, 1, 0xe6},
    {"avx512vnni", 7, 0, 2, 11, 0xe6},
    {"avx512bf16", 7, 1, 0, 5, 0xe6},
    {"avx512fp16", 7, 0, 3, 23, 0xe6},
    {"amx-tile", 7, 0, 3, 24, 0x60000},
};

} // namespace mlir::nf::abi

#endif // NF_TARGET_CPUFEATURES_H
