"""The incremental autoregressive inverse (each MADE unit computed once, at
the step whose features it needs) against the naive one (D conditioner
passes, nf-compile --incremental-autoregressive-inverse=false), and both
against the forward map: every generative entry of MAF and spline-MAF stacks
with one or two hidden layers, with and without context, in f32 and f64."""

import numpy as np
import pytest

import nfmlir

# Relative to 1 + |value|: the two solves sum the same products in another
# order.
TOL = {"float32": 5e-5, "float64": 1e-11}


def maf(dtype, hidden, context_dim, rng):
    d = 5
    layers = []
    for k in range(2):
        layers.append(nfmlir.MaskedAffineAutoregressive(
            nfmlir.MADE.random(d, hidden, 2, context_dim, "tanh", rng, 0.5)))
        layers.append(nfmlir.Permute(list(rng.permutation(d))))
    layers.append(nfmlir.MaskedSplineAutoregressive(
        nfmlir.MADE.random(d, hidden, 3 * 4 - 1, context_dim, "relu", rng, 0.5), bins=4))
    name = f"maf_{dtype[-2:]}_{len(hidden)}_{context_dim}"
    return nfmlir.Model(layers, nfmlir.StandardNormal(d), context_dim=context_dim, dtype=dtype, name=name)


def assert_close(actual, expected, dtype, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    error = np.abs(actual - expected) / (1 + np.abs(expected))
    assert error.max() <= TOL[dtype], f"{what}: max relative error {error.max():.2e}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden,context_dim", [([16], 0), ([16, 12], 0), ([16, 12], 3)])
def test_incremental_inverse_matches_naive(dtype, hidden, context_dim, tmp_path):
    rng = np.random.default_rng(5)
    model = maf(dtype, hidden, context_dim, rng)
    text = model.to_mlir()
    incremental = nfmlir.load(nfmlir.compile_mlir(text, name=model.name, out_dir=tmp_path / "i"))[model.name]
    naive = nfmlir.load(nfmlir.compile_mlir(text, name=model.name, out_dir=tmp_path / "n",
                                            extra_args=["--incremental-autoregressive-inverse=false"]))[model.name]
    n = 300
    ctx = rng.normal(size=(n, context_dim)).astype(dtype) if context_dim else None
    z = rng.normal(size=(n, model.dim)).astype(dtype)
    x = incremental.inverse(z, context=ctx)
    assert_close(x, naive.inverse(z, context=ctx), dtype, "inverse")
    # Both invert the forward map.
    assert_close(incremental.forward(x, context=ctx)[0], z, dtype, "forward(inverse(z))")
    xs_i, lp_i = incremental.sample_with_log_prob(n, seed=9, context=ctx)
    xs_n, lp_n = naive.sample_with_log_prob(n, seed=9, context=ctx)
    assert_close(xs_i, xs_n, dtype, "samples")
    assert_close(lp_i, lp_n, dtype, "sample log p")
    assert_close(lp_i, incremental.log_prob(xs_i, context=ctx), dtype, "sample log p vs log_prob")
    assert_close(incremental.sample(n, seed=9, context=ctx), xs_n, dtype, "sample")
