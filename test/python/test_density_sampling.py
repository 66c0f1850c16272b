"""Densities integrate to one; sampling is consistent, deterministic per
row, and independent of batch size and thread count."""


import numpy as np
import pytest
from conftest import ref_log_prob

import nfmlir


def two_d_model(dtype, base=None, name="d2"):
    rng = np.random.default_rng(5)
    layers = [nfmlir.Affine([1.3, 0.7], [0.2, -0.1])]
    for k in range(3):
        net = nfmlir.MLP.random([1, 32, 2], "tanh", rng, scale=0.8)
        layers += [nfmlir.AffineCoupling([k % 2], net, ["exp", "sigmoid", "softplus"][k]), nfmlir.Reverse()]
    return nfmlir.Model(layers, base or nfmlir.StandardNormal(2), dtype=dtype, name=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_density_integrates_to_one(dtype, compile_model):
    lib = compile_model(two_d_model(dtype))
    # Midpoint rule on [-12, 12]^2; the tails beyond carry < 1e-8 mass.
    grid = np.linspace(-12, 12, 1201)
    step = grid[1] - grid[0]
    centers = (grid[:-1] + grid[1:]) / 2
    xx, yy = np.meshgrid(centers, centers)
    points = np.stack([xx.ravel(), yy.ravel()], 1).astype(dtype)
    mass = np.exp(lib.log_prob(points).astype(np.float64)).sum() * step**2
    assert abs(mass - 1) <= 1e-3, mass


def test_uniform_base_density_integrates_to_one(compile_model):
    base = nfmlir.Uniform([-2.0, -1.0], [2.0, 3.0])
    lib = compile_model(two_d_model("float64", base, name="u2"))
    x = lib.sample(4000, seed=3)
    lo, hi = x.min(0) - 0.5, x.max(0) + 0.5
    gx = np.linspace(lo[0], hi[0], 801)
    gy = np.linspace(lo[1], hi[1], 801)
    cx, cy = (gx[:-1] + gx[1:]) / 2, (gy[:-1] + gy[1:]) / 2
    xx, yy = np.meshgrid(cx, cy)
    points = np.stack([xx.ravel(), yy.ravel()], 1)
    logp = lib.log_prob(points)
    assert not np.isnan(logp).any()
    mass = np.exp(logp).sum() * (gx[1] - gx[0]) * (gy[1] - gy[0])
    # A box density's edges cut grid cells, so the midpoint rule is coarser here.
    assert abs(mass - 1) <= 1e-2, mass


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sample_with_log_prob_matches_log_prob(dtype, compile_model):
    model = two_d_model(dtype)
    lib = compile_model(model)
    x, logp = lib.sample_with_log_prob(3000, seed=42)
    tol = 1e-4 if dtype == "float32" else 1e-10
    assert np.abs(lib.log_prob(x) - logp).max() <= tol * max(1, np.abs(logp).max())
    assert np.allclose(logp, ref_log_prob(model, x.astype(np.float64)), rtol=1e-4 if dtype == "float32" else 1e-10)
    assert np.array_equal(lib.sample(3000, seed=42), x)


def test_samples_follow_the_model(compile_model):
    """Pushing samples through the normalizing map gives standard normals."""
    lib = compile_model(two_d_model("float64"))
    z, _ = lib.forward(lib.sample(20000, seed=9))
    assert np.abs(z.mean(0)).max() < 0.03
    assert np.abs(np.cov(z.T) - np.eye(2)).max() < 0.04


def test_rows_depend_only_on_seed_and_index(compile_model, monkeypatch):
    lib = compile_model(two_d_model("float32"))
    reference = lib.sample(1000, seed=123)
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("NF_NUM_THREADS", threads)
        assert np.array_equal(lib.sample(1000, seed=123), reference)
    assert np.array_equal(lib.sample(10, seed=123), reference[:10])
    assert np.array_equal(lib.sample(1, seed=123), reference[:1])
    assert not np.array_equal(lib.sample(10, seed=124), reference[:10])


def test_threads_give_identical_results(compile_model, monkeypatch):
    lib = compile_model(two_d_model("float32"))
    x = np.random.default_rng(0).normal(size=(5000, 2)).astype(np.float32)
    monkeypatch.setenv("NF_NUM_THREADS", "1")
    one = lib.log_prob(x)
    monkeypatch.setenv("NF_NUM_THREADS", "4")
    assert np.array_equal(lib.log_prob(x), one)
