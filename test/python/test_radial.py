"""Radial flows: closed-form inverse, V against finite differences and the
numpy reference, for expanding and contracting (beta < 0) maps."""

import numpy as np
import pytest
from conftest import fd_log_abs_det, ref_forward

import nfmlir


@pytest.mark.parametrize("beta", [2.0, -0.4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_radial(beta, dtype, compile_model):
    rng = np.random.default_rng(8)
    layers = [nfmlir.Radial(rng.normal(size=3), 0.5, beta), nfmlir.Radial(rng.normal(size=3), 1.2, 0.7)]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(3), dtype=dtype, name="rad")
    lib = compile_model(model)
    x = rng.normal(size=(300, 3)).astype(dtype)
    z, ldj = lib.forward(x)
    assert np.abs(lib.inverse(z) - x).max() <= (1e-4 if dtype == "float32" else 1e-10)
    z_ref, v_ref = ref_forward(model, x.astype(np.float64))
    rel = 2e-5 if dtype == "float32" else 1e-11
    assert np.allclose(z, z_ref, rtol=rel, atol=rel)
    assert np.allclose(ldj, v_ref, rtol=rel, atol=rel)
    xs, logp = lib.sample_with_log_prob(300, seed=2)
    assert np.abs(lib.log_prob(xs) - logp).max() <= (1e-3 if dtype == "float32" else 1e-9)
    if dtype == "float64":
        fd = fd_log_abs_det(lambda v: lib.forward(v)[0], x[:40].astype(np.float64))
        assert np.abs(ldj[:40] - fd).max() <= 1e-6


def test_radial_rejects_non_invertible_beta(tmp_path):
    model = nfmlir.Model([nfmlir.Radial([0.0, 0.0], 0.5, -0.6)], nfmlir.StandardNormal(2), name="bad")
    with pytest.raises(nfmlir.CompileError, match="beta must be >= -alpha"):
        model.compile(out_dir=tmp_path)
