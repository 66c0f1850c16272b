//===- DeviceNoise.h - The runtime's noise streams as IR --------*- C++ -*-===//
//
// The CPU runtime draws base and layer noise with Philox4x32-10 keyed by
// (seed, row, pair) (Runtime.cpp). On the GPU the same stream is evaluated
// by generated code: these builders add it as functions of a module, for
// the GPU (one row per thread) or, to check it against the runtime, for
// the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef NF_CODEGEN_GPU_DEVICENOISE_H
#define NF_CODEGEN_GPU_DEVICENOISE_H

#include "mlir/IR/BuiltinOps.h"

namespace mlir::nf {

/// Adds `abi::getNoiseKernelSymbol(uniform, f64)(seed: i64, first_pair: i64,
/// out: memref<?x?xT>)` for both kinds of noise and T = `elementType`
/// (f32 or f64), unless present. `gpu`: grid functions marked
/// `nf.gpu_kernel` (a row per thread); else public functions with the C
/// interface that loop over the rows.
void addNoiseKernels(ModuleOp module, FloatType elementType, bool gpu);

} // namespace mlir::nf

#endif // NF_CODEGEN_GPU_DEVICENOISE_H
