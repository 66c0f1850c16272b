"""The runtime's memory model: temporaries that loops allocate and free
every iteration are reused (the kernels' scratch stays bounded however many
iterations or steps run), the arena does not keep a large call's peak, and
running out of memory is NF_ERROR_OUT_OF_MEMORY with the process alive."""

import ctypes
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nfmlir
from nfmlir.runtime import NFRuntimeError


def scratch_after(model, call):
    """The bytes the calling thread's arena holds after `call` (one thread:
    the blocks run on this thread; the arena keeps one block as large as the
    call's peak, up to 64 MiB)."""
    lib = ctypes.CDLL(model.library_path)
    lib.nfrt_scratch_bytes.restype = ctypes.c_int64
    call()
    return lib.nfrt_scratch_bytes()


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("NF_NUM_THREADS", "1")


def iresnet(iterations, tmp_path):
    rng = np.random.default_rng(0)
    net = nfmlir.IResNet.contractive([4, 32, 4], "elu", 0.9, rng)
    # A tolerance of 0 is refused; one below f64 resolution runs every
    # iteration.
    model = nfmlir.Model([nfmlir.IResNet(net, tolerance=1e-300, max_iterations=iterations)],
                         nfmlir.StandardNormal(4), dtype="float64", name=f"ires{iterations}")
    return model.compile(out_dir=tmp_path / model.name)


def test_fixed_point_iterations_take_bounded_memory(tmp_path):
    z = np.random.default_rng(1).normal(size=(128, 4))
    few, many = iresnet(20, tmp_path), iresnet(200, tmp_path)
    small = scratch_after(few, lambda: few.inverse(z))
    large = scratch_after(many, lambda: many.inverse(z))
    # 10x the iterations, the same scratch (a few temporaries of 128 rows).
    assert large <= small * 1.5, (small, large)
    np.testing.assert_allclose(many.forward(many.inverse(z))[0], z, atol=1e-9)


def metropolis(steps, tmp_path):
    model = nfmlir.Model([nfmlir.Metropolis(nfmlir.double_well(name="well"), 0.2, steps=steps)],
                         nfmlir.StandardNormal(2), dtype="float64", name=f"mh{steps}")
    return model.compile(out_dir=tmp_path / model.name)


def test_mcmc_steps_take_bounded_memory(tmp_path):
    x = np.random.default_rng(2).normal(size=(128, 2))
    few, many = metropolis(5, tmp_path), metropolis(50, tmp_path)
    small = scratch_after(few, lambda: few.forward(x, seed=3))
    large = scratch_after(many, lambda: many.forward(x, seed=3))
    assert large <= small * 1.5, (small, large)


def maf(dim, tmp_path, naive=False):
    rng = np.random.default_rng(dim)
    made = nfmlir.MADE.random(dim, [64], 2, rng=rng, scale=0.3)
    model = nfmlir.Model([nfmlir.MaskedAffineAutoregressive(made, "softplus")], nfmlir.StandardNormal(dim),
                         name=f"maf{dim}")
    return model.compile(out_dir=tmp_path / model.name)


def test_sequential_inverse_memory_grows_with_the_rows_not_the_steps(tmp_path):
    """MAF sampling runs D steps; its scratch is O(D) rows of temporaries,
    not O(D^2) (every step's buffers kept)."""
    small, large = maf(64, tmp_path), maf(256, tmp_path)
    a = scratch_after(small, lambda: small.sample(128, seed=1))
    b = scratch_after(large, lambda: large.sample(128, seed=1))
    # 4x the features: at most ~4x the memory (16x if the steps' buffers
    # were all kept), and far below the 64 MiB the arena may keep.
    assert b <= a * 6, (a, b)
    assert b < 32 << 20, b


def test_arena_does_not_keep_a_huge_peak(tmp_path):
    rng = np.random.default_rng(5)
    net = nfmlir.MLP.random([2, 4096, 4], "tanh", rng)
    model = nfmlir.Model([nfmlir.AffineCoupling([0, 1], net, "exp")], nfmlir.StandardNormal(4),
                         name="wide").compile(out_dir=tmp_path)
    x = rng.normal(size=(4096, 4)).astype(np.float32)
    kept = scratch_after(model, lambda: model.log_prob(x))
    assert kept <= 64 << 20, kept


RUN = textwrap.dedent("""
    import os, resource, sys
    import numpy as np, nfmlir
    model = nfmlir.load({path!r})
    x = np.random.default_rng(0).normal(size=(4096, 4)).astype(np.float32)
    if {limit!r}:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
        resource.setrlimit(resource.RLIMIT_AS, (pages * os.sysconf("SC_PAGE_SIZE") + (4 << 20), hard))
    try:
        model.log_prob(x)
        print("ok")
    except nfmlir.NFRuntimeError as err:
        print("error", err)
""")


@pytest.mark.parametrize("threads", ["1", "2"])
def test_out_of_memory_is_an_error_code(tmp_path, threads):
    """An address-space limit just above what the process holds: the
    kernels' temporaries (8 MiB each: 128 rows x 16384 hidden units) cannot
    be had, nor (2 threads) a worker thread's stack; the call returns
    NF_ERROR_OUT_OF_MEMORY and the process goes on."""
    rng = np.random.default_rng(5)
    net = nfmlir.MLP.random([2, 16384, 4], "tanh", rng)
    model = nfmlir.Model([nfmlir.AffineCoupling([0, 1], net, "exp")], nfmlir.StandardNormal(4), name="wide")
    model.compile(out_dir=tmp_path)
    path = str(tmp_path / "libwide.so")
    # The child imports the nfmlir the tests import (python/, through pytest's pythonpath).
    env = {"NF_NUM_THREADS": threads, "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(Path(nfmlir.__file__).resolve().parents[1])}
    for limit, expected in ((False, "ok"), (True, "error")):
        out = subprocess.run([sys.executable, "-c", RUN.format(path=path, limit=limit)],
                             capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[0] == expected, out.stdout + out.stderr
        if expected == "error":
            assert "out of memory" in out.stdout
