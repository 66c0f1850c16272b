//===- FuzzABI.cpp - libFuzzer target: the C ABI of compiled models -------===//
//
// Loads every lib*.so in $NF_FUZZ_MODELS (nf-compile output), reads each
// library's manifest, and turns each input into one call of one entry:
// arbitrary n (negative, zero, small, huge with NULL arrays), first rows of
// row-range entries (0 to 2^63 - 1, negative), NULL arrays, arrays aligned
// only to their element type, values with NaN, +-inf, huge and subnormal numbers,
// contexts, seeds and k. Checked on every call:
//   - the status is one of the documented codes, and the one the arguments
//     call for (1 for n < 0 or k < 1, 2 for a NULL array with n > 0);
//   - nothing is written past the n rows of an output (guard values);
//   - on success with finite inputs, log-probabilities are not NaN;
//   - a second identical call gives bitwise-identical outputs.
// Any violation aborts, which libFuzzer records as a crash.
//
//===----------------------------------------------------------------------===//

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <dlfcn.h>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int kOk = 0, kInvalidArgument = 1, kNullPointer = 2, kOutOfMemory = 3;
/// Rows the buffers hold: calls with more rows pass NULL arrays.
constexpr int64_t kMaxRows = 70;
constexpr int64_t kMaxPaths = 12;
constexpr unsigned char kGuard = 0xA5;
constexpr size_t kGuardBytes = 64;

[[noreturn]] void fail(const std::string &what) {
  std::fprintf(stderr, "nf-fuzz-abi: %s\n", what.c_str());
  std::abort();
}

struct Param {
  std::string role, name, width;
};

struct Entry {
  std::string name;
  void *fn;
  std::vector<Param> params;
};

struct Model {
  std::string name;
  bool f64 = false;
  int64_t dim = 0, latentDim = 0, contextDim = 0;
  std::vector<Entry> entries;

  int64_t width(const std::string &w) const {
    if (w == "dim")
      return dim;
    if (w == "latent_dim")
      return latentDim;
    if (w == "context_dim")
      return contextDim;
    return 1;
  }
};

/// The status entries of every model of `library`, from its manifest.
void loadLibrary(const std::string &path, std::vector<Model> &models) {
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    fail("cannot load " + path + ": " + dlerror());
  auto *manifest =
      static_cast<const char *>(dlsym(handle, "nf_library_manifest"));
  if (!manifest)
    fail(path + " has no manifest");
  std::istringstream lines(manifest);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line.substr(0, line.find(" # ")));
    std::string kind;
    words >> kind;
    if (kind == "model") {
      Model model;
      std::string type;
      words >> model.name >> type >> model.dim >> model.latentDim >>
          model.contextDim;
      model.f64 = type == "f64";
      models.push_back(model);
    } else if (kind == "entry") {
      std::string modelName, name, result, arg;
      words >> modelName >> name >> result;
      if (result != "int")
        continue;
      Entry entry{
          name, dlsym(handle, ("nf_" + modelName + "_" + name).c_str()), {}};
      if (!entry.fn)
        fail("missing nf_" + modelName + "_" + name);
      while (words >> arg) {
        Param param;
        std::istringstream parts(arg);
        std::getline(parts, param.role, ':');
        std::getline(parts, param.name, ':');
        std::getline(parts, param.width, ':');
        entry.params.push_back(param);
      }
      // Device entries need a GPU and device pointers: not fuzzed here.
      bool device = false;
      for (const Param &p : entry.params)
        device |= p.role == "stream";
      if (!device)
        models.back().entries.push_back(entry);
    }
  }
}

std::vector<Model> &getModels() {
  static std::vector<Model> models = [] {
    std::vector<Model> result;
    const char *dir = std::getenv("NF_FUZZ_MODELS");
    if (!dir)
      fail("set NF_FUZZ_MODELS to a folder of compiled model libraries");
    DIR *folder = opendir(dir);
    if (!folder)
      fail(std::string("cannot open ") + dir);
    std::vector<std::string> paths;
    while (dirent *file = readdir(folder)) {
      std::string name = file->d_name;
      if (name.rfind("lib", 0) == 0 && name.size() > 3 &&
          name.compare(name.size() - 3, 3, ".so") == 0)
        paths.push_back(std::string(dir) + "/" + name);
    }
    closedir(folder);
    std::sort(paths.begin(), paths.end());
    for (const std::string &path : paths)
      loadLibrary(path, result);
    if (result.empty())
      fail(std::string("no model libraries in ") + dir);
    return result;
  }();
  return models;
}

/// A value for an input array: mostly ordinary, sometimes extreme.
double pickValue(FuzzedDataProvider &data) {
  static const double kSpecial[] = {0.0,
                                    -0.0,
                                    std::numeric_limits<double>::quiet_NaN(),
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    1e300,
                                    -1e300,
                                    3e38,
                                    -3e38,
                                    1e-310,
                                    1e-40,
                                    88.8,
                                    -104.0,
                                    709.9};
  uint8_t choice = data.ConsumeIntegral<uint8_t>();
  if (choice < 2 * std::size(kSpecial))
    return kSpecial[choice % std::size(kSpecial)];
  return data.ConsumeFloatingPointInRange<double>(-12.0, 12.0);
}

/// A row array of one argument with guard bytes behind it.
struct Array {
  std::vector<unsigned char> bytes;
  size_t offset = 0, size = 0;
  bool null = false;

  void *get() { return null ? nullptr : bytes.data() + offset; }
  bool guardIntact() const {
    for (size_t i = offset + size; i < bytes.size(); ++i)
      if (bytes[i] != kGuard)
        return false;
    return true;
  }
};

/// Whether `param` is a log-density output: finite or -inf, never NaN, for
/// finite input. (forward's V is a layer sum, which may be NaN where the
/// density is 0: log_prob reads that as -inf.)
bool isLogDensity(const std::string &entry, const Param &param) {
  return param.role == "out" && param.width == "1" &&
         entry.rfind("forward", 0) != 0;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  getModels();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
  FuzzedDataProvider data(bytes, size);
  std::vector<Model> &models = getModels();
  const Model &model =
      models[data.ConsumeIntegralInRange<size_t>(0, models.size() - 1)];
  if (model.entries.empty())
    return 0;
  const Entry &entry = model.entries[data.ConsumeIntegralInRange<size_t>(
      0, model.entries.size() - 1)];

  int64_t n;
  switch (data.ConsumeIntegralInRange<int>(0, 7)) {
  case 0:
    n = 0;
    break;
  case 1:
    n = -data.ConsumeIntegralInRange<int64_t>(1, 3);
    break;
  case 2:
    n = std::numeric_limits<int64_t>::min();
    break;
  case 3: // More rows than any buffer: every array is NULL.
    n = data.PickValueInArray<int64_t>(
        {kMaxRows + 1, int64_t(1) << 40, std::numeric_limits<int64_t>::max()});
    break;
  default:
    n = data.ConsumeIntegralInRange<int64_t>(1, kMaxRows);
  }
  int64_t k = data.PickValueInArray<int64_t>(
      {1, 2, 0, -1, std::numeric_limits<int64_t>::min(), kMaxPaths});
  if (k == kMaxPaths)
    k = data.ConsumeIntegralInRange<int64_t>(1, kMaxPaths);
  int64_t firstRow =
      data.PickValueInArray<int64_t>({0, 1, kMaxRows, int64_t(1) << 40, -1,
                                      std::numeric_limits<int64_t>::max()});
  if (firstRow == 1)
    firstRow = data.ConsumeIntegralInRange<int64_t>(0, 1000);
  uint64_t seed = data.ConsumeIntegral<uint64_t>();
  size_t elementSize = model.f64 ? 8 : 4;
  int64_t rows = n > 0 && n <= kMaxRows ? n : 0;

  std::vector<Array> arrays(entry.params.size());
  bool nullRequired = false, finite = true;
  for (size_t i = 0; i < entry.params.size(); ++i) {
    const Param &param = entry.params[i];
    if (param.role != "rows" && param.role != "ctx" && param.role != "out")
      continue;
    Array &array = arrays[i];
    array.size = size_t(rows * model.width(param.width)) * elementSize;
    int mode = data.ConsumeIntegralInRange<int>(0, 9);
    array.null = mode == 0 || n > kMaxRows;
    // Arrays need only their element type's alignment (a C pointer to T
    // has it): one or three elements off a 16-byte boundary breaks any
    // vector alignment a kernel might assume.
    array.offset = mode == 1 ? elementSize : mode == 2 ? 3 * elementSize : 0;
    array.bytes.assign(array.offset + array.size + kGuardBytes, kGuard);
    bool needed = param.role != "ctx" || model.contextDim > 0;
    nullRequired |= array.null && needed;
    if (param.role == "out" || array.null)
      continue;
    for (size_t j = 0; j < array.size / elementSize; ++j) {
      double value = pickValue(data);
      finite &= std::isfinite(value) || !needed;
      unsigned char *at = array.bytes.data() + array.offset + j * elementSize;
      if (model.f64) {
        std::memcpy(at, &value, 8);
      } else {
        float single = static_cast<float>(value);
        finite &= std::isfinite(single) || !needed;
        std::memcpy(at, &single, 4);
      }
    }
  }

  // Every argument is a pointer or a 64-bit integer: one integer register
  // each in the x86-64 and AArch64 C calling conventions.
  auto call = [&](std::vector<Array> &args) {
    uint64_t values[7] = {};
    for (size_t i = 0; i < entry.params.size(); ++i) {
      const std::string &role = entry.params[i].role;
      if (role == "n")
        values[i] = uint64_t(n);
      else if (role == "first_row")
        values[i] = uint64_t(firstRow);
      else if (role == "k")
        values[i] = uint64_t(k);
      else if (role == "seed" || role == "layer_seed")
        values[i] = seed;
      else
        values[i] = reinterpret_cast<uintptr_t>(args[i].get());
    }
    using Fn = int (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                       uint64_t, uint64_t);
    return reinterpret_cast<Fn>(entry.fn)(values[0], values[1], values[2],
                                          values[3], values[4], values[5],
                                          values[6]);
  };
  std::vector<Array> again = arrays;
  int status = call(arrays);

  std::string where = model.name + "_" + entry.name +
                      " (n = " + std::to_string(n) +
                      ", k = " + std::to_string(k) + ")";
  bool hasPaths = false, hasFirstRow = false;
  for (const Param &param : entry.params) {
    hasPaths |= param.role == "k";
    hasFirstRow |= param.role == "first_row";
  }
  bool badRange =
      hasFirstRow && n >= 0 &&
      (firstRow < 0 || firstRow > std::numeric_limits<int64_t>::max() - n);
  int expected = -1;
  if (n < 0 || (hasPaths && k < 1) || badRange)
    expected = kInvalidArgument;
  else if (n == 0)
    expected = kOk;
  else if (nullRequired)
    expected = kNullPointer;
  if (expected >= 0 && status != expected)
    fail(where + " returned " + std::to_string(status) + ", expected " +
         std::to_string(expected));
  if (status != kOk && status != kOutOfMemory && expected < 0)
    fail(where + " returned " + std::to_string(status));
  for (size_t i = 0; i < arrays.size(); ++i)
    if (!arrays[i].guardIntact())
      fail(where + " wrote past the rows of " + entry.params[i].name);
  if (status != kOk || rows == 0)
    return 0;

  for (size_t i = 0; i < arrays.size(); ++i) {
    if (!finite || !isLogDensity(entry.name, entry.params[i]))
      continue;
    for (int64_t r = 0; r < rows; ++r) {
      double value;
      const unsigned char *at =
          arrays[i].bytes.data() + arrays[i].offset + r * elementSize;
      if (model.f64) {
        std::memcpy(&value, at, 8);
      } else {
        float single;
        std::memcpy(&single, at, 4);
        value = single;
      }
      if (std::isnan(value))
        fail(where + ": NaN in " + entry.params[i].name + " row " +
             std::to_string(r) + " for finite input");
    }
  }
  if (call(again) != status)
    fail(where + ": a second identical call returned another status");
  for (size_t i = 0; i < arrays.size(); ++i)
    if (entry.params[i].role == "out" && arrays[i].bytes != again[i].bytes)
      fail(where + ": a second identical call wrote other " +
           entry.params[i].name);
  return 0;
}
