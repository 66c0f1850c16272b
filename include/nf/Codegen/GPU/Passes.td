//===- Passes.td - GPU codegen passes ----------------------*- tablegen -*-===//
//
// Passes of the CUDA pipeline only: kernels as one row per GPU thread, and
// the device code as a gpu.module for NVVM.
//
//===----------------------------------------------------------------------===//

#ifndef NF_CODEGEN_GPU_PASSES_TD
#define NF_CODEGEN_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def NFGPUMapRowsPass : Pass<"nf-gpu-map-rows", "ModuleOp"> {
  let summary = "Run each kernel body with one row per GPU thread";
  let description = [{
    Every kernel body (`nf.kernel_body`, arguments that are row arrays, see
    nf-tile-kernels) becomes a grid function marked `nf.gpu_kernel`: thread
    `blockIdx.x * blockDim.x + threadIdx.x` runs `<body>_row`, the body on
    that one row with static shapes, through the whole flow; threads past the
    last row do nothing. The public kernels, which on the CPU only allocate
    scratch rows and call the bodies, are removed: the CUDA runtime launches
    the bodies itself. The noise kernels of the bodies' element types are
    added too (see nf-add-runtime-kernels).
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect"
  ];
}

def NFAddRuntimeKernelsPass : Pass<"nf-add-runtime-kernels", "ModuleOp"> {
  let summary = "Add the runtime's noise streams and IWAE steps as kernels";
  let description = [{
    Adds the kernels the CUDA runtime launches besides the bodies
    (RuntimeKernels.h): `nf_noise_normal_<T>` and `nf_noise_uniform_<T>(seed,
    first_row, first_pair, out: memref<?x?xT>)`, where row i of `out` gets
    the noise values keyed by (seed, first_row + i, pair) from `first_pair`
    on, the stream of the
    runtime's `nfrt_fill_noise_*`; and `nf_iwae_step_<T>` /
    `nf_iwae_finish_<T>`, the runtime's running log-sum-exp over IWAE paths.
    nf-gpu-map-rows adds them as GPU kernels; this pass adds them for
    `target=cpu` too, so tests can run the same IR against the runtime.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"gpu\"", "gpu or cpu">,
    Option<"elementType", "element-type", "std::string", "\"f32\"",
           "f32 or f64">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect", "::mlir::func::FuncDialect"
  ];
}

def NFGPUOutlineKernelsPass : Pass<"nf-gpu-outline-kernels", "ModuleOp"> {
  let summary = "Move the device code into a gpu.module for NVVM";
  let description = [{
    After bufferization: every function of the module moves into
    `gpu.module @nf_kernels` with an NVVM target; grid functions
    (`nf.gpu_kernel`) become `gpu.func` kernels with the same arguments
    (memref descriptors, expanded by the NVVM lowering). Copies between
    strided views become loop nests (the host lowers them to a library
    call).
  }];
  let options = [
    Option<"chip", "chip", "std::string", "\"sm_90\"", "The GPU architecture">,
    Option<"features", "features", "std::string", "\"+ptx80\"",
           "PTX features">,
    Option<"optLevel", "opt-level", "int", "3", "NVPTX optimization level">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def NFGPUStageConstantsPass
    : Pass<"nf-gpu-stage-constants", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Copy the constants kernels read into shared memory";
  let description = [{
    With one row per thread, all threads of a block read the same
    conditioner weight at once. Each constant `memref.global` a kernel
    reaches (through its calls) gets a twin in workgroup memory, filled
    by the block's threads at the kernel's start and followed by a
    `gpu.barrier`; every `memref.get_global` of it reads the twin through
    a `memref.memory_space_cast`. Constants are taken smallest first, each
    only if it fits `shared-memory-bytes` in every kernel that reaches it,
    so a function shared by kernels finds it in the same place; the rest
    stay in global memory.
  }];
  let options = [
    Option<"sharedMemoryBytes", "shared-memory-bytes", "int64_t",
           "48 * 1024",
           "Shared memory per kernel for constants (48 KiB: the static "
           "limit; 0: none)">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect"
  ];
}

def NFGPUNativeMathPass : Pass<"nf-gpu-native-math"> {
  let summary = "Math ops with a PTX instruction to LLVM intrinsics";
  let description = [{
    Scalar f32 and f64 `math.absf`, `fma`, `floor`, `ceil`, `sqrt`,
    `copysign`, `round`, `roundeven` and `trunc` (what the polynomial
    approximations leave) become `llvm.call_intrinsic` of the LLVM
    intrinsics NVPTX selects as instructions, so that convert-gpu-to-nvvm
    does not turn them into libdevice calls and the PTX needs no CUDA
    toolkit. Other math ops (f64 transcendentals) are left to libdevice.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // NF_CODEGEN_GPU_PASSES_TD
