"""Stochastic layers: the VAE layer's V = log p(x|z) - log q(z|x) against
a numpy reference at the drawn pair, its ELBO/IWAE estimates, and the
stochastic permutation's uniform orders with V = 0."""

from math import log, pi

import numpy as np
import pytest
from conftest import ref_mlp

import nfmlir


def gaussian_log_density(value, mean, log_std):
    eps = (value - mean) * np.exp(-log_std)
    return (-0.5 * eps**2 - log_std - 0.5 * log(2 * pi)).sum(1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vae_layer_against_reference(dtype, compile_model):
    rng = np.random.default_rng(4)
    encoder = nfmlir.MLP.random([3, 16, 4], "tanh", rng, scale=0.5)
    decoder = nfmlir.MLP.random([2, 16, 6], "tanh", rng, scale=0.5)
    # A VAE with a flow prior: the latent goes through a coupling.
    layers = [nfmlir.VAE(2, encoder, decoder),
              nfmlir.AffineCoupling([0], nfmlir.MLP.random([1, 8, 2], "tanh", rng), "exp")]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype=dtype, name="vae", event_shape=(3,))
    lib = compile_model(model)
    assert (lib.dim, lib.latent_dim) == (3, 2)
    x = rng.normal(size=(300, 3)).astype(dtype)
    z, v = lib.forward(x, seed=5)
    # Undo the coupling to get the VAE's z; V splits into the VAE's term and
    # the coupling's log-scale.
    h = ref_mlp(layers[1].conditioner, z[:, :1].astype(np.float64))
    zv = np.concatenate([z[:, :1], (z[:, 1:] - h[:, :1]) / np.exp(h[:, 1:])], 1).astype(np.float64)
    x64 = x.astype(np.float64)
    he, hd = ref_mlp(encoder, x64), ref_mlp(decoder, zv)
    expected = (gaussian_log_density(x64, hd[:, :3], hd[:, 3:]) - gaussian_log_density(zv, he[:, :2], he[:, 2:])
                + h[:, 1:].sum(1))
    tol = 2e-5 if dtype == "float32" else 1e-9
    assert np.allclose(v, expected, rtol=tol, atol=tol)
    # The encoder's draws are N(mean, std^2): standardized, mean 0 and var 1.
    rows = np.repeat(x[:1], 20000, 0)
    zz = lib.forward(rows, seed=8)[0].astype(np.float64)
    hh = ref_mlp(layers[1].conditioner, zz[:, :1])
    zvv = np.concatenate([zz[:, :1], (zz[:, 1:] - hh[:, :1]) / np.exp(hh[:, 1:])], 1)
    eps = (zvv - he[:1, :2]) / np.exp(he[:1, 2:])
    assert np.abs(eps.mean(0)).max() < 0.03 and np.abs(eps.var(0) - 1).max() < 0.05
    # Bound model: more importance paths, a higher estimate on average.
    many = np.repeat(x[:2], 500, 0)
    one = lib.log_prob_iwae(many, 1, seed=2).reshape(2, -1).mean(1)
    more = lib.log_prob_iwae(many, 32, seed=2).reshape(2, -1).mean(1)
    assert np.all(more > one)
    xs, logp = lib.sample_with_log_prob(100, seed=3)
    assert np.isfinite(xs).all() and np.isfinite(logp).all()


def test_random_permutation(compile_model):
    model = nfmlir.Model([nfmlir.RandomPermutation()], nfmlir.StandardNormal(3), dtype="float64", name="perm")
    lib = compile_model(model)
    n = 30000
    x = np.tile([0.0, 1.0, 2.0], (n, 1))
    z, v = lib.forward(x, seed=1)
    assert np.array_equal(v, np.zeros(n))
    orders, counts = np.unique(z, axis=0, return_counts=True)
    assert len(orders) == 6
    assert np.all(np.abs(counts / n - 1 / 6) < 4 * np.sqrt(5 / 36 / n))
    # The generative direction draws its own order.
    assert not np.array_equal(lib.inverse(z, seed=1), x)
    assert np.array_equal(np.sort(lib.inverse(z, seed=1), 1), x)


def assert_bound_model_runs(lib, rng):
    """More importance paths, a higher estimate; sampling gives finite
    values and log-probabilities."""
    x = np.repeat(rng.normal(size=(2, 2)), 2000, 0)
    one = lib.log_prob_iwae(x, 1, seed=2).reshape(2, -1).mean(1)
    many = lib.log_prob_iwae(x, 32, seed=2).reshape(2, -1).mean(1)
    assert np.all(many > one)
    xs, logp = lib.sample_with_log_prob(500, seed=3)
    assert np.isfinite(xs).all() and np.isfinite(logp).all()


def cif_layer(rng, d=2, u=1):
    return nfmlir.CIF(u, nfmlir.MLP.random([d, 16, 2 * u], "tanh", rng, scale=0.5),
                      nfmlir.MLP.random([d, 16, 2 * u], "tanh", rng, scale=0.5),
                      nfmlir.MLP.random([u, 16, 2 * d], "tanh", rng, scale=0.5))


def with_noise_from_context(text, direction, u, t):
    """The model's context becomes the CIF layer's noise (so the test can fix it)."""
    text = text.replace(f"(%x: tensor<?x2x{t}>)", f"(%x: tensor<?x2x{t}>, %c: tensor<?x{u}x{t}>)")
    return text.replace(" {index_features", f" {direction}_noise %c : tensor<?x{u}x{t}> {{index_features")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cif_against_reference(dtype, tmp_path):
    rng = np.random.default_rng(6)
    layer = cif_layer(rng)
    model = nfmlir.Model([layer], nfmlir.StandardNormal(2), dtype=dtype, name="cif")
    t = "f32" if dtype == "float32" else "f64"
    n = 400
    x = rng.normal(size=(n, 2)).astype(dtype)
    eps = rng.normal(size=(n, 1)).astype(dtype)
    x64, eps64 = x.astype(np.float64), eps.astype(np.float64)

    def load(direction):
        text = with_noise_from_context(model.to_mlir(), direction, 1, t)
        return nfmlir.load(nfmlir.compile_mlir(text, "cif", out_dir=tmp_path / direction))["cif"]

    def reference_v(xx, zz, uu, log_scale):
        he, hd = ref_mlp(layer.encoder, xx), ref_mlp(layer.decoder, zz)
        return (log_scale.sum(1) + gaussian_log_density(uu, hd[:, :1], hd[:, 1:])
                - gaussian_log_density(uu, he[:, :1], he[:, 1:]))

    z, v = load("forward").forward(x, context=eps)
    he = ref_mlp(layer.encoder, x64)
    u = he[:, :1] + np.exp(he[:, 1:]) * eps64
    ht = ref_mlp(layer.transform, u)
    z_ref = (x64 + ht[:, :2]) * np.exp(ht[:, 2:])
    tol = 1e-5 if dtype == "float32" else 1e-10
    assert np.allclose(z, z_ref, rtol=tol, atol=tol)
    assert np.allclose(v, reference_v(x64, z_ref, u, ht[:, 2:]), rtol=tol, atol=tol)
    # Sampling: u ~ p(u | z), x = z exp(-log_scale) - shift.
    zs = rng.normal(size=(n, 2)).astype(dtype)
    xs = load("inverse").inverse(zs, context=eps)
    hd = ref_mlp(layer.decoder, zs.astype(np.float64))
    u = hd[:, :1] + np.exp(hd[:, 1:]) * eps64
    ht = ref_mlp(layer.transform, u)
    assert np.allclose(xs, zs * np.exp(-ht[:, 2:]) - ht[:, :2], rtol=tol, atol=tol)


def test_cif_bound_rises_with_k(compile_model):
    rng = np.random.default_rng(7)
    layers = [cif_layer(rng), nfmlir.AffineCoupling([0], nfmlir.MLP.random([1, 8, 2], "tanh", rng), "exp"),
              cif_layer(rng)]
    assert_bound_model_runs(compile_model(nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype="float64",
                                                       name="cif2")), rng)


def time_mlp(net, y, t):
    return ref_mlp(net, np.concatenate([y, np.full((len(y), 1), t)], 1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_diffusion_step_against_reference(dtype, tmp_path):
    """DiffFlow's forward_step / backward_step with the noise fixed, and V =
    delta_s + D log(g0 / g1)."""
    rng = np.random.default_rng(8)
    drift = nfmlir.MLP.random([3, 16, 2], "tanh", rng, scale=0.5)
    score = nfmlir.MLP.random([3, 16, 2], "tanh", rng, scale=0.5)
    t0, t1, g0, g1 = 0.01, 0.06, 0.3, 0.2
    step = nfmlir.DiffusionStep(drift, score, t0, t1, g0, g1)
    model = nfmlir.Model([step], nfmlir.StandardNormal(2), dtype=dtype, name="diff")
    t = "f32" if dtype == "float32" else "f64"
    n, dt = 300, t1 - t0
    x = rng.normal(size=(n, 2)).astype(dtype)
    eps = rng.normal(size=(n, 2)).astype(dtype)
    x64, eps64 = x.astype(np.float64), eps.astype(np.float64)

    def load(direction):
        text = model.to_mlir().replace(f"(%x: tensor<?x2x{t}>)", f"(%x: tensor<?x2x{t}>, %c: tensor<?x2x{t}>)")
        text = text.replace(" {t0", f" {direction}_noise %c : tensor<?x2x{t}> {{t0")
        return nfmlir.load(nfmlir.compile_mlir(text, "diff", out_dir=tmp_path / direction))["diff"]

    def backward_drift(y):
        return time_mlp(drift, y, t1) - g1**2 * time_mlp(score, y, t1)

    def v_ref(xx, zz):
        eps_f = (zz - xx - time_mlp(drift, xx, t0) * dt) / (g0 * np.sqrt(dt))
        eps_b = (xx - zz + backward_drift(zz) * dt) / (g1 * np.sqrt(dt))
        return -0.5 * ((eps_b**2).sum(1) - (eps_f**2).sum(1)) + 2 * np.log(g0 / g1)

    z, v = load("forward").forward(x, context=eps)
    z_ref = x64 + time_mlp(drift, x64, t0) * dt + g0 * np.sqrt(dt) * eps64
    tol = 1e-5 if dtype == "float32" else 1e-10
    assert np.allclose(z, z_ref, rtol=tol, atol=tol)
    assert np.allclose(v, v_ref(x64, z_ref), rtol=tol, atol=tol)
    zs = rng.normal(size=(n, 2)).astype(dtype)
    zs64 = zs.astype(np.float64)
    xs = load("inverse").inverse(zs, context=eps)
    assert np.allclose(xs, zs64 - backward_drift(zs64) * dt + g1 * np.sqrt(dt) * eps64, rtol=tol, atol=tol)


def test_diffusion_chain_is_a_bound(compile_model):
    """Five steps with small random networks: a bound that more importance
    paths tighten; sampling runs the backward SDE."""
    rng = np.random.default_rng(9)
    times = np.linspace(0.0, 0.25, 6)
    layers = [nfmlir.DiffusionStep(nfmlir.MLP.random([3, 8, 2], "tanh", rng, 0.3),
                                   nfmlir.MLP.random([3, 8, 2], "tanh", rng, 0.3), a, b, 0.5, 0.5)
              for a, b in zip(times[:-1], times[1:])]
    assert_bound_model_runs(compile_model(nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype="float64",
                                                       name="chain")), rng)
