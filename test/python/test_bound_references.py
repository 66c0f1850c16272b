"""Multi-layer bound models against numpy references with the runtime's own
noise: the test reads the uniforms the kernel consumed for each row from the
library (`nfrt_fill_layer_noise_f64`, keyed by seed, row and column) and
recomputes the ELBO, the IWAE estimate over k paths and log_prob, layer by
layer, in float64. The layers take their columns of a row's layer noise in
normalizing order; a standard normal takes two uniforms (Box-Muller, the
first of all u1 then all u2)."""

import ctypes
import math

import numpy as np
import pytest

import nfmlir

LEVELS = 4
SCALE1, SHIFT1 = np.array([1.5, 0.5]), np.array([-0.2, 0.3])
SCALE2, SHIFT2 = np.array([0.8, 1.2, 0.6, 2.0]), np.array([0.1, -0.1, 0.0, 0.4])
MASK64 = (1 << 64) - 1


def mix_seed(value):
    """The runtime's SplitMix64 finalizer (decorrelates IWAE path seeds)."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def path_seed(seed, path, k):
    return seed if k == 1 else mix_seed(seed ^ mix_seed(path))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    layers = [nfmlir.UniformDequantize(LEVELS), nfmlir.Affine(SCALE1, SHIFT1), nfmlir.Augment(2),
              nfmlir.Affine(SCALE2, SHIFT2)]
    m = nfmlir.Model(layers, nfmlir.StandardNormal(4), dtype="float64", name="bound2", iwae_paths=6,
                     event_shape=(2,))
    return m.compile(out_dir=tmp_path_factory.mktemp("bound"))


def layer_noise(model, seed, rows, cols):
    lib = ctypes.CDLL(model.library_path)
    fill = lib.nfrt_fill_layer_noise_f64
    fill.argtypes = [ctypes.c_uint64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    out = np.empty((rows, cols))
    fill(seed, 0, rows, cols, out.ctypes.data)
    return out


def reference_elbo(x, u):
    """ELBO per row with layer noise u (rows x 6): dequantize (2 uniforms),
    affine, augment by 2 normals (4 uniforms), affine, standard normal."""
    y = (x + u[:, :2]) / LEVELS
    v = -2 * math.log(LEVELS)
    y = SCALE1 * y + SHIFT1
    v = v + np.log(np.abs(SCALE1)).sum()
    u1, u2 = u[:, 2:4], u[:, 4:6]
    e = np.sqrt(-2 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)
    v = v + (0.5 * e**2 + 0.5 * math.log(2 * math.pi)).sum(axis=1)  # -log q(e)
    z = SCALE2 * np.concatenate([y, e], axis=1) + SHIFT2
    v = v + np.log(np.abs(SCALE2)).sum()
    return -0.5 * (z**2).sum(axis=1) - 2 * math.log(2 * math.pi) + v


def reference_iwae(model, x, k, seed):
    bounds = np.stack([reference_elbo(x, layer_noise(model, path_seed(seed, j, k), len(x), 6)) for j in range(k)])
    top = bounds.max(axis=0)
    return top + np.log(np.exp(bounds - top).sum(axis=0) / k)


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(0).integers(0, LEVELS, size=(300, 2)).astype(np.float64)


def test_elbo_matches_reference(model, data):
    for seed in (0, 5, 2**63 + 11):
        want = reference_elbo(data, layer_noise(model, seed, len(data), 6))
        np.testing.assert_allclose(model.elbo(data, seed=seed), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3, 16])
def test_iwae_matches_reference(model, data, k):
    np.testing.assert_allclose(model.log_prob_iwae(data, k, seed=9), reference_iwae(model, data, k, 9),
                               rtol=1e-12, atol=1e-12)


def test_log_prob_is_iwae_with_the_model_paths(model, data):
    np.testing.assert_allclose(model.log_prob(data), reference_iwae(model, data, 6, 0), rtol=1e-12, atol=1e-12)


def test_forward_and_sample_noise(model, data):
    """forward returns z and V with the same noise; sampling rounds the
    dequantized values back to the levels."""
    z, v = model.forward(data, seed=4)
    u = layer_noise(model, 4, len(data), 6)
    y = SCALE1 * ((data + u[:, :2]) / LEVELS) + SHIFT1
    e = np.sqrt(-2 * np.log1p(-u[:, 2:4])) * np.cos(2 * np.pi * u[:, 4:6])
    np.testing.assert_allclose(z, SCALE2 * np.concatenate([y, e], axis=1) + SHIFT2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(-0.5 * (z**2).sum(axis=1) - 2 * math.log(2 * math.pi) + v,
                               reference_elbo(data, u), rtol=1e-12, atol=1e-12)
    x = model.sample(500, seed=1)
    assert np.all(x == np.floor(x)) and x.min() >= 0 and x.max() <= LEVELS - 1
