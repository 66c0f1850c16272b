"""The installed toolchain embeds: `cmake --install build --prefix P`, then
examples/embed, a separate CMake project, finds it with find_package(NF),
builds its own opt-like tool with the nf dialect and passes, and links a
model library the installed nf-compile builds; its tests run."""

import shutil
import subprocess

import pytest

from conftest import ROOT

BUILD = ROOT / "build"
needs = [shutil.which("cmake"), shutil.which("ninja"), shutil.which("ctest")]


@pytest.mark.skipif(not all(needs), reason="needs cmake, ninja and ctest")
def test_installed_prefix_embeds(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], check=True, capture_output=True)
    for path in ("bin/nf-compile", "bin/nf-opt", "bin/nf-lsp-server", "lib/libnf_runtime.a", "lib/nf_runtime.h",
                 "lib/cmake/NF/NFConfig.cmake", "lib/cmake/NF/NFTargets.cmake", "include/nf/InitAllNF.h",
                 "include/nf/Dialect/NF/IR/NFOps.h.inc"):
        assert (prefix / path).exists(), path
    embed = tmp_path / "embed"
    configure = subprocess.run(
        ["cmake", "-G", "Ninja", "-S", str(ROOT / "examples" / "embed"), "-B", str(embed),
         f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_C_COMPILER=clang-22", "-DCMAKE_CXX_COMPILER=clang++-22",
         "-DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir"], capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert f"Using NFConfig.cmake in: {prefix}/lib/cmake/NF" in configure.stdout
    build = subprocess.run(["cmake", "--build", str(embed)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    # The model library came from the installed compiler.
    assert f"{prefix}/bin/nf-compile" in (embed / "build.ninja").read_text()
    tests = subprocess.run(["ctest", "--test-dir", str(embed), "--output-on-failure", "-V"], capture_output=True,
                           text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "100% tests passed, 0 tests failed out of 3" in tests.stdout
    assert "max |sample_with_log_prob - log_prob|" in tests.stdout


@pytest.mark.skipif(not shutil.which("cmake"), reason="needs cmake")
def test_installed_compiler_needs_no_toolchain(tmp_path):
    """The installed nf-compile compiles the glue and links in-process
    (Clang's frontend and lld as libraries): with nothing on PATH it writes
    a library that gives the build tree's results."""
    import numpy as np

    import nfmlir

    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], check=True, capture_output=True)
    model = ROOT / "examples" / "maf.mlir"
    libraries = {}
    for where, compiler in (("installed", prefix / "bin" / "nf-compile"), ("build", BUILD / "bin" / "nf-compile")):
        (tmp_path / where).mkdir()
        library = tmp_path / where / "libmaf.so"
        subprocess.run([str(compiler), str(model), "-o", str(library)], check=True, cwd=tmp_path,
                       env={"PATH": "/nonexistent", "HOME": str(tmp_path)})
        libraries[where] = nfmlir.load(library)
    installed, build = (next(iter(libraries[w].models.values())) for w in ("installed", "build"))
    x = build.sample(500, seed=4)
    np.testing.assert_array_equal(installed.log_prob(x), build.log_prob(x))
    np.testing.assert_array_equal(installed.sample(500, seed=4), x)
