//===- Linker.cpp - Link a compiled model library in-process --------------===//
//
// The glue (C) is compiled by Clang's frontend as a library and the library
// linked by lld as a library, both in nf-compile's process: no compiler or
// linker executable is needed at run time. The glue is compiled with no
// system header (nf_runtime.h declares its integer types itself). The
// shared C and C++ libraries the runtime needs are the ones nf-compile runs
// with (found through the dynamic loader), and crtbeginS.o's one duty for a
// shared library, __dso_handle, is a second small C object.
//
//===----------------------------------------------------------------------===//

#include "nf/Target/Linker.h"

#include "lld/Common/Driver.h"
#include "clang/Basic/DiagnosticOptions.h"
#include "clang/CodeGen/CodeGenAction.h"
#include "clang/Frontend/CompilerInstance.h"
#include "clang/Frontend/CompilerInvocation.h"
#include "clang/Frontend/TextDiagnosticPrinter.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/VirtualFileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <cmath>
#include <dlfcn.h>
#include <mutex>

LLD_HAS_DRIVER(elf)

using namespace llvm;

extern "C" void _Unwind_Resume(void *);

/// Compiles the C file `source` (with `includeDir` on the include path) to
/// the object file `object` with Clang's frontend, in-process.
static Error compileC(StringRef source, StringRef includeDir,
                      StringRef object) {
  std::string triple = sys::getDefaultTargetTriple();
  SmallVector<const char *> args = {"-triple",
                                    triple.c_str(),
                                    "-emit-obj",
                                    "-O2",
                                    "-mrelocation-model",
                                    "pic",
                                    "-pic-level",
                                    "2",
                                    "-fvisibility=hidden",
                                    "-funwind-tables=2",
                                    "-nostdsysteminc",
                                    "-nobuiltininc",
                                    "-DNF_GLUE_NO_LIBC",
                                    "-ffp-contract=on"};
  std::string include = ("-I" + includeDir).str();
  std::string input = source.str(), output = object.str();
  args.append(
      {include.c_str(), "-x", "c", input.c_str(), "-o", output.c_str()});

  std::string diagnosticsText;
  raw_string_ostream diagnosticsStream(diagnosticsText);
  clang::DiagnosticOptions options;
  auto printer = std::make_unique<clang::TextDiagnosticPrinter>(
      diagnosticsStream, options);
  clang::DiagnosticsEngine diagnostics(clang::DiagnosticIDs::create(), options,
                                       printer.get(),
                                       /*ShouldOwnClient=*/false);
  auto invocation = std::make_shared<clang::CompilerInvocation>();
  bool parsed =
      clang::CompilerInvocation::CreateFromArgs(*invocation, args, diagnostics);
  clang::CompilerInstance compiler(invocation);
  compiler.createVirtualFileSystem();
  compiler.createDiagnostics(printer.get(), /*ShouldOwnClient=*/false);
  clang::EmitObjAction action;
  if (!parsed || !compiler.ExecuteAction(action))
    return createStringError("compiling the glue '" + source +
                             "' failed: " + diagnosticsText);
  return Error::success();
}

/// The file of the shared library that defines `symbol` in this process.
static std::string getLoadedLibrary(const void *symbol) {
  Dl_info info;
  if (!dladdr(symbol, &info) || !info.dli_fname)
    return "";
  return info.dli_fname;
}

Error mlir::nf::linkSharedLibrary(StringRef gluePath,
                                  ArrayRef<std::string> objectPaths,
                                  StringRef runtimeDir, StringRef output) {
  SmallString<256> runtime(runtimeDir);
  sys::path::append(runtime, "libnf_runtime.a");
  if (!sys::fs::exists(runtime))
    return createStringError("runtime library '" + runtime + "' not found");

  // The glue and __dso_handle (what crtbeginS.o gives a shared library:
  // the handle C++ static destructors register under).
  SmallString<128> glueObject, supportSource, supportObject;
  FileRemover glueRemover, supportSourceRemover, supportRemover;
  for (auto [path, remover, suffix] :
       {std::tuple(&glueObject, &glueRemover, "o"),
        std::tuple(&supportSource, &supportSourceRemover, "c"),
        std::tuple(&supportObject, &supportRemover, "o")}) {
    if (std::error_code ec =
            sys::fs::createTemporaryFile("nf-link", suffix, *path))
      return createStringError(ec, "cannot create a temporary file");
    remover->setFile(*path);
  }
  {
    std::error_code ec;
    raw_fd_ostream os(supportSource, ec);
    if (ec)
      return createStringError(ec, "cannot write '" + supportSource + "'");
    os << "__attribute__((visibility(\"hidden\"))) void *__dso_handle = "
          "&__dso_handle;\n";
  }
  if (Error err = compileC(gluePath, runtimeDir, glueObject))
    return err;
  if (Error err = compileC(supportSource, runtimeDir, supportObject))
    return err;

  // The C and C++ libraries nf-compile itself runs with.
  std::string libstdcxx = getLoadedLibrary((void *)&std::terminate);
  std::string libm = getLoadedLibrary((void *)(double (*)(double)) & ::cos);
  std::string libgcc = getLoadedLibrary((void *)&_Unwind_Resume);
  std::string libc = getLoadedLibrary((void *)&::dladdr);
  for (const std::string &library : {libstdcxx, libm, libgcc, libc})
    if (library.empty())
      return createStringError("cannot find the C/C++ shared libraries to "
                               "link against");

  std::string out = output.str(), runtimeArchive = runtime.str().str();
  SmallVector<const char *> args = {"ld.lld",
                                    "--hash-style=gnu",
                                    "--build-id",
                                    "--eh-frame-hdr",
                                    "-shared",
                                    "-z",
                                    "relro",
                                    "-z",
                                    "now",
                                    "-o",
                                    out.c_str(),
                                    glueObject.c_str(),
                                    supportObject.c_str()};
  for (const std::string &object : objectPaths)
    args.push_back(object.c_str());
  args.append({runtimeArchive.c_str(), "--as-needed", libstdcxx.c_str(),
               libm.c_str(), libgcc.c_str(), libc.c_str(), "--no-as-needed"});

  // lld keeps global state: one link at a time in this process.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::string messages;
  raw_string_ostream messageStream(messages);
  lld::Result result = lld::lldMain(args, messageStream, messageStream,
                                    {{lld::Gnu, &lld::elf::link}});
  if (result.retCode != 0)
    return createStringError("linking '" + output + "' failed: " + messages);
  return Error::success();
}
