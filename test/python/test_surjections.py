"""Inference surjections (abs, sort, slice): exact likelihoods checked
against numpy references and by integrating 2-D densities to 1, the
right-inverse identity forward(inverse(z)) = z, and the generative
directions' randomness (sign probabilities, uniform orders, decoder draws)."""

from math import lgamma, log, pi

import numpy as np
import pytest
from conftest import ref_mlp

import nfmlir

TOL = {"float32": 1e-5, "float64": 1e-11}


def ref_surjection(layer, x):
    """(z, V) of one surjection on float64 rows."""
    if isinstance(layer, nfmlir.Abs):
        positive = x >= 0
        if layer.logits is None:
            v = np.full(len(x), -x.shape[1] * log(2.0))
        else:
            logp = -np.logaddexp(0, np.where(positive, -layer.logits, layer.logits))
            v = logp.sum(1)
        return np.abs(x), v
    if isinstance(layer, nfmlir.Sort):
        return np.sort(x, 1), np.full(len(x), -lgamma(x.shape[1] + 1))
    z, dropped = x[:, :layer.keep], x[:, layer.keep:]
    mean, log_std = np.zeros_like(dropped), np.zeros_like(dropped)
    if layer.decoder is not None:
        h = ref_mlp(layer.decoder, z)
        mean, log_std = h[:, : dropped.shape[1]], h[:, dropped.shape[1]:]
    eps = (dropped - mean) * np.exp(-log_std)
    return z, (-0.5 * eps**2 - log_std - 0.5 * log(2 * pi)).sum(1)


def surjections(rng):
    return [nfmlir.Abs(), nfmlir.Abs(rng.normal(size=3)), nfmlir.Sort(), nfmlir.Slice(2),
            nfmlir.Slice(1, nfmlir.MLP.random([1, 8, 4], "tanh", rng))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index", range(5), ids=["abs", "abs_logits", "sort", "slice", "slice_decoder"])
def test_surjection_against_reference(index, dtype, compile_model):
    rng = np.random.default_rng(index)
    layer = surjections(rng)[index]
    latent = layer.keep if isinstance(layer, nfmlir.Slice) else 3
    model = nfmlir.Model([layer], nfmlir.StandardNormal(latent), dtype=dtype, name="surj", event_shape=(3,))
    lib = compile_model(model)
    assert (lib.dim, lib.latent_dim) == (3, latent)
    x = rng.normal(size=(500, 3)).astype(dtype)
    z, v = lib.forward(x)
    z_ref, v_ref = ref_surjection(layer, x.astype(np.float64))
    assert np.allclose(z, z_ref, rtol=TOL[dtype], atol=TOL[dtype])
    assert np.allclose(v, v_ref, rtol=TOL[dtype], atol=TOL[dtype])
    # The right inverse: forward(inverse(z)) = z exactly on the image.
    x_back = lib.inverse(z, seed=7)
    assert np.array_equal(lib.forward(x_back)[0], z)
    # Samples and their log-densities agree; seeds reproduce rows.
    xs, logp = lib.sample_with_log_prob(400, seed=3)
    assert np.allclose(lib.log_prob(xs), logp, rtol=TOL[dtype], atol=TOL[dtype])
    assert np.array_equal(lib.sample(400, seed=3), xs)
    assert not np.array_equal(lib.sample(400, seed=4), xs)


def test_abs_signs_follow_their_probabilities(compile_model):
    logits = np.array([1.5, 0.0, -2.0])
    model = nfmlir.Model([nfmlir.Abs(logits)], nfmlir.StandardNormal(3), dtype="float64", name="signs")
    lib = compile_model(model)
    n = 40000
    x = lib.inverse(np.ones((n, 3)), seed=11)
    assert np.array_equal(np.abs(x), np.ones((n, 3)))
    p = 1 / (1 + np.exp(-logits))
    assert np.all(np.abs((x > 0).mean(0) - p) < 4 * np.sqrt(p * (1 - p) / n))


def test_sort_draws_every_order_equally(compile_model):
    model = nfmlir.Model([nfmlir.Sort()], nfmlir.StandardNormal(3), dtype="float64", name="orders")
    lib = compile_model(model)
    n = 30000
    x = lib.inverse(np.tile([0.0, 1.0, 2.0], (n, 1)), seed=2)
    orders, counts = np.unique(x, axis=0, return_counts=True)
    assert len(orders) == 6
    assert np.all(np.abs(counts / n - 1 / 6) < 4 * np.sqrt(1 / 6 * 5 / 6 / n))


def test_slice_decoder_draws(compile_model):
    rng = np.random.default_rng(5)
    decoder = nfmlir.MLP.random([1, 8, 2], "tanh", rng)
    model = nfmlir.Model([nfmlir.Slice(1, decoder)], nfmlir.StandardNormal(1), dtype="float64", name="dec",
                         event_shape=(2,))
    lib = compile_model(model)
    n = 40000
    z = np.full((n, 1), 0.7)
    x = lib.inverse(z, seed=9)
    assert np.array_equal(x[:, :1], z)
    mean, log_std = ref_mlp(decoder, z[:1])[0]
    assert abs(x[:, 1].mean() - mean) < 4 * np.exp(log_std) / np.sqrt(n)
    assert abs(x[:, 1].std() / np.exp(log_std) - 1) < 0.02


def test_slice_density_integrates_to_one(compile_model):
    rng = np.random.default_rng(3)
    layers = [nfmlir.AffineCoupling([0], nfmlir.MLP.random([1, 16, 2], "tanh", rng), "exp"),
              nfmlir.Slice(1, nfmlir.MLP.random([1, 16, 2], "tanh", rng, scale=0.5))]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(1), dtype="float64", name="slice2d", event_shape=(2,))
    lib = compile_model(model)
    g = np.linspace(-12, 12, 1201)
    h = g[1] - g[0]
    xx, yy = np.meshgrid(g, g)
    p = np.exp(lib.log_prob(np.stack([xx.ravel(), yy.ravel()], 1)))
    assert abs(p.sum() * h * h - 1) < 1e-3


def test_abs_density_integrates_to_one(compile_model):
    # x -> A x + b -> |.| -> log: a bijection of the positive orthant onto
    # R^2 after the abs, so the density is normalized. It has integrable
    # 1/|y| spikes on the axes, so integrate over u = log|y| per axis
    # (dy = e^u du), summing the four sign quadrants.
    layers = [nfmlir.Affine([1.5, 0.7], [0.0, 0.0]), nfmlir.Abs([0.4, -0.8]), nfmlir.Log()]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype="float64", name="abs2d")
    lib = compile_model(model)
    u = np.linspace(-40, 6, 2301)
    h = u[1] - u[0]
    uu, vv = np.meshgrid(u, u)
    total = 0.0
    for sx in (-1, 1):
        for sy in (-1, 1):
            y = np.stack([sx * np.exp(uu.ravel()), sy * np.exp(vv.ravel())], 1)
            x = y / np.array([1.5, 0.7])
            jac = np.exp(uu.ravel() + vv.ravel()) / (1.5 * 0.7)
            total += (np.exp(lib.log_prob(x)) * jac).sum() * h * h
    assert abs(total - 1) < 1e-3


def ref_max_pool(x, log_scale=None):
    """(z, V) of the 2x2 max-pooling surjection on float64 images."""
    n, c, h, w = x.shape
    windows = np.stack([x[:, :, a::2, b::2] for a in (0, 1) for b in (0, 1)], 2)  # n, c, 4, h/2, w/2
    z = windows.max(2)
    k = windows.argmax(2)  # the first maximum
    others = np.stack([np.where(m < k, windows[:, :, m], windows[:, :, m + 1]) for m in range(3)], 2)
    gaps = (z[:, :, None] - others).reshape(n, 3 * c, h // 2, w // 2)
    log_scale = np.zeros_like(gaps) if log_scale is None else log_scale
    eps = gaps * np.exp(-log_scale)
    v = (np.log(2) - 0.5 * log(2 * pi) - log_scale - 0.5 * eps**2).reshape(n, -1).sum(1) - z[0].size * log(4)
    return z, v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_against_reference(dtype, compile_model):
    rng = np.random.default_rng(6)
    decoder = nfmlir.ConvNet.random([2, 8, 6], 3, "tanh", rng, 0.5)
    for name, layer in (("pool", nfmlir.MaxPool2d()), ("pool_decoder", nfmlir.MaxPool2d(decoder))):
        model = nfmlir.Model([layer], nfmlir.StandardNormal(8), dtype=dtype, name=name, event_shape=(2, 4, 4))
        lib = compile_model(model)
        x = rng.normal(size=(300, 2, 4, 4))
        x[0, 0, :2, :2] = 0.5  # a tie: the first maximum wins
        x = x.astype(dtype)
        z, v = lib.forward(x.reshape(300, -1))
        log_scale = None
        if layer.decoder is not None:
            from conftest import ref_convnet
            log_scale = ref_convnet(decoder, ref_max_pool(x.astype(np.float64))[0])
        z_ref, v_ref = ref_max_pool(x.astype(np.float64), log_scale)
        assert np.allclose(z, z_ref.reshape(300, -1), rtol=TOL[dtype], atol=TOL[dtype])
        assert np.allclose(v, v_ref, rtol=TOL[dtype], atol=TOL[dtype])
        # Sampling draws positions and gaps whose maximum is z again.
        x_s = lib.inverse(z, seed=3)
        assert np.array_equal(lib.forward(x_s)[0], z)
        windows = x_s.reshape(300, 2, 4, 4)
        assert np.allclose(ref_max_pool(windows.astype(np.float64))[0].reshape(300, -1), z, rtol=0, atol=0)
        xs, logp = lib.sample_with_log_prob(2000, seed=4)
        assert np.allclose(lib.log_prob(xs), logp, rtol=TOL[dtype], atol=TOL[dtype])


def test_max_pool_positions_are_uniform(compile_model):
    lib = compile_model(nfmlir.Model([nfmlir.MaxPool2d()], nfmlir.StandardNormal(1), dtype="float64",
                                     name="pool1", event_shape=(1, 2, 2)))
    x = lib.inverse(np.zeros((40000, 1)), seed=9)
    counts = np.bincount(x.argmax(1), minlength=4) / len(x)
    assert np.abs(counts - 0.25).max() < 0.01
    assert np.all(x <= 0) and np.isclose((x == 0).sum(1), 1).all()
    # The three gaps are half-normal: E|eps| = sqrt(2 / pi), E eps^2 = 1.
    gaps = -x[x < 0]
    assert abs(gaps.mean() - np.sqrt(2 / pi)) < 0.01 and abs((gaps**2).mean() - 1) < 0.02


def test_max_pool_density_integrates_to_one(compile_model):
    """A 1x2x2 image under one max-pool: a 4-D density summed on two grids.
    The density has kinks where window values tie, so the grid sums
    converge as h^2 (1.021 and 1.0097 here); Richardson extrapolation of the
    two removes that term."""
    lib = compile_model(nfmlir.Model([nfmlir.MaxPool2d()], nfmlir.StandardNormal(1), dtype="float64",
                                     name="pool4", event_shape=(1, 2, 2)))
    sums = []
    for n in (31, 45):
        g = np.linspace(-5.5, 5.5, n)
        h = g[1] - g[0]
        grid = np.stack(np.meshgrid(g, g, g, g, indexing="ij"), -1).reshape(-1, 4)
        sums.append((h, np.exp(lib.log_prob(grid)).sum() * h**4))
    (h1, s1), (h2, s2) = sums
    total = (s2 * h1**2 - s1 * h2**2) / (h1**2 - h2**2)
    assert abs(s2 - 1) < 0.02 and abs(total - 1) < 1e-3, (sums, total)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sort_points_by_key(dtype, compile_model):
    """Point clouds of 5 points in 2-D, sorted by their second coordinate."""
    rng = np.random.default_rng(7)
    model = nfmlir.Model([nfmlir.Sort(key=1)], nfmlir.StandardNormal(10), dtype=dtype, name="points",
                         event_shape=(5, 2))
    lib = compile_model(model)
    x = rng.normal(size=(400, 5, 2)).astype(dtype)
    z, v = lib.forward(x.reshape(400, -1))
    order = np.argsort(x[:, :, 1], axis=1, kind="stable")
    assert np.array_equal(z.reshape(400, 5, 2), np.take_along_axis(x, order[:, :, None], 1))
    assert np.allclose(v, -lgamma(6), rtol=TOL[dtype])
    # Sampling shuffles whole points uniformly; sorting undoes it.
    rows = np.repeat(z[:1], 12000, 0)
    xs = lib.inverse(rows, seed=5)
    assert np.array_equal(lib.forward(xs)[0], rows)
    first = xs.reshape(-1, 5, 2)[:, 0, 1]  # the key of the first point
    counts = np.array([(first == key).mean() for key in z[0].reshape(5, 2)[:, 1]])
    assert np.abs(counts - 0.2).max() < 0.015
