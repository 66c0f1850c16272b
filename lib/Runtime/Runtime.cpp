//===- Runtime.cpp - Runtime of compiled nf models ------------------------===//
//
// Argument checks, batch splitting over threads, Philox noise, and the
// memrefCopy helper that lowered kernels may call. No global mutable state:
// every call owns its threads and buffers, so concurrent calls are safe.
//
//===----------------------------------------------------------------------===//

#include "nf/Runtime/nf_runtime.h"
#include "nf/Target/EntryPoints.h"

#include "Errors.h"
#include "ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

// The input kinds the glue passes are those of the ABI table's kernels.
static_assert(NFRT_INPUT_DATA == int(mlir::nf::abi::Input::Data) &&
                  NFRT_INPUT_LATENT == int(mlir::nf::abi::Input::Latent) &&
                  NFRT_INPUT_NOISE == int(mlir::nf::abi::Input::Noise),
              "nfrt_input and abi::Input disagree");

namespace {

/// Rows per kernel call, the unit of work the threads share: at most 128,
/// enough to amortize the call, and fewer for wide rows (images), so that a
/// block's arrays stay within kBlockBytes, about a core's L2 share.
constexpr int64_t kMaxRowsPerBlock = 128;
constexpr int64_t kBlockBytes = 512 << 10;

nfrt_memref2 rows2(const void *base, int64_t begin, int64_t end, int64_t cols,
                   int32_t elementSize) {
  char *data = static_cast<char *>(const_cast<void *>(base));
  if (data)
    data += begin * cols * elementSize;
  return {data, data, 0, {end - begin, cols}, {cols, 1}};
}

nfrt_memref1 rows1(void *base, int64_t begin, int64_t end,
                   int32_t elementSize) {
  char *data = static_cast<char *>(base);
  if (data)
    data += begin * elementSize;
  return {data, data, 0, {end - begin}, {1}};
}

/// A uniform in [0, 1) with the precision of T, from two 32-bit words.
template <typename T> T toUnit(uint32_t hi, uint32_t lo);
template <> double toUnit<double>(uint32_t hi, uint32_t lo) {
  uint64_t bits =
      ((static_cast<uint64_t>(hi) << 21) ^ (lo >> 11)) & ((1ull << 53) - 1);
  return static_cast<double>(bits) * 0x1.0p-53;
}
template <> float toUnit<float>(uint32_t hi, uint32_t) {
  return static_cast<float>(hi >> 8) * 0x1.0p-24f;
}

/// Philox block (row, pair, attempt) under key `seed`.
void philoxBlock(uint64_t seed, int64_t row, int64_t pair, uint32_t attempt,
                 uint32_t out[4]) {
  uint32_t counter[4] = {
      static_cast<uint32_t>(row),
      static_cast<uint32_t>(static_cast<uint64_t>(row) >> 32),
      static_cast<uint32_t>(pair), attempt};
  uint32_t key[2] = {static_cast<uint32_t>(seed),
                     static_cast<uint32_t>(seed >> 32)};
  nfrt_philox4x32_10(counter, key, out);
}

/// Noise values (row, 2 * pair) and (row, 2 * pair + 1), computed in T, a
/// function of (seed, row, pair) only. Uniforms: the two of block
/// (row, pair, 0). Normals: Marsaglia's polar method on points of the
/// square [-1, 1)^2 drawn from blocks (row, pair, attempt) for attempts
/// 0, 1, ... until one lands in the unit disc; it needs no sine or cosine.
template <typename T>
void noisePair(int noise, uint64_t seed, int64_t row, int64_t pair, T out[2]) {
  uint32_t r[4];
  if (noise == NFRT_NOISE_UNIFORM) {
    philoxBlock(seed, row, pair, 0, r);
    out[0] = toUnit<T>(r[0], r[1]);
    out[1] = toUnit<T>(r[2], r[3]);
    return;
  }
  // A block holds two float points (32 bits per coordinate) or one double
  // point (64 bits per coordinate).
  constexpr int pointsPerBlock = sizeof(T) == 4 ? 2 : 1;
  for (uint32_t attempt = 0;; ++attempt) {
    philoxBlock(seed, row, pair, attempt, r);
    for (int point = 0; point < pointsPerBlock; ++point) {
      const uint32_t *w = pointsPerBlock == 2 ? r + 2 * point : r;
      T u = T(2) * (pointsPerBlock == 2 ? toUnit<T>(w[0], 0)
                                        : toUnit<T>(w[0], w[1])) -
            T(1);
      T v = T(2) * (pointsPerBlock == 2 ? toUnit<T>(w[1], 0)
                                        : toUnit<T>(w[2], w[3])) -
            T(1);
      T s = u * u + v * v;
      if (s > T(0) && s < T(1)) {
        T factor = std::sqrt(T(-2) * std::log(s) / s);
        out[0] = u * factor;
        out[1] = v * factor;
        return;
      }
    }
  }
}

/// Layer noise uses pair counters from 2^31 on, base noise those below.
constexpr int64_t kLayerNoisePairs = mlir::nf::abi::kLayerNoiseFirstPair;

template <typename T>
void fillNoise(int noise, uint64_t seed, int64_t rowBegin, int64_t rowEnd,
               int64_t cols, T *out, int64_t firstPair = 0) {
  for (int64_t row = rowBegin; row < rowEnd; ++row, out += cols)
    for (int64_t col = 0; col < cols; col += 2) {
      T pair[2];
      noisePair(noise, seed, row, firstPair + col / 2, pair);
      out[col] = pair[0];
      if (col + 1 < cols)
        out[col + 1] = pair[1];
    }
}

/// Scratch memory of the kernels: lowered with MLIR's generic allocation
/// functions, their temporary buffers come from this per-thread arena. Freed
/// buffers go to a free list of their power-of-two size class and are
/// reused, so temporaries that loops allocate and free every iteration (MAF's
/// sequential inverse, fixed points, MCMC steps) take bounded memory; the
/// rest is a pointer bump in a few large blocks. runRows resets it after
/// every kernel call (kernels write results only into the caller's buffers,
/// so nothing outlives a call), merging the blocks into one, up to
/// kKeepBytes: a call's peak is not kept for ever.
class Arena {
public:
  ~Arena() { releaseBlocks(); }

  /// `size` bytes aligned to `alignment`, or null when out of memory.
  void *allocate(size_t size, size_t alignment) {
    if (alignment <= kHeader) {
      unsigned sizeClass = getSizeClass(size + kHeader);
      char *block = freeLists[sizeClass];
      if (block) {
        std::memcpy(&freeLists[sizeClass], block + sizeof(unsigned) * 2,
                    sizeof(char *));
      } else if (!(block = bump(size_t(1) << sizeClass, kHeader))) {
        return nullptr;
      }
      std::memcpy(block, &sizeClass, sizeof(sizeClass));
      return block + kHeader;
    }
    // Rare over-aligned buffers are not recycled.
    char *block = bump(size + alignment + kHeader, alignment);
    if (!block)
      return nullptr;
    char *data = block + ((kHeader + alignment - 1) / alignment) * alignment;
    unsigned unrecycled = kUnrecycled;
    std::memcpy(data - kHeader, &unrecycled, sizeof(unrecycled));
    return data;
  }

  void release(void *data) {
    if (!data)
      return;
    char *block = static_cast<char *>(data) - kHeader;
    unsigned sizeClass;
    std::memcpy(&sizeClass, block, sizeof(sizeClass));
    if (sizeClass >= kNumClasses)
      return;
    std::memcpy(block + sizeof(unsigned) * 2, &freeLists[sizeClass],
                sizeof(char *));
    freeLists[sizeClass] = block;
  }

  /// Frees everything; keeps one block as large as all of them together,
  /// unless that is more than kKeepBytes.
  void reset() {
    used = 0;
    std::fill(std::begin(freeLists), std::end(freeLists), nullptr);
    if (blocks.size() <= 1 && total <= kKeepBytes)
      return;
    size_t size = total;
    releaseBlocks();
    if (size > kKeepBytes)
      return;
    if (char *data = static_cast<char *>(
            std::aligned_alloc(kHeader, roundUp(size, kHeader)))) {
      blocks.push_back({data, size});
      total = size;
    }
  }

  /// Bytes the arena holds from the system.
  size_t getReserved() const { return total; }

private:
  static constexpr size_t kHeader = 64; // keeps data 64-byte aligned
  static constexpr unsigned kNumClasses = 64, kUnrecycled = ~0u;
  static constexpr size_t kKeepBytes = size_t(64) << 20;

  static size_t roundUp(size_t value, size_t to) {
    return (value + to - 1) / to * to;
  }
  static unsigned getSizeClass(size_t bytes) {
    unsigned sizeClass = 7; // 128 bytes, the header and a line of data
    while ((size_t(1) << sizeClass) < bytes)
      ++sizeClass;
    return sizeClass;
  }

  /// `size` bytes at `alignment` from the current block or a new one.
  char *bump(size_t size, size_t alignment) {
    if (char *p = bumpCurrent(size, alignment))
      return p;
    // Blocks grow with the total, so a call needs few of them.
    size_t blockSize =
        roundUp(std::max({size + alignment, size_t(1) << 20, total}), kHeader);
    char *data = static_cast<char *>(std::aligned_alloc(kHeader, blockSize));
    if (!data)
      return nullptr;
    total += blockSize;
    blocks.push_back({data, blockSize});
    used = 0;
    return bumpCurrent(size, alignment);
  }

  char *bumpCurrent(size_t size, size_t alignment) {
    if (blocks.empty())
      return nullptr;
    uintptr_t base = reinterpret_cast<uintptr_t>(blocks.back().data);
    uintptr_t start = roundUp(base + used, alignment);
    if (start + size > base + blocks.back().size)
      return nullptr;
    used = start + size - base;
    return reinterpret_cast<char *>(start);
  }

  void releaseBlocks() {
    for (Block &block : blocks)
      std::free(block.data);
    blocks.clear();
    total = 0;
    used = 0;
  }

  struct Block {
    char *data;
    size_t size;
  };
  std::vector<Block> blocks;
  size_t used = 0, total = 0;
  char *freeLists[kNumClasses] = {};
};

thread_local Arena scratch;

/// Where a kernel call goes when an allocation fails: the kernels cannot
/// handle a null buffer, so the allocator jumps back out of the kernel
/// (generated code holds no resources a jump could leak; the arena is reset
/// after it).
thread_local std::jmp_buf *outOfMemory = nullptr;

/// Calls the kernel; false if it ran out of memory.
bool callKernel(nfrt_kernel kernel, nfrt_memref2 *in, nfrt_memref2 *ctx,
                nfrt_memref2 *noise, nfrt_memref2 *out2, nfrt_memref1 *out1) {
  std::jmp_buf jump;
  std::jmp_buf *outer = outOfMemory;
  if (setjmp(jump)) {
    outOfMemory = outer;
    return false;
  }
  outOfMemory = &jump;
  kernel(in, ctx, noise, out2, out1);
  outOfMemory = outer;
  return true;
}

struct Call {
  const nfrt_model *model;
  nfrt_kernel kernel;
  int input;
  const void *in;
  /// The global indices of the call's rows, [firstRow, end): they key the
  /// random draws.
  int64_t firstRow, end;
  uint64_t seed;
  const void *ctx;
  void *out2;
  int64_t out2Cols;
  void *out1;
};

int64_t getLayerNoiseCols(const Call &call) {
  return call.input == NFRT_INPUT_DATA ? call.model->forward_noise
                                       : call.model->inverse_noise;
}

/// The rows of one block of `call`: the values a row reads and writes
/// (input or base noise, context, layer noise, outputs) times the rows fit
/// kBlockBytes; a power of two, so that blocks tile the global rows on a
/// grid that multiples of kMaxRowsPerBlock align with.
int64_t getRowsPerBlock(const Call &call) {
  const nfrt_model &m = *call.model;
  int64_t values = std::max(m.dim, m.latent_dim) + m.context_dim +
                   getLayerNoiseCols(call) + call.out2Cols + 1;
  int64_t rows = kMaxRowsPerBlock;
  while (rows > 1 && rows * values * m.element_size > kBlockBytes)
    rows /= 2;
  return rows;
}

/// `rows` rows of `cols` values: the caller's rows [begin, end) after `lead`
/// rows of zeros and before more zeros, in `storage`, or the caller's rows
/// in place when there is no padding. Padding gives a block at an end of
/// the caller's rows the rows the same grid block has in a whole batch.
nfrt_memref2 paddedRows(const void *base, int64_t begin, int64_t end,
                        int64_t lead, int64_t rows, int64_t cols, int32_t size,
                        std::vector<char> &storage) {
  if ((lead == 0 && end - begin == rows) || !base)
    return rows2(base, begin, end, cols, size);
  if (cols == 0) // Nothing to copy (a context-free model given a context).
    return rows2(base, 0, rows, cols, size);
  storage.assign(static_cast<size_t>(rows * cols * size), 0);
  std::memcpy(storage.data() + lead * cols * size,
              static_cast<const char *>(base) + begin * cols * size,
              static_cast<size_t>((end - begin) * cols * size));
  return rows2(storage.data(), 0, rows, cols, size);
}

/// Runs the kernel once on the global rows [blockBegin, blockEnd), a block
/// of the grid; rows outside the caller's [call.firstRow, call.end) are
/// padding whose results are dropped. Returns an error code.
int runBlock(const Call &call, int64_t blockBegin, int64_t blockEnd) {
  const nfrt_model &m = *call.model;
  int32_t size = m.element_size;
  int64_t lead = std::max<int64_t>(0, call.firstRow - blockBegin);
  // The caller's rows of the block.
  int64_t b = blockBegin + lead - call.firstRow;
  int64_t e = std::min(blockEnd, call.end) - call.firstRow;
  int64_t rows = blockEnd - blockBegin;
  bool padded = lead > 0 || e - b < rows;
  std::vector<char> input, context, noise, layerNoise, mapped, perRow;
  nfrt_memref2 in;
  if (call.input == NFRT_INPUT_NOISE) {
    noise.resize(static_cast<size_t>(rows * m.latent_dim * size));
    if (size == 4)
      nfrt_fill_noise_f32(m.noise, call.seed, blockBegin, blockEnd,
                          m.latent_dim,
                          reinterpret_cast<float *>(noise.data()));
    else
      nfrt_fill_noise_f64(m.noise, call.seed, blockBegin, blockEnd,
                          m.latent_dim,
                          reinterpret_cast<double *>(noise.data()));
    in = rows2(noise.data(), 0, rows, m.latent_dim, size);
  } else {
    int64_t cols = call.input == NFRT_INPUT_DATA ? m.dim : m.latent_dim;
    in = paddedRows(call.in, b, e, lead, rows, cols, size, input);
  }
  nfrt_memref2 ctx =
      paddedRows(call.ctx, b, e, lead, rows, m.context_dim, size, context);
  int64_t layerCols = getLayerNoiseCols(call);
  layerNoise.resize(static_cast<size_t>(rows * layerCols * size));
  if (size == 4)
    nfrt_fill_layer_noise_f32(call.seed, blockBegin, blockEnd, layerCols,
                              reinterpret_cast<float *>(layerNoise.data()));
  else
    nfrt_fill_layer_noise_f64(call.seed, blockBegin, blockEnd, layerCols,
                              reinterpret_cast<double *>(layerNoise.data()));
  nfrt_memref2 layer = rows2(layerNoise.data(), 0, rows, layerCols, size);
  nfrt_memref2 out2;
  nfrt_memref1 out1;
  if (!padded) {
    out2 = rows2(call.out2, b, e, call.out2Cols, size);
    out1 = rows1(call.out1, b, e, size);
  } else {
    mapped.resize(static_cast<size_t>(rows * call.out2Cols * size));
    perRow.resize(static_cast<size_t>(rows * size));
    out2 = rows2(mapped.data(), 0, rows, call.out2Cols, size);
    out1 = rows1(perRow.data(), 0, rows, size);
  }
  bool ran = callKernel(call.kernel, &in, &ctx, &layer, &out2, &out1);
  scratch.reset();
  if (!ran)
    return nfrt_fail(NF_ERROR_OUT_OF_MEMORY,
                     "out of memory for the kernel's temporaries");
  if (padded) {
    if (call.out2 && call.out2Cols > 0)
      std::memcpy(static_cast<char *>(call.out2) + b * call.out2Cols * size,
                  mapped.data() + lead * call.out2Cols * size,
                  static_cast<size_t>((e - b) * call.out2Cols * size));
    if (call.out1)
      std::memcpy(static_cast<char *>(call.out1) + b * size,
                  perRow.data() + lead * size,
                  static_cast<size_t>((e - b) * size));
  }
  return NF_OK;
}

} // namespace

/// How a call's rows fill the grid blocks. Whole blocks make a row's bits
/// independent of the call: the kernels take the same path (their row tiles)
/// for it in every call. A call of fewer rows than a block may instead take
/// the kernels' one-row path, for latency.
enum class Blocks { Whole, WholeUnlessFewRows };

static int runRange(const nfrt_model *model, nfrt_kernel kernel, int input,
                    const void *in, int64_t firstRow, int64_t n, uint64_t seed,
                    const void *ctx, void *out2, int64_t out2Cols, void *out1,
                    int hasOut1, Blocks blocking) {
  if (!nfrt::isRowRange(firstRow, n))
    return NF_ERROR_INVALID_ARGUMENT;
  if ((input != NFRT_INPUT_NOISE && !in) || (model->context_dim > 0 && !ctx) ||
      (out2Cols > 0 && !out2) || (hasOut1 && !out1))
    return n == 0 ? NF_OK : NF_ERROR_NULL_POINTER;
  if (n == 0)
    return NF_OK;
  if (int rc = nfrt_check_cpu(model))
    return rc;
  int64_t end = firstRow + n;
  Call call{model, kernel, input, in,       firstRow, end,
            seed,  ctx,    out2,  out2Cols, out1};

  // The rows split into blocks of a grid over the global rows, which go to
  // the process's persistent threads one at a time (a single block runs on
  // the caller's thread). Each block is computed whole, padded where the
  // call's rows start or end inside it, so a row comes out the same
  // whatever range or batch it is computed in.
  int64_t rowsPerBlock = getRowsPerBlock(call);
  bool whole = blocking == Blocks::Whole || n >= rowsPerBlock;
  int64_t firstBlock = firstRow / rowsPerBlock;
  int64_t blocks = (end - 1) / rowsPerBlock - firstBlock + 1;
  auto runGridBlock = [&](int64_t block) {
    int64_t begin = (firstBlock + block) * rowsPerBlock;
    int64_t blockEnd = begin + rowsPerBlock;
    return nfrt::guardExceptions([&] {
      return runBlock(call, begin, whole ? blockEnd : std::min(end, blockEnd));
    });
  };
  if (blocks == 1)
    return runGridBlock(0);
  std::atomic<int> status{NF_OK};
  return nfrt::guardExceptions([&] {
    nfrt::parallelFor(blocks, nfrt::getNumThreads(), [&](int64_t block) {
      if (int rc = runGridBlock(block))
        status.store(rc);
    });
    return status.load();
  });
}

extern "C" int nfrt_run(const nfrt_model *model, nfrt_kernel kernel, int input,
                        const void *in, int64_t n, uint64_t seed,
                        const void *ctx, void *out2, int64_t out2Cols,
                        void *out1, int hasOut1) {
  return runRange(model, kernel, input, in, 0, n, seed, ctx, out2, out2Cols,
                  out1, hasOut1, Blocks::WholeUnlessFewRows);
}

extern "C" int nfrt_run_rows(const nfrt_model *model, nfrt_kernel kernel,
                             int input, const void *in, int64_t firstRow,
                             int64_t n, uint64_t seed, const void *ctx,
                             void *out2, int64_t out2Cols, void *out1,
                             int hasOut1) {
  return runRange(model, kernel, input, in, firstRow, n, seed, ctx, out2,
                  out2Cols, out1, hasOut1, Blocks::Whole);
}

namespace {
template <typename T>
int runIwae(const nfrt_model *model, nfrt_kernel kernel, const void *x,
            int64_t firstRow, int64_t n, int64_t k, uint64_t seed,
            const void *ctx, T *out, Blocks blocking) {
  std::vector<T> bound(n), largest(n, -std::numeric_limits<T>::infinity()),
      total(n, T(0));
  for (int64_t path = 0; path < k; ++path) {
    uint64_t pathSeed = mlir::nf::abi::getIwaePathSeed(seed, path, k);
    if (int rc = runRange(model, kernel, NFRT_INPUT_DATA, x, firstRow, n,
                          pathSeed, ctx, nullptr, 0, bound.data(), 1, blocking))
      return rc;
    // Running log-sum-exp per row.
    for (int64_t i = 0; i < n; ++i) {
      if (bound[i] == -std::numeric_limits<T>::infinity())
        continue;
      if (bound[i] > largest[i]) {
        total[i] = total[i] * std::exp(largest[i] - bound[i]) + T(1);
        largest[i] = bound[i];
      } else {
        total[i] += std::exp(bound[i] - largest[i]);
      }
    }
  }
  for (int64_t i = 0; i < n; ++i)
    out[i] = total[i] > 0 ? largest[i] + std::log(total[i] / T(k))
                          : -std::numeric_limits<T>::infinity();
  return NF_OK;
}
} // namespace

static int runIwaeRange(const nfrt_model *model, nfrt_kernel kernel,
                        const void *x, int64_t firstRow, int64_t n, int64_t k,
                        uint64_t seed, const void *ctx, void *out,
                        Blocks blocking) {
  if (!nfrt::isRowRange(firstRow, n) || k < 1)
    return NF_ERROR_INVALID_ARGUMENT;
  if (n == 0)
    return NF_OK;
  if (!x || !out || (model->context_dim > 0 && !ctx))
    return NF_ERROR_NULL_POINTER;
  if (int rc = nfrt_check_cpu(model))
    return rc;
  return nfrt::guardExceptions([&] {
    return model->element_size == 4
               ? runIwae(model, kernel, x, firstRow, n, k, seed, ctx,
                         static_cast<float *>(out), blocking)
               : runIwae(model, kernel, x, firstRow, n, k, seed, ctx,
                         static_cast<double *>(out), blocking);
  });
}

extern "C" int nfrt_iwae(const nfrt_model *model, nfrt_kernel kernel,
                         const void *x, int64_t n, int64_t k, uint64_t seed,
                         const void *ctx, void *out) {
  return runIwaeRange(model, kernel, x, 0, n, k, seed, ctx, out,
                      Blocks::WholeUnlessFewRows);
}

extern "C" int nfrt_iwae_rows(const nfrt_model *model, nfrt_kernel kernel,
                              const void *x, int64_t firstRow, int64_t n,
                              int64_t k, uint64_t seed, const void *ctx,
                              void *out) {
  return runIwaeRange(model, kernel, x, firstRow, n, k, seed, ctx, out,
                      Blocks::Whole);
}

extern "C" void nfrt_philox4x32_10(const uint32_t counter[4],
                                   const uint32_t key[2], uint32_t out[4]) {
  constexpr uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
  uint32_t k[2] = {key[0], key[1]};
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
    uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
    uint32_t hi0 = p0 >> 32, lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = p1 >> 32, lo1 = static_cast<uint32_t>(p1);
    uint32_t next[4] = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    std::memcpy(c, next, sizeof(c));
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  std::memcpy(out, c, sizeof(c));
}

extern "C" void nfrt_fill_layer_noise_f32(uint64_t seed, int64_t rowBegin,
                                          int64_t rowEnd, int64_t cols,
                                          float *out) {
  fillNoise(NFRT_NOISE_UNIFORM, seed, rowBegin, rowEnd, cols, out,
            kLayerNoisePairs);
}

extern "C" void nfrt_fill_layer_noise_f64(uint64_t seed, int64_t rowBegin,
                                          int64_t rowEnd, int64_t cols,
                                          double *out) {
  fillNoise(NFRT_NOISE_UNIFORM, seed, rowBegin, rowEnd, cols, out,
            kLayerNoisePairs);
}

extern "C" void nfrt_fill_noise_f32(int noise, uint64_t seed, int64_t rowBegin,
                                    int64_t rowEnd, int64_t cols, float *out) {
  fillNoise(noise, seed, rowBegin, rowEnd, cols, out);
}

extern "C" void nfrt_fill_noise_f64(int noise, uint64_t seed, int64_t rowBegin,
                                    int64_t rowEnd, int64_t cols, double *out) {
  fillNoise(noise, seed, rowBegin, rowEnd, cols, out);
}

//===----------------------------------------------------------------------===//
// memrefCopy: called by lowered memref.copy of non-contiguous memrefs.
//===----------------------------------------------------------------------===//

namespace {
struct UnrankedMemRef {
  int64_t rank;
  void *descriptor;
};
struct DescriptorView {
  char *aligned;
  int64_t offset;
  const int64_t *sizes, *strides;
  explicit DescriptorView(const UnrankedMemRef &m, int64_t rank) {
    auto *fields = static_cast<char *>(m.descriptor);
    std::memcpy(&aligned, fields + sizeof(void *), sizeof(void *));
    auto *ints = reinterpret_cast<const int64_t *>(fields + 2 * sizeof(void *));
    offset = ints[0];
    sizes = ints + 1;
    strides = ints + 1 + rank;
  }
};
} // namespace

extern "C" void memrefCopy(int64_t elementSize, UnrankedMemRef *src,
                           UnrankedMemRef *dst) {
  int64_t rank = src->rank;
  DescriptorView s(*src, rank), d(*dst, rank);
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < rank; ++i)
    if (s.sizes[i] == 0)
      return;
  // Rows along the innermost dimension are copied with one memcpy when
  // both sides are contiguous there.
  bool contiguousRows =
      rank > 0 && s.strides[rank - 1] == 1 && d.strides[rank - 1] == 1;
  int64_t rowLength = contiguousRows ? s.sizes[rank - 1] : 1;
  int64_t outerRank = contiguousRows ? rank - 1 : rank;
  while (true) {
    int64_t so = s.offset, doff = d.offset;
    for (int64_t i = 0; i < outerRank; ++i) {
      so += index[i] * s.strides[i];
      doff += index[i] * d.strides[i];
    }
    std::memcpy(d.aligned + doff * elementSize, s.aligned + so * elementSize,
                rowLength * elementSize);
    int64_t dim = outerRank - 1;
    while (dim >= 0 && ++index[dim] == s.sizes[dim])
      index[dim--] = 0;
    if (dim < 0)
      return;
  }
}

//===----------------------------------------------------------------------===//
// Allocation functions of kernels lowered with use-generic-functions.
//===----------------------------------------------------------------------===//

/// A buffer from the arena; out of memory leaves the kernel (callKernel).
static void *allocateOrLeave(size_t size, size_t alignment) {
  void *data = scratch.allocate(size, alignment);
  if (!data && outOfMemory)
    std::longjmp(*outOfMemory, 1);
  return data;
}

extern "C" void *_mlir_memref_to_llvm_alloc(size_t size) {
  return allocateOrLeave(size, 16);
}

extern "C" void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment,
                                                    size_t size) {
  return allocateOrLeave(size, alignment);
}

extern "C" void _mlir_memref_to_llvm_free(void *data) { scratch.release(data); }

extern "C" int64_t nfrt_scratch_bytes(void) {
  return static_cast<int64_t>(scratch.getReserved());
}
