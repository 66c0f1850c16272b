"""The target CPU of compiled libraries: a portable baseline by default,
recorded in the header, and checked before the first kernel runs, so a
library compiled for features this CPU lacks returns 7 with the missing
features named instead of dying on an illegal instruction."""

import ctypes
import platform
import subprocess

import numpy as np
import pytest

from conftest import ROOT

import nfmlir
from nfmlir.compiler import find_nf_compile
from nfmlir.runtime import NFRuntimeError

NF_ERROR_UNSUPPORTED_CPU = 7
EXAMPLE = ROOT / "examples" / "realnvp2d.mlir"
pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 CPU features")


def cpu_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def compile_example(tmp_path, *args):
    library = tmp_path / "librealnvp2d.so"
    subprocess.run([find_nf_compile(), str(EXAMPLE), "-o", str(library), *args], check=True)
    return library


def test_default_is_the_portable_baseline(tmp_path):
    library = compile_example(tmp_path)
    header = (tmp_path / "realnvp2d.h").read_text()
    assert "compiled for CPU x86-64-v3 (" in header
    features = header.split("compiled for CPU x86-64-v3 (")[1].split(")")[0].split(",")
    assert {"avx", "avx2", "fma", "bmi2"} <= set(features)
    assert not any(f.startswith("avx512") for f in features)
    # No AVX-512 instruction in the kernels (zmm registers), whatever this machine has.
    disassembly = subprocess.run(["/usr/lib/llvm-22/bin/llvm-objdump", "-d", str(library)], capture_output=True,
                                 text=True, check=True).stdout
    assert "zmm" not in disassembly
    x = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    (tmp_path / "native").mkdir()
    native = nfmlir.load(compile_example(tmp_path / "native", "--mcpu=native"))
    np.testing.assert_allclose(nfmlir.load(library).log_prob(x), native.log_prob(x), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif("avx512fp16" in cpu_flags(), reason="this CPU has AVX512-FP16")
def test_missing_features_are_an_error_code(tmp_path):
    library = compile_example(tmp_path, "--mcpu=sapphirerapids")
    header = (tmp_path / "realnvp2d.h").read_text()
    assert "compiled for CPU sapphirerapids (" in header and "avx512fp16" in header
    lib = ctypes.CDLL(str(library))
    lib.nf_last_error_message.restype = ctypes.c_char_p
    x = np.zeros((4, 2), np.float32)
    out = np.zeros(4, np.float32)
    rc = lib.nf_realnvp2d_log_prob(ctypes.c_void_p(x.ctypes.data), ctypes.c_int64(4), None,
                                   ctypes.c_void_p(out.ctypes.data))
    assert rc == NF_ERROR_UNSUPPORTED_CPU
    message = lib.nf_last_error_message().decode()
    assert "avx512fp16" in message and "--mcpu" in message
    assert "avx2" not in message  # only what is missing
    model = nfmlir.load(library)
    for call in (lambda: model.log_prob(x), lambda: model.sample(10, seed=1), lambda: model.elbo(x),
                 lambda: model.log_prob_iwae(x, 3), lambda: model.forward(x), lambda: model.inverse(x)):
        with pytest.raises(NFRuntimeError, match="unsupported CPU: this CPU lacks .*avx512fp16"):
            call()
    # Argument errors still come first; empty calls do no work.
    assert model.log_prob(np.zeros((0, 2), np.float32)).shape == (0,)
