"""Concurrent calls of every entry from 8 threads give the bits of
sequential calls (ctypes releases the GIL, so the calls do overlap)."""

import subprocess
import threading

import numpy as np
import pytest
from conftest import ROOT

import nfmlir

MODELS = ["realnvp2d", "dequantized_augmented", "maf", "conditional_realnvp"]


def call_all(model, x, ctx):
    out = [model.log_prob(x, ctx), model.elbo(x, seed=3, context=ctx),
           model.log_prob_iwae(x, 4, seed=5, context=ctx), *model.forward(x, ctx, seed=7),
           model.sample(len(x), seed=9, context=ctx), *model.sample_with_log_prob(len(x), seed=11, context=ctx)]
    z, _ = model.forward(x, ctx, seed=7)
    out.append(model.inverse(z, ctx, seed=13))
    return out


@pytest.mark.parametrize("name", MODELS)
def test_threads_match_sequential(name, tmp_path):
    library = tmp_path / f"lib{name}.so"
    subprocess.run([nfmlir.find_nf_compile(), str(ROOT / "examples" / f"{name}.mlir"), "-o", str(library)],
                   check=True)
    model = next(iter(nfmlir.load(library).models.values()))
    rng = np.random.default_rng(0)
    n = 700  # several blocks of rows, so the thread pool is used as well
    ctx = None if model.context_dim == 0 else rng.normal(size=(n, model.context_dim)).astype(model.dtype)
    x = model.sample(n, seed=1, context=ctx)
    expected = call_all(model, x, ctx)
    results, errors = [None] * 8, []

    def work(i):
        try:
            for _ in range(3):
                results[i] = call_all(model, x, ctx)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for got in results:
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
