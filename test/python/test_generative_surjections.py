"""Generative surjections (uniform dequantization, augment): their bound
V, the right-inverse identity inverse(forward(x)) = x, and the
importance-weighted estimate, which rises with k toward the exact value
where it is known (dequantized discretized Gaussian)."""

from math import erf, log, pi, sqrt

import numpy as np
import pytest
from conftest import ref_mlp

import nfmlir

K, MU, SD = 8, 0.45, 0.2


def dequantized_gaussian(dtype="float64", iwae_paths=None):
    """Levels 0..K-1 per feature, dequantized, then standardized: a
    discretized N(MU, SD^2) on [0, 1) in each feature."""
    layers = [nfmlir.UniformDequantize(K), nfmlir.Affine([1 / SD] * 2, [-MU / SD] * 2)]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype=dtype, name="deq", iwae_paths=iwae_paths)


def exact_log_prob(x):
    def phi(t):
        return 0.5 * (1 + erf(t / sqrt(2)))
    return np.array([sum(log(phi(((v + 1) / K - MU) / SD) - phi((v / K - MU) / SD)) for v in row) for row in x])


def test_iwae_rises_with_k_toward_the_exact_value(compile_model):
    lib = compile_model(dequantized_gaussian())
    x = np.array([[2.0, 3.0], [4.0, 4.0], [0.0, 7.0]])
    exact = exact_log_prob(x)
    rows = np.repeat(x, 20000, 0)  # means to ~1e-3, below the gaps between k
    means = {k: lib.log_prob_iwae(rows, k, seed=2).reshape(3, -1).mean(1) for k in (1, 4, 32, 256)}
    assert np.all(means[1] < means[4]) and np.all(means[4] < means[32])
    assert np.all(means[256] <= exact + 2e-3)
    assert np.abs(means[256] - exact).max() < 3e-3
    # The ELBO is the one-path estimate: below the exact value on average.
    elbo = lib.elbo(rows, seed=5).reshape(3, -1).mean(1)
    assert np.all(elbo < exact)
    assert np.allclose(elbo, means[1], atol=0.05)


def test_log_prob_is_the_iwae_estimate_with_the_model_paths(compile_model):
    lib = compile_model(dequantized_gaussian(iwae_paths=16))
    x = np.array([[2.0, 3.0], [5.0, 1.0]])
    assert np.array_equal(lib.log_prob(x), lib.log_prob_iwae(x, 16, seed=0))
    with pytest.raises(ValueError, match="k must be >= 1"):
        lib.log_prob_iwae(x, 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dequantization_round_trip_and_bound(dtype, compile_model):
    lib = compile_model(dequantized_gaussian(dtype))
    rng = np.random.default_rng(1)
    x = rng.integers(0, K, size=(500, 2)).astype(dtype)
    z, v = lib.forward(x, seed=3)
    assert np.allclose(v, -2 * log(K) + 2 * log(1 / SD), rtol=1e-6)  # dequantization + affine
    assert np.array_equal(lib.inverse(z), x)
    # The uniforms differ per row and per seed, and stay inside the cells.
    u = z * SD + MU
    assert np.all((u * K >= x) & (u * K < x + 1))
    assert not np.array_equal(lib.forward(x, seed=4)[0], z)
    samples = lib.sample(1000, seed=2)
    assert np.array_equal(samples, np.floor(samples)) and samples.min() >= 0 and samples.max() <= K - 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_augment_against_reference(dtype, compile_model):
    rng = np.random.default_rng(2)
    encoder = nfmlir.MLP.random([2, 8, 4], "tanh", rng)
    layers = [nfmlir.Augment(2, encoder), nfmlir.AffineCoupling([0, 1], nfmlir.MLP.random([2, 8, 4], "tanh", rng))]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(4), dtype=dtype, name="aug", event_shape=(2,))
    lib = compile_model(model)
    assert (lib.dim, lib.latent_dim) == (2, 4)
    x = rng.normal(size=(300, 2)).astype(dtype)
    z, v = lib.forward(x, seed=7)
    assert np.array_equal(lib.inverse(z), x)
    # V = -log q(e | x) + the coupling's log-scale, with e read back from the
    # layer's output through the coupling's inverse.
    x64 = x.astype(np.float64)
    h = ref_mlp(encoder, x64)
    mean, log_std = h[:, :2], h[:, 2:]
    coupling = layers[1]
    shift_scale = ref_mlp(coupling.conditioner, z[:, :2].astype(np.float64))
    e = (z[:, 2:] - shift_scale[:, :2]) / np.exp(shift_scale[:, 2:])
    eps = (e - mean) / np.exp(log_std)
    log_q = (-0.5 * eps**2 - log_std - 0.5 * log(2 * pi)).sum(1)
    expected = -log_q + shift_scale[:, 2:].sum(1)
    tol = 1e-5 if dtype == "float32" else 1e-10
    assert np.allclose(v, expected, rtol=tol, atol=tol)
    # Importance weighting tightens the bound.
    rows = np.repeat(x[:3], 300, 0)
    one = lib.log_prob_iwae(rows, 1, seed=1).reshape(3, -1).mean(1)
    many = lib.log_prob_iwae(rows, 64, seed=1).reshape(3, -1).mean(1)
    assert np.all(many > one)


def test_exact_models_have_equal_estimates(compile_model):
    model = nfmlir.Model([nfmlir.Affine([2.0, 0.5], [0.1, -0.3])], nfmlir.StandardNormal(2), dtype="float64",
                         name="exact")
    lib = compile_model(model)
    x = np.random.default_rng(0).normal(size=(50, 2))
    assert np.allclose(lib.elbo(x, seed=3), lib.log_prob(x), rtol=0, atol=1e-14)
    assert np.allclose(lib.log_prob_iwae(x, 7, seed=3), lib.log_prob(x), rtol=0, atol=1e-12)


def dequantize_and_recover(lib, x):
    """V of a forward pass of `x` through the dequantized-Gaussian model,
    and its drawn u = K z - x (checked inside the cells) and logit(u);
    rounding gives x back."""
    z, v = lib.forward(x, seed=3)
    assert np.array_equal(lib.inverse(z), x)
    u = (z.astype(np.float64) * SD + MU) * K - x
    assert np.all((u > 0) & (u < 1))
    return v, u, np.log(u) - np.log1p(-u)


def variational_gaussian(rng, dtype="float64"):
    encoder = nfmlir.MLP.random([2, 16, 4], "tanh", rng, scale=0.5)
    layers = [nfmlir.VariationalDequantize(K, encoder), nfmlir.Affine([1 / SD] * 2, [-MU / SD] * 2)]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype=dtype, name="vdeq"), encoder


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_variational_dequantization_against_reference(dtype, compile_model):
    rng = np.random.default_rng(2)
    model, encoder = variational_gaussian(rng, dtype)
    lib = compile_model(model)
    x = rng.integers(0, K, size=(500, 2)).astype(dtype)
    v, u, logit = dequantize_and_recover(lib, x)
    # V at the drawn pair: eps = (logit(u) - mean) / std.
    h = ref_mlp(encoder, x.astype(np.float64))
    mean, log_std = h[:, :2], h[:, 2:]
    eps = (logit - mean) * np.exp(-log_std)
    log_q = (-0.5 * eps**2 - 0.5 * log(2 * pi) - log_std - np.log(u) - np.log1p(-u)).sum(1)
    expected = -2 * log(K) - log_q + 2 * log(1 / SD)
    tol = 2e-4 if dtype == "float32" else 1e-9  # f32: u recovered from z loses digits
    assert np.allclose(v, expected, rtol=tol, atol=tol)
    # eps is standard normal across draws of one row.
    rows = np.repeat(x[:1], 20000, 0)
    uu = (lib.forward(rows, seed=5)[0].astype(np.float64) * SD + MU) * K - rows
    ee = ((np.log(uu) - np.log1p(-uu)) - mean[:1]) * np.exp(-log_std[:1])
    assert np.abs(ee.mean(0)).max() < 0.03 and np.abs(ee.var(0) - 1).max() < 0.05


def test_variational_dequantization_iwae_approaches_the_exact_value(compile_model):
    """With an untrained encoder q(u | x) is far from the cells' true
    conditional, so the bound is loose (gap 0.14 to 0.31 nats at k = 1) and
    the IWAE gap closes slowly: measured 0.008 to 0.018 at k = 256."""
    lib = compile_model(variational_gaussian(np.random.default_rng(3))[0])
    x = np.array([[2.0, 3.0], [4.0, 4.0], [0.0, 7.0]])
    exact = exact_log_prob(x)
    rows = np.repeat(x, 20000, 0)
    gaps = {k: exact - lib.log_prob_iwae(rows, k, seed=2).reshape(3, -1).mean(1) for k in (1, 32, 256)}
    assert np.all(gaps[1] > gaps[32]) and np.all(gaps[32] > gaps[256])
    assert np.all(gaps[256] > -2e-3) and gaps[256].max() < 0.03


def test_augmented_flow_step_is_two_couplings_across_the_split(compile_model):
    rng = np.random.default_rng(4)
    encode = nfmlir.MLP.random([2, 8, 4], "tanh", rng, 0.5)
    decode = nfmlir.MLP.random([2, 8, 4], "tanh", rng, 0.5)
    step = nfmlir.Model([nfmlir.Augment(2), nfmlir.AugmentedFlowStep(2, encode, decode)],
                        nfmlir.StandardNormal(4), dtype="float64", name="anf", event_shape=(2,))
    explicit = nfmlir.Model([nfmlir.Augment(2), nfmlir.AffineCoupling([0, 1], encode, "exp"),
                             nfmlir.AffineCoupling([2, 3], decode, "exp")],
                            nfmlir.StandardNormal(4), dtype="float64", name="anf", event_shape=(2,))
    assert step.to_mlir() == explicit.to_mlir()
    lib = compile_model(step)
    x = rng.normal(size=(100, 2))
    z, v = lib.forward(x, seed=1)
    assert np.allclose(lib.inverse(z), x, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="AugmentedFlowStep"):
        nfmlir.Model([nfmlir.AugmentedFlowStep(2, encode, decode)], nfmlir.StandardNormal(2),
                     name="bad").to_mlir()


def encoder_flow(rng, dtype="float64"):
    """A conditional RealNVP on v in R^2 given x (2 context features)."""
    layers = [nfmlir.AffineCoupling([k % 2], nfmlir.MLP.random([1 + 2, 16, 2], "tanh", rng, 0.4), "exp")
              for k in range(3)]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), context_dim=2, dtype=dtype, name="vdq_flow")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_variational_dequantization_with_a_flow_encoder(dtype, compile_model):
    """The in-layer V (encoder flow run in its sampling direction) agrees
    with the encoder flow compiled on its own and evaluated at v = logit(u)
    given x (its normalizing direction)."""
    rng = np.random.default_rng(5)
    flow = encoder_flow(rng, dtype)
    layers = [nfmlir.VariationalDequantize(K, flow), nfmlir.Affine([1 / SD] * 2, [-MU / SD] * 2)]
    lib = compile_model(nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype=dtype, name="vdqf"))
    encoder = compile_model(flow)
    x = rng.integers(0, K, size=(500, 2)).astype(dtype)
    v, u, logit = dequantize_and_recover(lib, x)
    log_q_v = encoder.log_prob(logit.astype(dtype), context=x).astype(np.float64)
    expected = -2 * log(K) - (log_q_v - (np.log(u) + np.log1p(-u)).sum(1)) + 2 * log(1 / SD)
    tol = 5e-4 if dtype == "float32" else 1e-8  # f32: u recovered from z loses digits
    assert np.allclose(v, expected, rtol=tol, atol=tol)
    rows = np.repeat(np.array([[2.0, 3.0], [0.0, 7.0]], dtype), 10000, 0)
    gaps = {k: exact_log_prob(rows[::10000]) - lib.log_prob_iwae(rows, k, seed=2).reshape(2, -1).mean(1)
            for k in (1, 32)}
    assert np.all(gaps[1] > gaps[32]) and np.all(gaps[32] > -2e-3)


def test_variational_dequantization_outside_the_cells_is_impossible(compile_model):
    """Sampled latents whose dequantized value leaves [0, 1) round to a
    clamped level that cannot produce them: log p = -inf, never NaN."""
    lib = compile_model(variational_gaussian(np.random.default_rng(8))[0])
    xs, logp = lib.sample_with_log_prob(4000, seed=6)
    assert not np.isnan(logp).any()
    lib_u = compile_model(dequantized_gaussian())
    outside = np.isneginf(logp)
    assert 0 < outside.mean() < 0.05  # N(0.45, 0.2^2) beyond [0, 1): about 1.4 %
    assert np.isfinite(logp[~outside]).all() and np.isfinite(lib_u.log_prob(xs)).all()
