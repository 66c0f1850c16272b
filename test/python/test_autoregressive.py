"""Masked autoregressive flows: MADE masks (nflows' sequential degrees),
MAF and IAF with affine and rational-quadratic spline transforms,
conditional; log_prob against the numpy reference, samples pushed through
the normalizing map are standard normal."""

import numpy as np
import pytest
from conftest import (
    check_bijection,
    check_sampling,
    fd_log_abs_det,
    ref_forward,
    ref_inverse,
    ref_log_prob,
    ref_mlp,
    ref_mlp_jacobian,
)

import nfmlir

DTYPES = ["float32", "float64"]
ROUND_TRIP = {"float32": 1e-4, "float64": 1e-10}
REL = {"float32": 1e-5, "float64": 1e-11}


# -- MADE ------------------------------------------------------------------------


def test_made_masks_match_nflows_by_hand():
    """D = 3, hidden [4, 4], 2 outputs per feature, 1 context input. Degrees:
    inputs 1 2 3; hidden arange(4) % 2 + 1 = 1 2 1 2 (both layers); outputs
    1 1 2 2 3 3. Hidden: out >= in; output: out > in; context: all ones.
    (nflows stores the transposes, shape (out, in).)"""
    first = [[1, 1, 1, 1],   # input degree 1
             [0, 1, 0, 1],   # input degree 2
             [0, 0, 0, 0],   # input degree 3 feeds nothing
             [1, 1, 1, 1]]   # context
    hidden = [[1, 1, 1, 1],
              [0, 1, 0, 1],
              [1, 1, 1, 1],
              [0, 1, 0, 1]]
    output = [[0, 0, 1, 1, 1, 1],
              [0, 0, 0, 0, 1, 1],
              [0, 0, 1, 1, 1, 1],
              [0, 0, 0, 0, 1, 1]]
    masks = nfmlir.made_masks(3, [4, 4], 2, context_dim=1)
    assert len(masks) == 3
    for mask, expected in zip(masks, (first, hidden, output)):
        assert np.array_equal(mask, np.array(expected, np.float64))
    # One feature: hidden degrees are all 0, so no input reaches any output.
    masks = nfmlir.made_masks(1, [3], 2)
    assert np.array_equal(masks[0], np.zeros((1, 3))) and np.array_equal(masks[1], np.ones((3, 2)))


@pytest.mark.parametrize("features, hidden, multiplier, context_dim",
                         [(4, [16, 16], 2, 0), (5, [12], 3, 2), (3, [8, 8, 8], 14, 1), (2, [4], 2, 0)])
def test_made_is_autoregressive(features, hidden, multiplier, context_dim):
    """d output_j / d x_i = 0 for i >= j // multiplier; nonzero (generically)
    for i < j // multiplier. The context reaches the outputs of every feature
    but the first: those have no hidden inputs at all, only their bias, as
    in nflows' MADE (bayesiains/nflows pull request 85)."""
    rng = np.random.default_rng(features * 7 + multiplier)
    made = nfmlir.MADE.random(features, hidden, multiplier, context_dim, activation="tanh", rng=rng)
    assert all(np.array_equal(w != 0, m != 0) for (w, _), m in zip(made.layers, made.masks))
    x = rng.normal(size=(20, features + context_dim))
    jac = ref_mlp_jacobian(made, x)  # (n, out, in)
    feature = np.arange(features * multiplier) // multiplier
    allowed = np.arange(features)[None, :] < feature[:, None]  # (out, in)
    assert np.all(jac[:, :, :features][:, ~allowed] == 0)
    assert np.all(np.abs(jac[:, :, :features][:, allowed]).max(0) > 0)
    if context_dim:
        assert np.all(np.abs(jac[:, multiplier:, features:]).max(0) > 0)
        assert np.all(jac[:, :multiplier, features:] == 0)
    # The numpy Jacobian is the MLP's: central differences agree.
    eps = 1e-6
    for i in range(features + context_dim):
        step = np.zeros(features + context_dim)
        step[i] = eps
        fd = (ref_mlp(made, x + step) - ref_mlp(made, x - step)) / (2 * eps)
        assert np.abs(fd - jac[:, :, i]).max() <= 1e-8


def test_non_autoregressive_conditioner_is_rejected():
    rng = np.random.default_rng(0)
    net = nfmlir.MLP.random([3, 8, 6], "relu", rng)
    with pytest.raises(ValueError, match="not autoregressive"):
        nfmlir.Model([nfmlir.MaskedAffineAutoregressive(net)], nfmlir.StandardNormal(3)).to_mlir()
    made = nfmlir.MADE.random(3, [8], 2, rng=rng)
    nfmlir.Model([nfmlir.MaskedAffineAutoregressive(made)], nfmlir.StandardNormal(3)).to_mlir()
    # Reversing the MADE's outputs breaks the order.
    (w, b) = made.layers[-1]
    wrong = nfmlir.MLP(made.layers[:-1] + [(w[:, ::-1], b[::-1])])
    with pytest.raises(ValueError, match="not autoregressive"):
        nfmlir.Model([nfmlir.MaskedAffineAutoregressive(wrong)], nfmlir.StandardNormal(3)).to_mlir()


# -- the references on their own ---------------------------------------------------


@pytest.mark.parametrize("inverted", [False, True])
@pytest.mark.parametrize("kind", ["affine", "spline"])
def test_reference_autoregressive_round_trip_and_logdet(kind, inverted):
    """ref_forward's V is log|det| of its own Jacobian (central differences),
    and ref_inverse undoes it; with a context too."""
    rng = np.random.default_rng(1)
    dim, cdim = 4, 1
    layers = make_layers(kind, inverted, dim, rng, cdim)
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), context_dim=cdim, dtype="float64")
    x, ctx = rng.normal(size=(50, dim)), rng.normal(size=(50, cdim))
    z, v = ref_forward(model, x, ctx)
    assert np.abs(ref_inverse(model, z, ctx) - x).max() <= 1e-12
    fd = fd_log_abs_det(lambda a: ref_forward(model, a, ctx)[0], x)
    assert np.abs(v - fd).max() <= 1e-7
    # The Jacobian is triangular: z_i depends on x_{<=i} only.
    step = np.zeros(dim)
    step[-1] = 1e-3
    assert np.array_equal(ref_forward(model, x + step, ctx)[0][:, :-1], z[:, :-1])


# -- compiled ------------------------------------------------------------------------


def make_layers(kind, inverted, dim, rng, context_dim=0, scale_fn="softplus"):
    if kind == "affine":
        made = nfmlir.MADE.random(dim, [32, 32], 2, context_dim, activation="tanh", rng=rng, scale=0.5)
        return [nfmlir.MaskedAffineAutoregressive(made, scale_fn, inverted=inverted)]
    bins = 5
    made = nfmlir.MADE.random(dim, [32], 3 * bins - 1, context_dim, activation="tanh", rng=rng, scale=0.5)
    return [nfmlir.MaskedSplineAutoregressive(made, bins=bins, tail_bound=3.0, inverted=inverted)]


@pytest.mark.parametrize("inverted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_affine_autoregressive(dtype, inverted, compile_model):
    """MAF (or IAF, inverted) layers with each scale function."""
    rng = np.random.default_rng(2)
    dim = 4
    layers = []
    for scale_fn in ("exp", "sigmoid", "softplus"):
        layers += make_layers("affine", inverted, dim, rng, scale_fn=scale_fn) + [nfmlir.Reverse()]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype=dtype, name="maf")
    lib = compile_model(model)
    x = rng.normal(size=(300, dim)).astype(dtype)
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=30)
    assert np.allclose(lib.log_prob(x), ref_log_prob(model, x.astype(np.float64)), rtol=REL[dtype], atol=REL[dtype])
    check_sampling(lib)


@pytest.mark.parametrize("inverted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_spline_autoregressive(dtype, inverted, compile_model):
    rng = np.random.default_rng(3)
    dim = 4
    layers = make_layers("spline", inverted, dim, rng) + [nfmlir.Reverse()] + make_layers("spline", inverted, dim, rng)
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype=dtype, name="nsf_ar")
    lib = compile_model(model)
    x = (rng.normal(size=(300, dim)) * 1.5).astype(dtype)
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=30)
    check_sampling(lib)


@pytest.mark.parametrize("kind", ["affine", "spline"])
@pytest.mark.parametrize("inverted", [False, True])
def test_samples_are_standard_normal_in_latent_space(inverted, kind, compile_model):
    rng = np.random.default_rng(4)
    dim = 3
    layers = make_layers(kind, inverted, dim, rng) + [nfmlir.Reverse()] + make_layers(kind, inverted, dim, rng)
    lib = compile_model(nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype="float64", name="ar_samples"))
    z, _ = lib.forward(lib.sample(20000, seed=9))
    assert np.abs(z.mean(0)).max() < 0.05
    assert np.abs(np.cov(z.T) - np.eye(dim)).max() < 0.08


@pytest.mark.parametrize("kind", ["affine", "spline"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conditional_autoregressive(dtype, kind, compile_model):
    """MAF and IAF layers given a context, which reaches the MADE's first
    layer unmasked."""
    rng = np.random.default_rng(5)
    dim, cdim = 3, 2
    layers = make_layers(kind, False, dim, rng, cdim) + [nfmlir.Reverse()] + make_layers(kind, True, dim, rng, cdim)
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), context_dim=cdim, dtype=dtype, name="cmaf")
    lib = compile_model(model)
    x = rng.normal(size=(200, dim)).astype(dtype)
    for value in ((-2.0, 0.5), (0.0, 0.0), (1.5, -1.0)):
        ctx = np.tile(np.array(value, dtype), (200, 1))
        z, ldj = lib.forward(x, ctx)
        assert np.abs(lib.inverse(z, ctx) - x).max() <= ROUND_TRIP[dtype]
        z_ref, v_ref = ref_forward(model, x.astype(np.float64), ctx.astype(np.float64))
        assert np.allclose(z, z_ref, rtol=REL[dtype], atol=REL[dtype])
        assert np.allclose(ldj, v_ref, rtol=REL[dtype], atol=REL[dtype])
        ref = ref_log_prob(model, x.astype(np.float64), ctx.astype(np.float64))
        assert np.allclose(lib.log_prob(x, ctx), ref, rtol=REL[dtype], atol=REL[dtype])
        check_sampling(lib, context=np.tile(np.array(value, dtype), (300, 1)))
    lp = [lib.log_prob(x, np.tile(np.array(v, dtype), (200, 1))) for v in ((-2.0, 0.5), (1.5, -1.0))]
    assert np.abs(lp[0] - lp[1]).max() > 1e-2


# -- the builder -------------------------------------------------------------------------


def test_autoregressive_ir():
    rng = np.random.default_rng(6)
    maf = nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(2, [4], 2, context_dim=1, rng=rng), "sigmoid")
    iaf = nfmlir.MaskedSplineAutoregressive(nfmlir.MADE.random(2, [4], 5, context_dim=1, rng=rng), bins=2,
                                            tail_bound=1.5, inverted=True)
    text = nfmlir.Model([maf, iaf], nfmlir.StandardNormal(2), context_dim=1, dtype="float64", name="ar").to_mlir()
    assert ("func.func private @ar_conditioner0(%x: tensor<?x2xf64>, %c: tensor<?x1xf64>, %w0: tensor<3x4xf64>, "
            "%w1: tensor<4xf64>, %w2: tensor<4x4xf64>, %w3: tensor<4xf64>) -> tensor<?x4xf64> {\n"
            "  %in = tensor.concat dim(1) %x, %c : (tensor<?x2xf64>, tensor<?x1xf64>) -> tensor<?x3xf64>\n"
            "  %h = nf.mlp %in (%w0, %w1, %w2, %w3 : tensor<3x4xf64>, tensor<4xf64>, tensor<4x4xf64>, tensor<4xf64>) "
            "activation relu : tensor<?x3xf64> -> tensor<?x4xf64>\n"
            "  return %h : tensor<?x4xf64>\n}\n") in text
    assert ("  %v5 = nf.affine_autoregressive %x conditioner @ar_conditioner0(%p1, %p2, %p3, %p4 : tensor<3x4xf64>, "
            "tensor<4xf64>, tensor<4x4xf64>, tensor<4xf64>) context %c : tensor<?x1xf64> scale_fn sigmoid "
            ": tensor<?x2xf64>\n") in text
    assert ("  %v10 = nf.rq_spline_autoregressive %v5 conditioner @ar_conditioner1(%p6, %p7, %p8, %p9 : "
            "tensor<3x4xf64>, tensor<4xf64>, tensor<4x10xf64>, tensor<10xf64>) context %c : tensor<?x1xf64> inverted "
            "{bins = 2, tail_bound = 1.50000000000000000e+00} : tensor<?x2xf64>\n") in text
    plain = nfmlir.Model([nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(2, [4], 2, rng=rng), inverted=True)],
                         nfmlir.StandardNormal(2), name="p").to_mlir()
    assert "(%x: tensor<?x2xf32>, %w0: tensor<2x4xf32>," in plain
    assert " : tensor<2x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>) scale_fn softplus inverted : " in plain


def test_autoregressive_builder_errors():
    rng = np.random.default_rng(7)
    with pytest.raises(ValueError, match="scale_fn"):
        nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(2, [4], 2, rng=rng), "tanh")
    with pytest.raises(ValueError, match="to 4 outputs"):
        nfmlir.Model([nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(2, [4], 3, rng=rng))],
                     nfmlir.StandardNormal(2)).to_mlir()
    with pytest.raises(ValueError, match="3 inputs"):  # the model's context is missing from the MADE
        nfmlir.Model([nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(2, [4], 2, rng=rng))],
                     nfmlir.StandardNormal(2), context_dim=1).to_mlir()
    with pytest.raises(ValueError, match="mask"):
        nfmlir.MADE([(np.ones((3, 4)), np.zeros(4)), (np.ones((4, 4)), np.zeros(4))], 2, 2)
