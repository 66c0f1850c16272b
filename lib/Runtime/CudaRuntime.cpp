//===- CudaRuntime.cpp - Launching compiled kernels on a CUDA GPU ---------===//
//
// The CUDA driver is opened with dlopen on first use, so that a library
// compiled for the GPU loads and runs its CPU entries on a machine without
// one. The library's PTX is loaded once per CUDA context; the caller's
// current context is used when there is one (PyTorch, CuPy), else the
// primary context of device 0. Errors are codes plus a thread-local message;
// nothing here aborts.
//
//===----------------------------------------------------------------------===//

#include "nf/Runtime/nf_runtime.h"
#include "nf/Target/EntryPoints.h"

#include "Errors.h"

#include <dlfcn.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace {

// The few driver API types and functions used, as cuda.h declares them.
using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUdeviceptr = unsigned long long;
constexpr CUresult kSuccess = 0;
constexpr int kJitErrorLogBuffer = 5;      // CU_JIT_ERROR_LOG_BUFFER
constexpr int kJitErrorLogBufferBytes = 6; // ..._SIZE_BYTES
constexpr int kThreadsPerBlock = 128;
constexpr int kLimitMallocHeapSize = 2; // CU_LIMIT_MALLOC_HEAP_SIZE
/// Device heap for the temporaries loops yield anew (MAF's sequential
/// inverse, fixed points): about 1 KB per resident thread of a large GPU;
/// the driver's default is 8 MB.
constexpr size_t kDeviceHeapBytes = size_t(1) << 30;

struct Driver {
  CUresult (*init)(unsigned);
  CUresult (*deviceGetCount)(int *);
  CUresult (*deviceGet)(CUdevice *, int);
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*ctxGetCurrent)(CUcontext *);
  CUresult (*ctxSetCurrent)(CUcontext);
  CUresult (*ctxSetLimit)(int, size_t);
  CUresult (*moduleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                               void **);
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*memAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*memFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*memAlloc)(CUdeviceptr *, size_t);
  CUresult (*memFree)(CUdeviceptr);
  CUresult (*memcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*memcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*getErrorName)(CUresult, const char **);
};

thread_local std::string lastError;

/// The CUDA name of `result`: the driver's, else from the codes a driver
/// that cannot name them (the toolkit's stub) returns.
std::string getErrorName(const Driver &driver, CUresult result) {
  const char *name = nullptr;
  if (driver.getErrorName(result, &name) == kSuccess && name)
    return name;
  switch (result) {
  case 34:
    return "CUDA_ERROR_STUB_LIBRARY";
  case 35:
    return "CUDA_ERROR_INSUFFICIENT_DRIVER";
  case 100:
    return "CUDA_ERROR_NO_DEVICE";
  default:
    return "CUDA error " + std::to_string(result);
  }
}

int fail(int code, std::string message) {
  lastError = std::move(message);
  return code;
}

/// The driver, opened and initialized once; null with `why` set if there
/// is none.
const Driver *getDriver(std::string &why) {
  static std::once_flag once;
  static Driver driver;
  static bool usable = false;
  static std::string failure;
  std::call_once(once, [] {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *error = dlerror();
      failure = std::string("no CUDA driver: cannot load libcuda.so.1 (") +
                (error ? error : "unknown error") + ")";
      return;
    }
    bool complete = true;
    auto bind = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
          dlsym(lib, name));
      complete &= fn != nullptr;
    };
    bind(driver.init, "cuInit");
    bind(driver.deviceGetCount, "cuDeviceGetCount");
    bind(driver.deviceGet, "cuDeviceGet");
    bind(driver.primaryCtxRetain, "cuDevicePrimaryCtxRetain");
    bind(driver.ctxGetCurrent, "cuCtxGetCurrent");
    bind(driver.ctxSetCurrent, "cuCtxSetCurrent");
    bind(driver.ctxSetLimit, "cuCtxSetLimit");
    bind(driver.moduleLoadDataEx, "cuModuleLoadDataEx");
    bind(driver.moduleGetFunction, "cuModuleGetFunction");
    bind(driver.launchKernel, "cuLaunchKernel");
    bind(driver.memAllocAsync, "cuMemAllocAsync");
    bind(driver.memFreeAsync, "cuMemFreeAsync");
    bind(driver.memAlloc, "cuMemAlloc_v2");
    bind(driver.memFree, "cuMemFree_v2");
    bind(driver.memcpyHtoD, "cuMemcpyHtoD_v2");
    bind(driver.memcpyDtoH, "cuMemcpyDtoH_v2");
    bind(driver.getErrorName, "cuGetErrorName");
    if (!complete) {
      failure = "the CUDA driver (libcuda.so.1) lacks functions this "
                "runtime needs (CUDA 11.2 or newer)";
      return;
    }
    int count = 0;
    CUresult result = driver.init(0);
    if (result == kSuccess)
      result = driver.deviceGetCount(&count);
    if (result != kSuccess) {
      failure =
          "no CUDA device: cuInit failed: " + getErrorName(driver, result);
      return;
    }
    if (count == 0) {
      failure = "no CUDA device: the driver found no GPU";
      return;
    }
    usable = true;
  });
  why = failure;
  return usable ? &driver : nullptr;
}

/// NF_ERROR_DEVICE with the driver's name for `result`.
int failDriver(const Driver &driver, CUresult result, const char *call) {
  return fail(NF_ERROR_DEVICE,
              std::string(call) + " failed: " + getErrorName(driver, result));
}

#define NF_CUDA_CHECK(driver, call)                                            \
  do {                                                                         \
    CUresult result_ = (call);                                                 \
    if (result_ != kSuccess)                                                   \
      return failDriver(driver, result_, #call);                               \
  } while (false)

/// Makes a context current: the caller's, else device 0's primary one.
int ensureContext(const Driver &driver, CUcontext &context) {
  NF_CUDA_CHECK(driver, driver.ctxGetCurrent(&context));
  if (context)
    return NF_OK;
  CUdevice device;
  NF_CUDA_CHECK(driver, driver.deviceGet(&device, 0));
  NF_CUDA_CHECK(driver, driver.primaryCtxRetain(&context, device));
  NF_CUDA_CHECK(driver, driver.ctxSetCurrent(context));
  return NF_OK;
}

/// The driver, with a current context, or an error code.
int openDevice(const Driver *&driver) {
  std::string why;
  driver = getDriver(why);
  if (!driver)
    return fail(NF_ERROR_NO_DEVICE, why);
  CUcontext context;
  return ensureContext(*driver, context);
}

/// The kernel `body` of `module` in the current context.
int getFunction(const Driver &driver, const nfrt_cuda_module *module,
                const char *body, CUfunction &function) {
  static std::mutex mutex;
  static std::map<std::pair<const nfrt_cuda_module *, CUcontext>, CUmodule>
      modules;
  static std::map<std::pair<CUmodule, std::string>, CUfunction> functions;
  CUcontext context;
  NF_CUDA_CHECK(driver, driver.ctxGetCurrent(&context));
  std::lock_guard<std::mutex> lock(mutex);
  CUmodule &loaded = modules[{module, context}];
  if (!loaded) {
    // Before the first kernel of this library runs in the context; a
    // context whose heap is in use keeps its size.
    (void)driver.ctxSetLimit(kLimitMallocHeapSize, kDeviceHeapBytes);
    char log[4096] = "";
    int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferBytes};
    void *values[] = {log, reinterpret_cast<void *>(sizeof(log))};
    CUresult result =
        driver.moduleLoadDataEx(&loaded, module->ptx, 2, options, values);
    if (result != kSuccess) {
      loaded = nullptr;
      failDriver(driver, result, "cuModuleLoadDataEx (the library's PTX)");
      lastError += log[0] ? std::string(": ") + log : "";
      return NF_ERROR_DEVICE;
    }
  }
  CUfunction &fn = functions[{loaded, body}];
  if (!fn)
    NF_CUDA_CHECK(driver, driver.moduleGetFunction(&fn, loaded, body));
  function = fn;
  return NF_OK;
}

/// The launch parameters of a kernel's memref arguments: each expands to
/// its descriptor (allocated, aligned, offset, sizes, strides), as the NVVM
/// lowering of `gpu.func` arguments expects.
class KernelParams {
public:
  void addRows(const void *data, int64_t n, int64_t cols) {
    addPointer(data);
    addPointer(data);
    addInt(0);
    if (cols > 0) {
      addInt(n);
      addInt(cols);
      addInt(cols);
      addInt(1);
    } else {
      addInt(n);
      addInt(1);
    }
  }
  void addInt(int64_t v) {
    Slot slot;
    slot.integer = v;
    slots.push_back(slot);
  }
  void **get() {
    pointers.clear();
    for (Slot &slot : slots)
      pointers.push_back(&slot);
    return pointers.data();
  }

private:
  union Slot {
    const void *pointer;
    int64_t integer;
  };
  void addPointer(const void *p) { slots.push_back(Slot{p}); }
  std::vector<Slot> slots;
  std::vector<void *> pointers;
};

/// One entry's work on the device: the driver and stream, the grid over
/// the n rows, and the scratch arrays it allocates (freed stream-ordered
/// when it finishes).
class DeviceCall {
public:
  DeviceCall(const nfrt_model *model, const nfrt_cuda_module *module,
             int64_t firstRow, int64_t n, void *stream)
      : model(model), module(module), firstRow(firstRow), n(n),
        stream(static_cast<CUstream>(stream)) {}
  /// Stream-ordered: freed once the kernels before it have run.
  ~DeviceCall() {
    for (CUdeviceptr ptr : scratch)
      if (ptr)
        driver->memFreeAsync(ptr, stream);
  }

  /// Checks the arguments, then opens the device. For n > 0 the input rows
  /// (unless `needsInput` is false) and the context (of conditional
  /// models) must be given.
  int open(bool needsInput, const void *in, const void *ctx) {
    if (n < 0)
      return fail(NF_ERROR_INVALID_ARGUMENT, "n must not be negative");
    if (!nfrt::isRowRange(firstRow, n))
      return fail(NF_ERROR_INVALID_ARGUMENT,
                  "first_row must not be negative, nor first_row + n "
                  "overflow");
    if (n > 0 && ((needsInput && !in) || (model->context_dim > 0 && !ctx)))
      return fail(NF_ERROR_NULL_POINTER, "a device array is NULL");
    return openDevice(driver);
  }

  int getFunction(const char *name, CUfunction &function) {
    return ::getFunction(*driver, module, name, function);
  }

  /// `given`, else n scratch rows of `cols` values (0: one per row) for
  /// the purpose `slot`, allocated once per call: the launches of one call
  /// are ordered on its stream, so IWAE paths reuse the first path's
  /// scratch. Null when out of device memory.
  void *rows(void *given, int64_t cols, int slot) {
    if (given)
      return given;
    CUdeviceptr &ptr = scratch[slot];
    if (!ptr && driver->memAllocAsync(
                    &ptr, n * (cols > 0 ? cols : 1) * model->element_size,
                    stream) != kSuccess) {
      ptr = 0;
      return nullptr;
    }
    return reinterpret_cast<void *>(ptr);
  }
  /// The purposes of scratch rows.
  enum Slot {
    kDrawn,
    kLatents,
    kLayerNoise,
    kMapped,
    kLogDet,
    kLogProb,
    kBound,
    kLargest,
    kTotal,
    kNumSlots
  };
  int outOfMemory() const {
    return fail(NF_ERROR_OUT_OF_MEMORY, "cuMemAllocAsync failed");
  }

  /// `fn` on the grid of one thread per row.
  int launch(CUfunction fn, KernelParams &params) {
    auto blocks =
        static_cast<unsigned>((n + kThreadsPerBlock - 1) / kThreadsPerBlock);
    CUresult result =
        driver->launchKernel(fn, blocks, 1, 1, kThreadsPerBlock, 1, 1, 0,
                             stream, params.get(), nullptr);
    return result == kSuccess ? NF_OK
                              : failDriver(*driver, result, "cuLaunchKernel");
  }

  /// The direction body `body` on the rows (see nfrt_cuda_run), with the
  /// noise it needs drawn from `seed`; NULL outputs get scratch.
  int runBody(const char *body, const char *baseFromNoise, int input,
              const void *in, uint64_t seed, const void *ctx, void *mapped,
              void *logDet, void *logProb);

private:
  const nfrt_model *model;
  const nfrt_cuda_module *module;
  int64_t firstRow, n; ///< the global rows [firstRow, firstRow + n)
  CUstream stream;
  const Driver *driver = nullptr;
  CUdeviceptr scratch[kNumSlots] = {};
};

int DeviceCall::runBody(const char *body, const char *baseFromNoise, int input,
                        const void *in, uint64_t seed, const void *ctx,
                        void *mapped, void *logDet, void *logProb) {
  bool generative = input != NFRT_INPUT_DATA;
  bool f64 = model->element_size == 8;
  int64_t layerCols = generative ? model->inverse_noise : model->forward_noise;
  CUfunction function, base = nullptr, noise = nullptr, layerNoise = nullptr;
  if (int code = getFunction(body, function))
    return code;
  if (input == NFRT_INPUT_NOISE) {
    if (int code = getFunction(baseFromNoise, base))
      return code;
    std::string name = mlir::nf::abi::getNoiseKernelSymbol(
        model->noise == NFRT_NOISE_UNIFORM, f64);
    if (int code = getFunction(name.c_str(), noise))
      return code;
  }
  if (layerCols > 0) {
    std::string name = mlir::nf::abi::getNoiseKernelSymbol(true, f64);
    if (int code = getFunction(name.c_str(), layerNoise))
      return code;
  }

  const void *rowsIn = in;
  if (input == NFRT_INPUT_NOISE) {
    // Base noise of (seed, row), then the latents it maps to.
    void *drawn = rows(nullptr, model->latent_dim, kDrawn);
    void *latents = rows(nullptr, model->latent_dim, kLatents);
    if (!drawn || !latents)
      return outOfMemory();
    KernelParams draw;
    draw.addInt(static_cast<int64_t>(seed));
    draw.addInt(firstRow);
    draw.addInt(0);
    draw.addRows(drawn, n, model->latent_dim);
    if (int code = launch(noise, draw))
      return code;
    KernelParams toLatents;
    toLatents.addRows(drawn, n, model->latent_dim);
    toLatents.addRows(latents, n, model->latent_dim);
    if (int code = launch(base, toLatents))
      return code;
    rowsIn = latents;
  }
  void *layer = nullptr;
  if (layerCols > 0) {
    if (!(layer = rows(nullptr, layerCols, kLayerNoise)))
      return outOfMemory();
    KernelParams draw;
    draw.addInt(static_cast<int64_t>(seed));
    draw.addInt(firstRow);
    draw.addInt(mlir::nf::abi::kLayerNoiseFirstPair);
    draw.addRows(layer, n, layerCols);
    if (int code = launch(layerNoise, draw))
      return code;
  }
  int64_t mappedCols = generative ? model->dim : model->latent_dim;
  void *outMapped = rows(mapped, mappedCols, kMapped);
  void *outLogDet = generative ? nullptr : rows(logDet, 0, kLogDet);
  void *outLogProb = rows(logProb, 0, kLogProb);
  if (!outMapped || (!generative && !outLogDet) || !outLogProb)
    return outOfMemory();
  KernelParams params;
  params.addRows(rowsIn, n, generative ? model->latent_dim : model->dim);
  if (model->context_dim > 0)
    params.addRows(ctx, n, model->context_dim);
  if (layer)
    params.addRows(layer, n, layerCols);
  params.addRows(outMapped, n, mappedCols);
  if (!generative)
    params.addRows(outLogDet, n, 0);
  params.addRows(outLogProb, n, 0);
  return launch(function, params);
}

} // namespace

extern "C" {

int nfrt_fail(int code, const char *message) {
  return fail(code, message ? message : "");
}

const char *nfrt_last_error_message(void) { return lastError.c_str(); }

int nfrt_cuda_run(const nfrt_model *model, const nfrt_cuda_module *module,
                  const char *body, const char *base_from_noise, int input,
                  const void *in, int64_t first_row, int64_t n, uint64_t seed,
                  const void *ctx, void *mapped, void *log_det, void *log_prob,
                  void *stream) {
  return nfrt::guardExceptions([&]() -> int {
    DeviceCall call(model, module, first_row, n, stream);
    if (int code = call.open(input != NFRT_INPUT_NOISE, in, ctx))
      return code;
    if (n == 0)
      return NF_OK;
    return call.runBody(body, base_from_noise, input, in, seed, ctx, mapped,
                        log_det, log_prob);
  });
}

int nfrt_cuda_iwae(const nfrt_model *model, const nfrt_cuda_module *module,
                   const char *body, const void *x, int64_t first_row,
                   int64_t n, int64_t k, uint64_t seed, const void *ctx,
                   void *out, void *stream) {
  return nfrt::guardExceptions([&]() -> int {
    if (k < 1)
      return fail(NF_ERROR_INVALID_ARGUMENT, "k must be at least 1");
    DeviceCall call(model, module, first_row, n, stream);
    if (int code = call.open(/*needsInput=*/true, x, ctx))
      return code;
    if (n == 0)
      return NF_OK;
    if (!out)
      return fail(NF_ERROR_NULL_POINTER, "a device array is NULL");
    // Paths that draw no noise are all the same: one run is the estimate
    // (bit for bit what the log-mean-exp of k equal values gives).
    if (model->forward_noise == 0)
      return call.runBody(body, nullptr, NFRT_INPUT_DATA, x, seed, ctx, nullptr,
                          nullptr, out);
    bool f64 = model->element_size == 8;
    CUfunction step, finish;
    if (int code = call.getFunction(
            mlir::nf::abi::getIwaeStepSymbol(f64).c_str(), step))
      return code;
    if (int code = call.getFunction(
            mlir::nf::abi::getIwaeFinishSymbol(f64).c_str(), finish))
      return code;
    void *bound = call.rows(nullptr, 0, DeviceCall::kBound),
         *largest = call.rows(nullptr, 0, DeviceCall::kLargest),
         *total = call.rows(nullptr, 0, DeviceCall::kTotal);
    if (!bound || !largest || !total)
      return call.outOfMemory();
    for (int64_t path = 0; path < k; ++path) {
      uint64_t pathSeed = mlir::nf::abi::getIwaePathSeed(seed, path, k);
      if (int code = call.runBody(body, nullptr, NFRT_INPUT_DATA, x, pathSeed,
                                  ctx, nullptr, nullptr, bound))
        return code;
      KernelParams fold;
      fold.addInt(path == 0);
      for (void *array : {bound, largest, total})
        fold.addRows(array, n, 0);
      if (int code = call.launch(step, fold))
        return code;
    }
    KernelParams result;
    result.addInt(k);
    for (void *array : {largest, total, out})
      result.addRows(array, n, 0);
    return call.launch(finish, result);
  });
}

int nfrt_cuda_malloc(void **ptr, int64_t bytes) {
  return nfrt::guardExceptions([&]() -> int {
    const Driver *driver;
    if (!ptr)
      return fail(NF_ERROR_NULL_POINTER, "ptr is NULL");
    if (int code = openDevice(driver))
      return code;
    CUdeviceptr device = 0;
    NF_CUDA_CHECK(*driver,
                  driver->memAlloc(&device, bytes > 0 ? size_t(bytes) : 1));
    *ptr = reinterpret_cast<void *>(device);
    return NF_OK;
  });
}

int nfrt_cuda_free(void *ptr) {
  return nfrt::guardExceptions([&]() -> int {
    const Driver *driver;
    if (int code = openDevice(driver))
      return code;
    if (ptr)
      NF_CUDA_CHECK(*driver,
                    driver->memFree(reinterpret_cast<CUdeviceptr>(ptr)));
    return NF_OK;
  });
}

int nfrt_cuda_memcpy(void *dst, const void *src, int64_t bytes, int kind) {
  return nfrt::guardExceptions([&]() -> int {
    const Driver *driver;
    if (bytes < 0 || (kind != 0 && kind != 1))
      return fail(NF_ERROR_INVALID_ARGUMENT, "bad size or copy kind");
    if (int code = openDevice(driver))
      return code;
    if (bytes == 0)
      return NF_OK;
    if (!dst || !src)
      return fail(NF_ERROR_NULL_POINTER, "a copy pointer is NULL");
    if (kind == 0)
      NF_CUDA_CHECK(
          *driver,
          driver->memcpyHtoD(reinterpret_cast<CUdeviceptr>(dst), src, bytes));
    else
      NF_CUDA_CHECK(
          *driver,
          driver->memcpyDtoH(dst, reinterpret_cast<CUdeviceptr>(src), bytes));
    return NF_OK;
  });
}

} // extern "C"
