"""Radial flows: closed-form inverse, V against finite differences and the
numpy reference, for expanding and contracting (beta < 0) maps."""

import numpy as np
import pytest
from conftest import check_bijection

import nfmlir


@pytest.mark.parametrize("beta", [2.0, -0.4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_radial(beta, dtype, compile_model):
    rng = np.random.default_rng(8)
    layers = [nfmlir.Radial(rng.normal(size=3), 0.5, beta), nfmlir.Radial(rng.normal(size=3), 1.2, 0.7)]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(3), dtype=dtype, name="rad")
    lib = compile_model(model)
    x = rng.normal(size=(300, 3)).astype(dtype)
    check_bijection(lib, model, x, round_trip=1e-4 if dtype == "float32" else 1e-10,
                    rel=1e-5 if dtype == "float32" else 1e-11, fd_rows=40)
    xs, logp = lib.sample_with_log_prob(300, seed=2)
    assert np.abs(lib.log_prob(xs) - logp).max() <= (1e-3 if dtype == "float32" else 1e-9)


def test_radial_rejects_non_invertible_beta(tmp_path):
    model = nfmlir.Model([nfmlir.Radial([0.0, 0.0], 0.5, -0.6)], nfmlir.StandardNormal(2), name="bad")
    with pytest.raises(nfmlir.CompileError, match="beta must be >= -alpha"):
        model.compile(out_dir=tmp_path)
