"""The C ABI: header, error codes, NULL handling, reentrancy."""

import ctypes
import subprocess
import threading

import numpy as np
import pytest

import nfmlir

C_PROGRAM = r"""
#include "m.h"
#include <math.h>
#include <stdio.h>
int main(void) {
  float x[6] = {0.1f, 0.2f, -0.3f, 0.4f, 1.0f, -2.0f}, z[6], back[6], ldj[3], logp[3];
  if (nf_m_dim() != 2 || nf_m_latent_dim() != 2 || nf_m_context_dim() != 0) return 10;
  if (nf_m_forward(x, 3, 0, NULL, z, ldj) || nf_m_inverse(z, 3, 0, NULL, back)) return 11;
  for (int i = 0; i < 6; ++i) if (fabsf(back[i] - x[i]) > 1e-5f) return 12;
  if (nf_m_log_prob(x, 3, NULL, logp)) return 13;
  if (nf_m_log_prob(x, -1, NULL, logp) != 1) return 14;
  if (nf_m_log_prob(NULL, 3, NULL, logp) != 2) return 15;
  if (nf_m_log_prob(x, 3, NULL, NULL) != 2) return 16;
  if (nf_m_log_prob(NULL, 0, NULL, NULL) != 0) return 17;
  if (nf_m_sample(3, 1, NULL, NULL) != 2) return 18;
  if (nf_m_sample_with_log_prob(3, 1, NULL, z, logp)) return 19;
  printf("ok %.6f\n", logp[0]);
  return 0;
}
"""


def small_model(context_dim=0, name="m"):
    rng = np.random.default_rng(2)
    net = nfmlir.MLP.random([1 + context_dim, 8, 2], "relu", rng)
    return nfmlir.Model([nfmlir.Affine([2.0, 0.5], 0.1), nfmlir.AffineCoupling([0], net)],
                        nfmlir.StandardNormal(2), context_dim=context_dim, name=name)


def test_c_program_uses_header_and_library(tmp_path):
    lib = small_model().compile(out_dir=tmp_path)
    (tmp_path / "main.c").write_text(C_PROGRAM)
    exe = tmp_path / "main"
    subprocess.run(["clang-22", "-O1", str(tmp_path / "main.c"), f"-I{tmp_path}", str(tmp_path / "libm.so"),
                    f"-Wl,-rpath,{tmp_path}", "-lm", "-o", str(exe)], check=True)
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert result.returncode == 0, result.returncode
    assert result.stdout.startswith("ok")
    assert lib.dim == 2


def test_context_is_required_when_declared(tmp_path):
    model = small_model(context_dim=1, name="c")
    lib = model.compile(out_dir=tmp_path)
    raw = ctypes.CDLL(lib._lib._name)
    x = np.zeros((2, 2), np.float32)
    out = np.zeros(2, np.float32)
    fn = raw.nf_c_log_prob
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    assert fn(x.ctypes.data, 2, None, out.ctypes.data) == 2
    ctx = np.zeros((2, 1), np.float32)
    assert fn(x.ctypes.data, 2, ctx.ctypes.data, out.ctypes.data) == 0
    with pytest.raises(ValueError, match="needs a context"):
        lib.log_prob(x)


def test_python_validation(tmp_path):
    lib = small_model().compile(out_dir=tmp_path)
    with pytest.raises(TypeError, match="dtype float32"):
        lib.log_prob(np.zeros((3, 2), np.float64))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        lib.log_prob(np.zeros((3, 3), np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        lib.log_prob([[0.0, 0.0]])
    with pytest.raises(ValueError, match="n must be >= 0"):
        lib.sample(-1)
    with pytest.raises(ValueError, match="takes no context"):
        lib.log_prob(np.zeros((3, 2), np.float32), context=np.zeros((3, 1), np.float32))
    # Non-contiguous input is accepted (copied), with the same result.
    x = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    assert np.array_equal(lib.log_prob(x[:, ::2]), lib.log_prob(np.ascontiguousarray(x[:, ::2])))
    assert lib.sample(0).shape == (0, 2)


def test_concurrent_calls_are_safe(tmp_path):
    lib = small_model().compile(out_dir=tmp_path)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(3000, 2)).astype(np.float32) for _ in range(6)]
    expected = [lib.log_prob(x) for x in inputs]
    results = [None] * 6

    def work(i):
        for _ in range(5):
            results[i] = lib.log_prob(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        assert np.array_equal(got, want)
