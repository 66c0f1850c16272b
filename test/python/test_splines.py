"""Rational-quadratic splines (Neural Spline Flows, linear tails):
elementwise, in coupling layers, conditional; the numpy reference checked
on its own against torch autograd and finite differences; knots, tails,
extreme parameters and the stable inverse root."""

import numpy as np
import pytest
from conftest import (
    check_bijection,
    check_sampling,
    ref_forward,
    ref_inverse,
    ref_log_prob,
    ref_rq_spline,
    ref_spline_knots,
)

import nfmlir

DTYPES = ["float32", "float64"]
ROUND_TRIP = {"float32": 1e-4, "float64": 1e-10}
REL = {"float32": 1e-5, "float64": 1e-11}
MIN = 1e-3  # nflows' min_bin_width = min_bin_height = min_derivative


def random_spline_parameters(rng, shape, bins, scale=0.5):
    return (rng.normal(size=shape + (bins,)) * scale, rng.normal(size=shape + (bins,)) * scale,
            rng.normal(size=shape + (bins - 1,)) * scale)


# -- the numpy reference on its own ------------------------------------------


def torch_rq_spline(x, w, h, d, tail_bound):
    """The forward spline in torch (for autograd), from the formulas of
    LAYERS.md 2.12; x of shape (n,), parameters (n, K) and (n, K - 1)."""
    import torch

    def knots(theta):
        p = MIN + (1 - MIN * theta.shape[-1]) * torch.softmax(theta, -1)
        k = 2 * tail_bound * torch.cumsum(p, -1) - tail_bound
        return torch.cat([torch.full_like(k[:, :1], -tail_bound), k[:, :-1], torch.full_like(k[:, :1], tail_bound)], 1)

    xk, yk = knots(w), knots(h)
    ones = torch.ones_like(x)[:, None]
    deriv = torch.cat([ones, MIN + torch.nn.functional.softplus(d), ones], 1)
    edges = torch.cat([xk[:, :-1], xk[:, -1:] + 1e-6], 1)
    b = (torch.sum(x[:, None] >= edges, 1) - 1).clamp(0, w.shape[1] - 1)[:, None]
    x0, x1 = xk.gather(1, b)[:, 0], xk.gather(1, b + 1)[:, 0]
    y0, y1 = yk.gather(1, b)[:, 0], yk.gather(1, b + 1)[:, 0]
    d0, d1 = deriv.gather(1, b)[:, 0], deriv.gather(1, b + 1)[:, 0]
    s = (y1 - y0) / (x1 - x0)
    xi = (x - x0) / (x1 - x0)
    g = y0 + (y1 - y0) * (s * xi**2 + d0 * xi * (1 - xi)) / (s + (d1 + d0 - 2 * s) * xi * (1 - xi))
    inside = (x >= -tail_bound) & (x <= tail_bound)
    return torch.where(inside, g, x)


def test_reference_spline_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    n, bins, bound = 2000, 7, 2.5
    w, h, d = random_spline_parameters(rng, (n,), bins, scale=2.0)
    x = rng.uniform(-bound - 1, bound + 1, n)
    out, log_deriv = ref_rq_spline(x, w, h, d, bound)
    xt = torch.tensor(x, requires_grad=True)
    gt = torch_rq_spline(xt, *(torch.tensor(p) for p in (w, h, d)), bound)
    (grad,) = torch.autograd.grad(gt.sum(), xt)
    assert np.abs(gt.detach().numpy() - out).max() <= 1e-13
    assert np.abs(np.log(grad.numpy()) - log_deriv).max() <= 1e-12


def test_reference_spline_matches_finite_differences():
    rng = np.random.default_rng(1)
    n, bins, bound, eps = 2000, 6, 3.0, 1e-5
    w, h, d = random_spline_parameters(rng, (n,), bins, scale=1.5)
    x = rng.uniform(-bound - 1, bound + 1, n)
    keep = np.abs(np.abs(x) - bound) > 1e-4  # no difference across the tail boundary
    x, w, h, d = x[keep], w[keep], h[keep], d[keep]
    _, log_deriv = ref_rq_spline(x, w, h, d, bound)
    fd = (ref_rq_spline(x + eps, w, h, d, bound)[0] - ref_rq_spline(x - eps, w, h, d, bound)[0]) / (2 * eps)
    assert np.abs(np.log(fd) - log_deriv).max() <= 1e-6
    # The inverse returns x to the floor ulp(B) / g'(x), with log-derivative -log g'(x).
    y, _ = ref_rq_spline(x, w, h, d, bound)
    back, inv_log_deriv = ref_rq_spline(y, w, h, d, bound, inverse=True)
    assert np.all(np.abs(back - x) <= 4 * np.spacing(bound) * (1 + np.exp(-log_deriv)))
    assert np.abs(inv_log_deriv + log_deriv).max() <= 1e-9


def test_reference_spline_knots_tails_and_zero_parameters():
    rng = np.random.default_rng(2)
    bins, bound = 5, 2.0
    w, h, d = random_spline_parameters(rng, (), bins, scale=1.5)
    xk, yk = ref_spline_knots(w, bound), ref_spline_knots(h, bound)
    assert xk[0] == -bound and xk[-1] == bound and np.all(np.diff(xk) >= 2 * bound * MIN * (1 - 1e-12))
    out, log_deriv = ref_rq_spline(xk, w, h, d, bound)
    assert np.abs(out - yk).max() <= 1e-15 * 8
    # Derivatives at the knots: 1 at the ends, min_d + softplus(theta) inside.
    assert np.allclose(np.exp(log_deriv), np.concatenate([[1.0], MIN + np.logaddexp(0, d), [1.0]]), rtol=1e-13)
    # Continuity at the interior knots: the float just below lies in the bin to the left.
    left = ref_rq_spline(np.nextafter(xk[1:-1], -np.inf), w, h, d, bound)
    assert np.abs(left[0] - yk[1:-1]).max() <= 1e-14 and np.abs(left[1] - log_deriv[1:-1]).max() <= 1e-9
    # Outside: the identity, log-derivative 0; exactly at the bounds: inside.
    outside = np.array([-np.inf, -1e30, -bound - 1e-12, bound * (1 + 1e-15), 7.0, 1e300])
    out, log_deriv = ref_rq_spline(outside, w, h, d, bound)
    assert np.array_equal(out, outside) and np.array_equal(log_deriv, np.zeros(outside.size))
    # All-zero parameters: uniform knots, g(knot) = knot, interior slope log 2 + 1e-3 (not the identity).
    zeros = np.zeros(bins)
    knots = ref_spline_knots(zeros, bound)
    out, log_deriv = ref_rq_spline(knots, zeros, zeros, zeros[1:], bound)
    assert np.allclose(out, knots, atol=1e-15) and np.allclose(np.exp(log_deriv[1:-1]), np.log(2) + MIN)


def test_stable_inverse_root():
    """nflows' root 2c / (-b - sqrt(b^2 - 4ac)) cancels for b < 0 (the upper
    part of a flat bin whose right derivative is steep); the sign-selected
    form stays at the conditioning floor ulp(B) / g'(x) + ulp(x)."""
    bound = 3.0
    w, h, d = np.zeros(3), np.array([0.0, -5.0, 0.0]), np.array([-30.0, 5.0])  # a flat middle bin
    x = np.linspace(-1, 1, 200001)[1:-1]  # the middle bin
    y, log_deriv = ref_rq_spline(x, w, h, d, bound)
    floor = np.spacing(bound) / np.exp(log_deriv) + np.spacing(1.0)
    stable = ref_rq_spline(y, w, h, d, bound, inverse=True)[0]
    nflows = ref_rq_spline(y, w, h, d, bound, inverse=True, nflows_root=True)[0]
    assert np.max(np.abs(stable - x) / floor) <= 4
    assert np.max(np.abs(nflows - x) / floor) >= 50


# -- compiled ------------------------------------------------------------------


@pytest.mark.parametrize("event_shape", [(3,), (2, 2, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rq_spline(event_shape, dtype, compile_model):
    rng = np.random.default_rng(3)
    dim = int(np.prod(event_shape))
    layers = [nfmlir.RQSpline(*random_spline_parameters(rng, event_shape, 6), tail_bound=2.5), nfmlir.Reverse(),
              nfmlir.RQSpline(*random_spline_parameters(rng, event_shape, 4), tail_bound=3.0)]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype=dtype, name="rqs", event_shape=event_shape)
    lib = compile_model(model)
    x = (rng.normal(size=(400, dim)) * 1.6).astype(dtype)  # about 10% in the tails
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=40)
    check_sampling(lib)


@pytest.mark.parametrize("dtype", DTYPES)
def test_spline_on_knots_bounds_and_tails(dtype, compile_model):
    rng = np.random.default_rng(4)
    dim, bins, bound = 3, 5, 2.0
    w, h, d = random_spline_parameters(rng, (dim,), bins)
    model = nfmlir.Model([nfmlir.RQSpline(w, h, d, bound)], nfmlir.StandardNormal(dim), dtype=dtype, name="knots")
    lib = compile_model(model)
    knots = ref_spline_knots(w, bound).T  # row k: knot k of every feature (rows 0 and K at -B and B)
    tails = np.array([[-bound - 0.5, bound + 0.5, -50.0], [bound * (1 + 1e-6), -100.0, 1e3]])
    x = np.concatenate([knots, tails]).astype(dtype)
    z, ldj = lib.forward(x)
    assert np.isfinite(z).all() and np.isfinite(ldj).all()
    z_ref, v_ref = ref_forward(model, x.astype(np.float64))
    assert np.allclose(z, z_ref, rtol=REL[dtype], atol=REL[dtype])
    assert np.allclose(ldj, v_ref, rtol=REL[dtype], atol=REL[dtype])
    # Outside [-B, B]: the identity, V = 0 exactly.
    assert np.array_equal(z[-2:], x[-2:]) and np.array_equal(ldj[-2:], np.zeros(2, dtype))
    assert np.abs(lib.inverse(z) - x).max() <= ROUND_TRIP[dtype]
    # The latents of the knots are the y-knots; inverting them lands on the x-knots.
    yk = ref_spline_knots(h, bound).T.astype(dtype)
    assert np.abs(lib.inverse(yk) - knots).max() <= ROUND_TRIP[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_spline_extreme_parameters(dtype, compile_model):
    rng = np.random.default_rng(5)
    dim, bins, bound = 4, 8, 3.0
    w, h, d = (rng.choice([-30.0, 30.0], size=s) * rng.uniform(0.5, 1, s)
               for s in ((dim, bins), (dim, bins), (dim, bins - 1)))
    model = nfmlir.Model([nfmlir.RQSpline(w, h, d, bound)], nfmlir.StandardNormal(dim), dtype=dtype, name="ext")
    lib = compile_model(model)
    x = rng.uniform(-bound - 0.5, bound + 0.5, (2000, dim)).astype(dtype)
    z, ldj = lib.forward(x)
    back = lib.inverse(z)
    assert np.isfinite(z).all() and np.isfinite(ldj).all() and np.isfinite(back).all()
    # Bins are as narrow as 2B * 1e-3 and slopes g' range over ~1e-8..1e3,
    # so the tolerances follow the conditioning (eps: the dtype's epsilon):
    # knots carry errors ~eps B, which the slopes of the narrowest bins
    # amplify by 1 / (2B * 1e-3) in V and g' in z; x given z is determined
    # to eps B / g'(x) only (and z given x to eps B g'(x)).
    eps = np.finfo(dtype).eps
    z_ref, v_ref = ref_forward(model, x.astype(np.float64))
    slope = np.exp(ref_rq_spline(x.astype(np.float64), w, h, d, bound)[1])
    assert np.all(np.abs(z - z_ref) <= 32 * eps * bound * (1 + slope))
    assert np.abs(ldj - v_ref).max() <= dim * 32 * eps / MIN
    assert np.all(np.abs(back - x) <= 16 * eps * (np.abs(x) + bound / slope))
    latent = rng.uniform(-bound - 0.5, bound + 0.5, (2000, dim)).astype(dtype)
    x_latent = lib.inverse(latent)
    slope = np.exp(ref_rq_spline(x_latent.astype(np.float64), w, h, d, bound)[1])
    assert np.all(np.abs(lib.forward(x_latent)[0] - latent) <= 16 * eps * bound * (1 + slope))


@pytest.mark.parametrize("dtype", DTYPES)
def test_spline_coupling(dtype, compile_model):
    rng = np.random.default_rng(6)
    dim, bins = 5, 6
    layers = []
    for k in range(3):
        identity = nfmlir.parity_mask(dim, even=k % 2 == 0)
        b = dim - len(identity)
        net = nfmlir.MLP.random([len(identity), 24, (3 * bins - 1) * b], "tanh", rng)
        layers += [nfmlir.SplineCoupling(identity, net, bins=bins, tail_bound=2.5 + k * 0.5)]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype=dtype, name="nsf")
    lib = compile_model(model)
    x = (rng.normal(size=(400, dim)) * 1.5).astype(dtype)
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=40)
    check_sampling(lib)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conditional_spline_coupling(dtype, compile_model):
    rng = np.random.default_rng(7)
    dim, cdim, bins = 3, 1, 5
    layers = []
    for k in range(2):
        identity = [k]
        net = nfmlir.MLP.random([1 + cdim, 16, (3 * bins - 1) * (dim - 1)], "relu", rng)
        layers += [nfmlir.SplineCoupling(identity, net, bins=bins)]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), context_dim=cdim, dtype=dtype, name="cnsf")
    lib = compile_model(model)
    x = (rng.normal(size=(200, dim)) * 1.5).astype(dtype)
    for value in (-2.0, 0.0, 1.5):
        ctx = np.full((200, cdim), value, dtype)
        z, ldj = lib.forward(x, ctx)
        assert np.abs(lib.inverse(z, ctx) - x).max() <= ROUND_TRIP[dtype]
        z_ref, v_ref = ref_forward(model, x.astype(np.float64), ctx.astype(np.float64))
        assert np.allclose(z, z_ref, rtol=REL[dtype], atol=REL[dtype])
        # V in f32 is limited by conditioning, not by the implementation: the
        # knots carry ~ulp(B) = 2.4e-7 of rounding (nflows computes them the
        # same way), which in a bin of width ~1e-2 moves the bin coordinate,
        # and with it log g', by up to ~2.4e-5. Measured: 1.9e-5 at context -2.
        v_rel = REL[dtype] if dtype == "float64" else 3e-5
        assert np.allclose(ldj, v_ref, rtol=v_rel, atol=v_rel)
        ref = ref_log_prob(model, x.astype(np.float64), ctx.astype(np.float64))
        assert np.allclose(lib.log_prob(x, ctx), ref, rtol=v_rel, atol=v_rel)
        check_sampling(lib, context=np.full((300, cdim), value, dtype))
    lp = [lib.log_prob(x, np.full((200, cdim), v, dtype)) for v in (-2.0, 1.5)]
    assert np.abs(lp[0] - lp[1]).max() > 1e-2


# -- the builder -----------------------------------------------------------------


def test_spline_ir():
    rng = np.random.default_rng(8)
    spline = nfmlir.RQSpline(*random_spline_parameters(rng, (2,), 3), tail_bound=2.0)
    net = nfmlir.MLP.random([1 + 1, 4, 8 * 1], "relu", rng)
    coupling = nfmlir.SplineCoupling([1], net, bins=3, tail_bound=4.0)
    text = nfmlir.Model([spline, coupling], nfmlir.StandardNormal(2), context_dim=1, name="s").to_mlir()
    assert ("  %v4 = nf.rq_spline %x widths %p1 heights %p2 derivatives %p3 {tail_bound = 2.00000000000000000e+00} "
            ": tensor<?x2xf32>, tensor<2x3xf32>, tensor<2x2xf32>\n") in text
    assert ("  %v9 = nf.rq_spline_coupling %v4 identity [1] conditioner @s_conditioner0(%p5, %p6, %p7, %p8 : "
            "tensor<2x4xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<8xf32>) context %c : tensor<?x1xf32> "
            "{bins = 3, tail_bound = 4.00000000000000000e+00} : tensor<?x2xf32>\n") in text
    assert "func.func private @s_conditioner0(%xa: tensor<?x1xf32>, %c: tensor<?x1xf32>," in text
    # The spline's parameters follow the event shape.
    image = nfmlir.RQSpline(*random_spline_parameters(rng, (1, 2, 2), 4))
    text = nfmlir.Model([image], nfmlir.StandardNormal(4), dtype="float64", name="i", event_shape=(1, 2, 2)).to_mlir()
    assert ": tensor<?x1x2x2xf64>, tensor<1x2x2x4xf64>, tensor<1x2x2x3xf64>\n" in text


def test_spline_builder_errors():
    rng = np.random.default_rng(9)
    w, h, d = random_spline_parameters(rng, (2,), 4)
    with pytest.raises(ValueError, match="derivatives"):
        nfmlir.RQSpline(w, h, w)
    with pytest.raises(ValueError, match="bins"):
        nfmlir.RQSpline(w[:, :1], h[:, :1], d[:, :0])
    with pytest.raises(ValueError, match="tail_bound"):
        nfmlir.RQSpline(w, h, d, tail_bound=0.0)
    with pytest.raises(ValueError, match="event shape"):
        nfmlir.Model([nfmlir.RQSpline(w, h, d)], nfmlir.StandardNormal(3)).to_mlir()
    net = nfmlir.MLP.random([1, 4, 10], "relu", rng)
    with pytest.raises(ValueError, match="11 outputs"):
        nfmlir.Model([nfmlir.SplineCoupling([0], net, bins=4)], nfmlir.StandardNormal(2)).to_mlir()


def test_reference_spline_coupling_round_trip():
    """ref_inverse undoes ref_forward for spline couplings (with context)."""
    rng = np.random.default_rng(10)
    net = nfmlir.MLP.random([2 + 1, 16, 14 * 2], "tanh", rng)
    model = nfmlir.Model([nfmlir.SplineCoupling([0, 3], net, bins=5)], nfmlir.StandardNormal(4), context_dim=1)
    x, ctx = rng.normal(size=(100, 4)) * 2, rng.normal(size=(100, 1))
    z, _ = ref_forward(model, x, ctx)
    assert np.abs(ref_inverse(model, z, ctx) - x).max() <= 1e-12
