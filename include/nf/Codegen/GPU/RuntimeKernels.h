//===- RuntimeKernels.h - The runtime's row helpers as IR -------*- C++ -*-===//
//
// What the CPU runtime does between kernel runs, as generated code for the
// GPU: the Philox noise streams keyed by (seed, row, pair) (Runtime.cpp's
// noisePair, DeviceNoise.cpp) and the IWAE estimate's running log-sum-exp
// over paths (Runtime.cpp's runIwae, DeviceEstimate.cpp). The builders add
// them as functions of a module for the GPU (one row per thread) or, to
// check them against the runtime, for the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef NF_CODEGEN_GPU_RUNTIMEKERNELS_H
#define NF_CODEGEN_GPU_RUNTIMEKERNELS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::nf {

/// Adds `abi::getNoiseKernelSymbol(uniform, f64)(seed: i64, first_row: i64,
/// first_pair: i64, out: memref<?x?xT>)` for both kinds of noise and T =
/// `elementType` (f32 or f64), unless present: row i of `out` gets the noise
/// of global row first_row + i.
void addNoiseKernels(ModuleOp module, FloatType elementType, bool gpu);

/// Adds the IWAE kernels of T = `elementType`, unless present:
/// `abi::getIwaeStepSymbol(f64)(first: i64, bound, largest, total:
/// memref<?xT>)` folds one path's bounds into the running maximum and
/// scaled sum (`first`: the sum starts at this path), and
/// `abi::getIwaeFinishSymbol(f64)(k: i64, largest, total, out)` writes
/// log((1/k) sum_j exp(bound_j)).
void addEstimateKernels(ModuleOp module, FloatType elementType, bool gpu);

/// Both of the above. `gpu`: grid functions marked `nf.gpu_kernel` (a row
/// per thread); else public functions with the C interface that loop over
/// the rows.
void addRuntimeKernels(ModuleOp module, FloatType elementType, bool gpu);

/// Builds, at `b`'s insertion point in a function of the kind `gpu` says,
/// `body(row)` for every row in [0, n): the thread's row if it is one
/// (gpu), else a loop over the rows.
void buildForEachRow(OpBuilder &b, Location loc, Value n, bool gpu,
                     function_ref<void(OpBuilder &, Location, Value)> body);

} // namespace mlir::nf

#endif // NF_CODEGEN_GPU_RUNTIMEKERNELS_H
