"""Every op and composed models, compiled, in f32 and f64: round trips,
V against finite-difference Jacobians, log_prob against numpy references."""

import zlib

import numpy as np
import pytest
from conftest import fd_log_abs_det, ref_forward, ref_log_prob

import nfmlir

DTYPES = ["float32", "float64"]
ROUND_TRIP_TOL = {"float32": 1e-4, "float64": 1e-10}


def make_layers(kind, dim, rng, context_dim=0):
    """A small model exercising one op family."""
    if kind == "affine_per_feature":
        return [nfmlir.Affine(rng.uniform(0.3, 2.0, dim) * rng.choice([-1, 1], dim), rng.normal(size=dim))]
    if kind == "affine_scalar":
        return [nfmlir.Affine(-1.7, 0.4)]
    if kind == "reverse":
        return [nfmlir.Affine(rng.uniform(0.5, 2, dim), 0.0), nfmlir.Reverse()]
    if kind == "permute":
        return [nfmlir.Affine(rng.uniform(0.5, 2, dim), 0.0), nfmlir.Permute(rng.permutation(dim))]
    if kind == "additive_coupling":
        identity = nfmlir.parity_mask(dim, even=False)
        net = nfmlir.MLP.random([len(identity) + context_dim, 16, dim - len(identity)], "tanh", rng)
        return [nfmlir.Affine(rng.uniform(0.5, 2, dim), 0.0), nfmlir.AdditiveCoupling(identity, net)]
    if kind == "glow_coupling":
        identity = nfmlir.parity_mask(dim)
        net = nfmlir.MLP.random([len(identity) + context_dim, 16, 2 * (dim - len(identity))], "relu", rng)
        return [nfmlir.AffineCoupling(identity, net, "sigmoid", shift_first=True)]
    if kind.startswith("coupling"):
        _, scale_fn, activation = kind.split("-")
        identity = sorted(rng.choice(dim, dim // 2, replace=False))
        a, b = len(identity), dim - len(identity)
        net = nfmlir.MLP.random([a + context_dim, 16, 16, 2 * b], activation, rng)
        return [nfmlir.AffineCoupling(identity, net, scale_fn)]
    if kind == "realnvp":
        layers = [nfmlir.Affine(rng.uniform(0.5, 1.5, dim), rng.normal(size=dim) * 0.1)]
        for k in range(4):
            identity = list(range(0, dim, 2)) if k % 2 == 0 else list(range(1, dim, 2))
            a = len(identity)
            net = nfmlir.MLP.random([a + context_dim, 32, 2 * (dim - a)], "relu", rng, scale=0.5)
            layers += [nfmlir.AffineCoupling(identity, net, ["exp", "sigmoid", "softplus"][k % 3]), nfmlir.Reverse()]
        layers.append(nfmlir.Permute(rng.permutation(dim)))
        return layers
    raise ValueError(kind)


KINDS = [
    "affine_per_feature",
    "affine_scalar",
    "reverse",
    "permute",
    "coupling-exp-tanh",
    "coupling-sigmoid-relu",
    "coupling-softplus-elu",
    "coupling-exp-leaky_relu",
    "coupling-sigmoid-sigmoid",
    "additive_coupling",
    "glow_coupling",
    "realnvp",
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_and_reference(kind, dtype, compile_model):
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    dim = 5
    model = nfmlir.Model(make_layers(kind, dim, rng), nfmlir.StandardNormal(dim), dtype=dtype, name="m")
    lib = compile_model(model)
    x = rng.normal(size=(257, dim)).astype(dtype)

    z, ldj = lib.forward(x)
    assert np.abs(lib.inverse(z) - x).max() <= ROUND_TRIP_TOL[dtype]
    latent = rng.normal(size=(257, dim)).astype(dtype)
    assert np.abs(lib.forward(lib.inverse(latent))[0] - latent).max() <= ROUND_TRIP_TOL[dtype]

    z_ref, v_ref = ref_forward(model, x.astype(np.float64))
    logp_ref = ref_log_prob(model, x.astype(np.float64))
    rel = 1e-5 if dtype == "float32" else 1e-12
    assert np.allclose(z, z_ref, rtol=rel, atol=rel)
    assert np.allclose(ldj, v_ref, rtol=rel, atol=rel)
    assert np.max(np.abs(lib.log_prob(x) - logp_ref) / np.abs(logp_ref)) <= rel


@pytest.mark.parametrize("kind", KINDS)
def test_logdet_matches_finite_differences(kind, compile_model):
    rng = np.random.default_rng(1 + zlib.crc32(kind.encode()))
    dim = 4
    model = nfmlir.Model(make_layers(kind, dim, rng), nfmlir.StandardNormal(dim), dtype="float64", name="m")
    lib = compile_model(model)
    x = rng.normal(size=(64, dim))
    _, ldj = lib.forward(x)
    fd = fd_log_abs_det(lambda v: lib.forward(v)[0], x)
    assert np.abs(ldj - fd).max() <= 1e-6


@pytest.mark.parametrize("dtype", DTYPES)
def test_conditional_model(dtype, compile_model):
    """A conditional RealNVP: the context reaches every conditioner."""
    rng = np.random.default_rng(7)
    dim, cdim = 2, 1
    model = nfmlir.Model(make_layers("realnvp", dim, rng, context_dim=cdim), nfmlir.StandardNormal(dim),
                         context_dim=cdim, dtype=dtype, name="cond")
    lib = compile_model(model)
    x = rng.normal(size=(100, dim)).astype(dtype)
    for value in (-2.0, 0.0, 1.5):
        ctx = np.full((100, cdim), value, dtype)
        z, _ = lib.forward(x, ctx)
        assert np.abs(lib.inverse(z, ctx) - x).max() <= ROUND_TRIP_TOL[dtype]
        ref = ref_log_prob(model, x.astype(np.float64), ctx.astype(np.float64))
        rel = 1e-5 if dtype == "float32" else 1e-12
        assert np.max(np.abs(lib.log_prob(x, ctx) - ref) / np.abs(ref)) <= rel
    # Different contexts give different densities.
    lp = [lib.log_prob(x, np.full((100, cdim), v, dtype)) for v in (-2.0, 1.5)]
    assert np.abs(lp[0] - lp[1]).max() > 1e-2


@pytest.mark.parametrize("base", ["diag_normal", "uniform"])
def test_base_distributions(base, compile_model):
    rng = np.random.default_rng(3)
    dim = 3
    if base == "diag_normal":
        dist = nfmlir.DiagNormal(rng.normal(size=dim), rng.normal(size=dim) * 0.3)
    else:
        dist = nfmlir.Uniform([-1.0, 0.0, 2.0], [1.0, 0.5, 5.0])
    layers = [nfmlir.Affine(rng.uniform(0.5, 2, dim), rng.normal(size=dim))]
    model = nfmlir.Model(layers, dist, dtype="float64", name="b")
    lib = compile_model(model)
    x, logp = lib.sample_with_log_prob(500, seed=11)
    assert np.allclose(logp, ref_log_prob(model, x), rtol=1e-12, atol=1e-12)
    assert np.allclose(lib.log_prob(x), logp, rtol=1e-12, atol=1e-12)
    if base == "uniform":
        # Outside the support: -inf, not NaN.
        outside = lib.inverse(np.array([[3.0, 0.2, 3.0]]))
        assert lib.log_prob(outside)[0] == -np.inf
