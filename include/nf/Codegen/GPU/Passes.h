//===- Passes.h - GPU codegen passes ----------------------------*- C++ -*-===//

#ifndef NF_CODEGEN_GPU_PASSES_H
#define NF_CODEGEN_GPU_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"

namespace mlir::nf {

#define GEN_PASS_DECL
#include "nf/Codegen/GPU/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nf/Codegen/GPU/Passes.h.inc"

/// The name of the gpu.module nf-gpu-outline-kernels creates.
inline constexpr const char *kGPUModuleName = "nf_kernels";

} // namespace mlir::nf

#endif // NF_CODEGEN_GPU_PASSES_H
