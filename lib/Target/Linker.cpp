//===- Linker.cpp - Link a compiled model library -------------------------===//

#include "nf/Target/Linker.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

using namespace llvm;

/// clang-22 (or the one in LLVM's bin directory), or "".
static std::string findClang() {
  for (StringRef name : {"clang-22", "/usr/lib/llvm-22/bin/clang"})
    if (ErrorOr<std::string> path = sys::findProgramByName(name))
      return *path;
  return "";
}

static std::string findLld() {
  for (StringRef name : {"ld.lld-22", "/usr/lib/llvm-22/bin/ld.lld"})
    if (ErrorOr<std::string> path = sys::findProgramByName(name))
      return *path;
  return "";
}

Error mlir::nf::linkSharedLibrary(StringRef gluePath,
                                  ArrayRef<std::string> objectPaths,
                                  StringRef runtimeDir, StringRef output) {
  std::string clang = findClang();
  if (clang.empty())
    return createStringError("clang-22 not found (install clang-22)");
  SmallString<256> runtime(runtimeDir);
  sys::path::append(runtime, "libnf_runtime.a");
  if (!sys::fs::exists(runtime))
    return createStringError("runtime library '" + runtime + "' not found");
  std::string include = ("-I" + runtimeDir).str();
  SmallVector<StringRef> args = {
      clang, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", include, "-x",
      "c",   gluePath,  "-x",    "none"};
  for (const std::string &object : objectPaths)
    args.push_back(object);
  args.append({runtime, "-o", output, "-lstdc++", "-lm", "-lpthread", "-ldl"});
  // lld links in a fraction of the system linker's time.
  std::string lld = findLld();
  std::string ldPath = "--ld-path=" + lld;
  if (!lld.empty())
    args.push_back(ldPath);
  std::string error;
  if (sys::ExecuteAndWait(clang, args, std::nullopt, {}, 0, 0, &error) != 0)
    return createStringError("linking '" + output + "' failed" +
                             (error.empty() ? "" : ": " + error));
  return Error::success();
}
