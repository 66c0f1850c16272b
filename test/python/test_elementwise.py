"""Elementwise bijections, compiled, in f32 and f64: round trips, V against
finite differences, numpy references (survae's forms), and behaviour at the
boundary of the support (never NaN; -inf log-density outside)."""

import numpy as np
import pytest
from conftest import fd_log_abs_det, ref_forward

import nfmlir

# layer, sampler of data in the interior of its domain
CASES = {
    "sigmoid": (nfmlir.Sigmoid(temperature=1.7), lambda rng, n: rng.uniform(-3, 3, (n, 3))),
    "logit": (nfmlir.Logit(alpha=0.05), lambda rng, n: rng.uniform(0.01, 0.99, (n, 3))),
    "logit_t": (nfmlir.Logit(temperature=0.5), lambda rng, n: rng.uniform(0.02, 0.98, (n, 3))),
    "tanh": (nfmlir.Tanh(), lambda rng, n: rng.uniform(-2.5, 2.5, (n, 3))),
    "softplus": (nfmlir.Softplus(), lambda rng, n: rng.uniform(-4, 6, (n, 3))),
    "leaky_relu": (nfmlir.LeakyReLU(slope=0.2), lambda rng, n: rng.normal(size=(n, 3))),
    "exp": (nfmlir.Exp(), lambda rng, n: rng.normal(size=(n, 3))),
    "log": (nfmlir.Log(), lambda rng, n: rng.uniform(0.05, 4, (n, 3))),
}
TOL = {"float32": 1e-4, "float64": 1e-10}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_elementwise(name, dtype, compile_model):
    layer, sample = CASES[name]
    rng = np.random.default_rng(len(name))
    # An affine after the layer keeps the latent unconstrained for sampling.
    model = nfmlir.Model([layer, nfmlir.Affine([1.5, 0.5, -2.0], 0.1)], nfmlir.StandardNormal(3),
                         dtype=dtype, name="e")
    lib = compile_model(model)
    x = sample(rng, 300).astype(dtype)

    z, ldj = lib.forward(x)
    assert np.abs(lib.inverse(z) - x).max() <= TOL[dtype] * max(1.0, np.abs(x).max())
    z_ref, v_ref = ref_forward(model, x.astype(np.float64))
    rel = 1e-5 if dtype == "float32" else 1e-11
    assert np.allclose(z, z_ref, rtol=rel, atol=rel)
    assert np.allclose(ldj, v_ref, rtol=rel, atol=rel)
    assert np.isfinite(lib.log_prob(x)).all()

    if dtype == "float64":
        fd = fd_log_abs_det(lambda v: lib.forward(v)[0], x.astype(np.float64)[:50], eps=1e-6)
        assert np.abs(ldj[:50] - fd).max() <= 1e-6


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_support_boundaries(dtype, compile_model):
    """Logit at 0 and 1 and huge inputs stay finite; outside the support
    log_prob is -inf, never NaN."""
    ops = {
        "logit": nfmlir.Logit(),
        "log": nfmlir.Log(),
        "sigmoid": nfmlir.Sigmoid(),
        "tanh": nfmlir.Tanh(),
        "softplus": nfmlir.Softplus(),
    }
    libs = {k: compile_model(nfmlir.Model([op], nfmlir.StandardNormal(2), dtype=dtype, name=k)) for k, op in ops.items()}

    edges = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.0]], dtype)
    z, ldj = libs["logit"].forward(edges)
    assert np.isfinite(z).all() and np.isfinite(ldj).all()
    outside = np.array([[-0.5, 0.5], [0.5, 1.5], [-1e-3, 2.0]], dtype)
    assert (libs["logit"].log_prob(outside) == -np.inf).all()
    assert (libs["log"].log_prob(np.array([[0.0, 1.0], [-2.0, 1.0]], dtype)) == -np.inf).all()
    assert np.isfinite(libs["log"].log_prob(np.array([[1e-30 if dtype == "float64" else 1e-30, 1.0]], dtype))).all()

    huge = np.array([[60.0, -60.0], [30.0, -30.0]], dtype)
    for name in ("sigmoid", "tanh", "softplus"):
        _, ldj = libs[name].forward(huge)
        assert not np.isnan(ldj).any(), name
        assert not np.isnan(libs[name].log_prob(huge)).any(), name
