"""LU-decomposed linear layers (Glow), planar flows and invertible residual
blocks (i-ResNet): round trips, V against finite differences and numpy
references (explicit W = P L U, slogdet of I + J_g), the planar
invertibility constraint, the i-ResNet series estimate and its
contractivity check."""

import numpy as np
import pytest
from conftest import (
    check_bijection,
    check_sampling,
    fd_log_abs_det,
    ref_forward,
    ref_inverse,
    ref_iresnet_series,
    ref_mlp,
    ref_mlp_jacobian,
)

import nfmlir

DTYPES = ["float32", "float64"]
ROUND_TRIP = {"float32": 1e-4, "float64": 1e-10}
REL = {"float32": 1e-5, "float64": 1e-11}


# -- LU linear ---------------------------------------------------------------------


def random_lu(c, rng, permute=True):
    """Only the strict triangles of lower and upper are used: the rest is junk."""
    return nfmlir.LULinear(rng.normal(size=(c, c)) * 0.5, rng.normal(size=(c, c)) * 0.5,
                           rng.uniform(0.5, 2.0, c) * rng.choice([-1, 1], c), rng.normal(size=c),
                           rng.permutation(c) if permute else None)


@pytest.mark.parametrize("permute", [False, True])
@pytest.mark.parametrize("event_shape", [(4,), (3, 2, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lu_linear(event_shape, dtype, permute, compile_model):
    rng = np.random.default_rng(1)
    c = event_shape[0]
    first, second = random_lu(c, rng, permute), random_lu(c, rng, permute)
    dim = int(np.prod(event_shape))
    model = nfmlir.Model([first, nfmlir.LeakyReLU(0.5), second], nfmlir.StandardNormal(dim), dtype=dtype, name="lu",
                         event_shape=event_shape)
    lib = compile_model(model)
    x = (rng.normal(size=(300, dim)) * 0.3).astype(dtype)
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=30)
    check_sampling(lib)

    # One layer against W = P L (U + diag(s)), formed here with a permutation matrix.
    single = nfmlir.Model([first], nfmlir.StandardNormal(dim), dtype=dtype, name="lu1", event_shape=event_shape)
    lib = compile_model(single)
    lower = np.tril(first.lower, -1) + np.eye(c)
    upper = np.triu(first.upper, 1) + np.diag(first.diag)
    perm = np.eye(c)[first.permutation] if permute else np.eye(c)  # (P v)[i] = v[permutation[i]]
    w = perm @ lower @ upper
    z, ldj = lib.forward(x)
    pixels = dim // c
    xs = x.astype(np.float64).reshape((-1, c, pixels))
    expected = (np.einsum("ij,njp->nip", w, xs) + first.bias[None, :, None]).reshape(-1, dim)
    assert np.allclose(z, expected, rtol=REL[dtype], atol=REL[dtype])
    # V is computed once per call: the same for every row, pixels * sum log|s| = pixels * log|det W|.
    assert np.all(ldj == ldj[0])
    assert np.isclose(ldj[0], pixels * np.log(np.abs(first.diag)).sum(), rtol=REL[dtype], atol=REL[dtype])
    assert np.isclose(ldj[0], pixels * np.linalg.slogdet(w)[1], rtol=REL[dtype], atol=REL[dtype])


def test_lu_linear_builder():
    rng = np.random.default_rng(2)
    layer = random_lu(3, rng)
    layer.permutation = [2, 0, 1]
    text = nfmlir.Model([layer], nfmlir.StandardNormal(12), name="lu", event_shape=(3, 2, 2)).to_mlir()
    assert ("  %v5 = nf.lu_linear %x lower %p1 upper %p2 diag %p3 bias %p4 permutation [2, 0, 1] : "
            "tensor<?x3x2x2xf32>, tensor<3x3xf32>, tensor<3xf32>\n") in text
    layer.permutation = None
    text = nfmlir.Model([layer], nfmlir.StandardNormal(3), dtype="float64", name="lu").to_mlir()
    assert "bias %p4 : tensor<?x3xf64>, tensor<3x3xf64>, tensor<3xf64>\n" in text
    # nflows' diagonal: softplus(theta) + 1e-3; its identity initialization gives 1.
    assert np.allclose(nfmlir.LULinear.nflows_diag([np.log(np.expm1(1 - 1e-3)), 0.0]), [1.0, np.log(2) + 1e-3])
    with pytest.raises(ValueError, match="zero"):
        nfmlir.LULinear(np.eye(2), np.eye(2), [1.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="permutation"):
        nfmlir.LULinear(np.eye(2), np.eye(2), [1.0, 1.0], [0.0, 0.0], [0, 0])
    two_channels = nfmlir.LULinear(np.eye(2), np.eye(2), [1.0, 1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="channels"):
        nfmlir.Model([two_channels], nfmlir.StandardNormal(3)).to_mlir()


# -- planar ----------------------------------------------------------------------------


def planar_with_dot(w, dot, rng):
    """A planar layer with w . u = dot exactly (up to rounding)."""
    w = np.asarray(w, np.float64)
    orthogonal = rng.normal(size=w.size)
    orthogonal -= (orthogonal @ w) / (w @ w) * w
    return nfmlir.Planar(dot * w / (w @ w) + orthogonal, w, rng.normal() * 0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_planar(dtype, compile_model):
    rng = np.random.default_rng(3)
    dim = 4
    layers = [nfmlir.Planar.reparameterized(rng.normal(size=dim), rng.normal(size=dim), rng.normal())
              for _ in range(3)]
    layers.insert(1, nfmlir.Reverse())
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype=dtype, name="planar")
    lib = compile_model(model)
    x = rng.normal(size=(300, dim)).astype(dtype)
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=30)
    check_sampling(lib)


@pytest.mark.parametrize("dtype", DTYPES)
def test_planar_near_the_constraint(dtype, compile_model):
    """w . u = -0.9: the map's slope along w drops to 0.1 near the hyperplane."""
    rng = np.random.default_rng(4)
    dim = 3
    layer = planar_with_dot(rng.normal(size=dim) * 2, -0.9, rng)
    assert np.isclose(layer.w @ layer.u, -0.9)
    model = nfmlir.Model([layer], nfmlir.StandardNormal(dim), dtype=dtype, name="planar_edge")
    lib = compile_model(model)
    x = rng.normal(size=(300, dim)).astype(dtype)
    # Rows through the hyperplane w . x + b = 0, where the slope is smallest.
    x[:50] -= ((x[:50].astype(np.float64) @ layer.w + layer.b) / (layer.w @ layer.w))[:, None] * layer.w
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=30)
    check_sampling(lib)


def test_planar_constraint():
    rng = np.random.default_rng(5)
    w = rng.normal(size=3)
    for dot in (-1.0, -1.5, -10.0):
        with pytest.raises(ValueError, match="w . u > -1"):
            planar_with_dot(w, dot, rng)
    # normflows' reparameterization maps any u to w . u > -1.
    for dot in (-1.0, -5.0, 0.3, 4.0):
        raw = planar_with_dot(w, 0.0, rng).u + dot * w / (w @ w)
        layer = nfmlir.Planar.reparameterized(raw, w, 0.1)
        assert layer.w @ layer.u > -1
        assert np.isclose(layer.w @ layer.u, -1 + np.logaddexp(0, dot))
        # Only the component along w changes.
        change = layer.u - raw
        assert np.allclose(change - (change @ w) / (w @ w) * w, 0)
    text = nfmlir.Model([nfmlir.Planar([0.5, 1.0], [1.0, 0.2], 0.3)], nfmlir.StandardNormal(2), dtype="float64",
                        name="pl").to_mlir()
    assert "  %v4 = nf.planar %x u %p1 w %p2 bias %p3 : tensor<?x2xf64>, tensor<2xf64>, tensor<f64>\n" in text
    assert "arith.constant dense_resource<pl_blob2> : tensor<f64>" in text


def test_reference_planar_and_lu():
    """ref_forward's V is log|det| of its own Jacobian, and ref_inverse
    (a bisection for planar) undoes it."""
    rng = np.random.default_rng(6)
    layers = [planar_with_dot(rng.normal(size=4), -0.9, rng), random_lu(4, rng),
              nfmlir.Planar.reparameterized(rng.normal(size=4), rng.normal(size=4), 0.2)]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(4), dtype="float64")
    x = rng.normal(size=(100, 4))
    z, v = ref_forward(model, x)
    assert np.abs(ref_inverse(model, z) - x).max() <= 1e-12
    assert np.abs(v - fd_log_abs_det(lambda a: ref_forward(model, a)[0], x)).max() <= 1e-7


# -- i-ResNet ----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["elu", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_iresnet_exact(dtype, activation, compile_model):
    rng = np.random.default_rng(7)
    dim = 4
    # Lipschitz 0.7: the fixed point's error after an update below the
    # tolerance is at most 0.7 / 0.3 times that update.
    tolerance = 1e-12 if dtype == "float64" else None
    layers = [nfmlir.IResNet(nfmlir.IResNet.contractive([dim, 16, 16, dim], activation, 0.7, rng),
                             tolerance=tolerance),
              nfmlir.Reverse(),
              nfmlir.IResNet(nfmlir.IResNet.contractive([dim, 32, dim], activation, 0.7, rng), tolerance=tolerance)]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype=dtype, name="ires")
    lib = compile_model(model)
    x = rng.normal(size=(300, dim)).astype(dtype)
    check_bijection(lib, model, x, round_trip=ROUND_TRIP[dtype], rel=REL[dtype], fd_rows=30)
    check_sampling(lib)


def series_test_net(dim, rng):
    """A contractive branch (Lipschitz bound 0.7) with a mostly diagonal
    Jacobian, so V spans ~0.1..1.1 and the Hutchinson estimator, exact on
    the diagonal for Rademacher probes, has a small variance."""
    w1 = np.eye(dim) + 0.1 * rng.normal(size=(dim, dim))
    w2 = np.eye(dim) + 0.1 * rng.normal(size=(dim, dim))
    w2 *= 0.7 / (np.linalg.norm(w1, 2) * np.linalg.norm(w2, 2))
    return nfmlir.MLP([(w1, rng.normal(size=dim) * 0.3), (w2, np.zeros(dim))], "tanh")


def test_reference_series_estimate_statistics():
    """The truncated series with 256 Rademacher probes is within 5e-2 of the
    exact V on every row, for any probe draw (20 draws here): the tolerance
    the compiled series mode is held to, whose probes are drawn inside the
    compiler and so have no numpy twin."""
    rng = np.random.default_rng(8)
    dim = 3
    net = series_test_net(dim, rng)
    model = nfmlir.Model([nfmlir.IResNet(net)], nfmlir.StandardNormal(dim), dtype="float64")
    x = rng.normal(size=(100, dim))
    _, exact = ref_forward(model, x)
    assert exact.std() > 0.1
    for draw in range(20):
        probes = np.random.default_rng(100 + draw).choice([-1.0, 1.0], size=(256, dim))
        series = ref_iresnet_series(net, x, 20, probes)
        assert np.abs(series - exact).max() <= 5e-2
        assert np.corrcoef(series, exact)[0, 1] > 0.98
    # Averaged over all 2^D sign vectors, v^T A v is the exact trace; what
    # remains is the truncation, below D 0.7^(n+1) / ((n+1) 0.3) after n terms.
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * dim)).reshape(dim, -1).T
    assert np.abs(ref_iresnet_series(net, x, 80, signs) - exact).max() <= 1e-10
    assert np.abs(ref_iresnet_series(net, x, 20, signs) - exact).max() <= dim * 0.7**21 / (21 * 0.3)
    # The analytic Jacobian of the branch against central differences.
    jac = ref_mlp_jacobian(net, x)
    for i in range(dim):
        step = np.zeros(dim)
        step[i] = 1e-6
        assert np.abs((ref_mlp(net, x + step) - ref_mlp(net, x - step)) / 2e-6 - jac[:, :, i]).max() <= 1e-8


@pytest.mark.parametrize("dtype", DTYPES)
def test_iresnet_series(dtype, compile_model):
    """The series mode's V is an estimate (see test_reference_series_estimate_statistics);
    z and the inverse are exact."""
    rng = np.random.default_rng(8)
    dim = 3
    net = series_test_net(dim, rng)
    tolerance = 1e-12 if dtype == "float64" else None  # see test_iresnet_exact
    model = nfmlir.Model([nfmlir.IResNet(net, logdet="series", terms=20, probes=256, seed=5, tolerance=tolerance)],
                         nfmlir.StandardNormal(dim), dtype=dtype, name="ires_series")
    lib = compile_model(model)
    x = rng.normal(size=(100, dim)).astype(dtype)
    z, ldj = lib.forward(x)
    z_ref, exact = ref_forward(model, x.astype(np.float64))
    assert np.allclose(z, z_ref, rtol=REL[dtype], atol=REL[dtype])
    assert np.abs(lib.inverse(z) - x).max() <= ROUND_TRIP[dtype]
    assert np.abs(ldj - exact).max() <= 5e-2
    assert np.corrcoef(ldj, exact)[0, 1] > 0.98
    # The probes are fixed at compile time: the estimate is a function of x alone.
    assert np.array_equal(lib.forward(x)[1], ldj) and np.array_equal(lib.forward(x, seed=7)[1], ldj)
    check_sampling(lib)


def test_iresnet_rejects_non_contractive_branch(tmp_path):
    rng = np.random.default_rng(9)
    net = nfmlir.IResNet.contractive([2, 8, 2], "elu", 1.5, rng)
    model = nfmlir.Model([nfmlir.IResNet(net)], nfmlir.StandardNormal(2), name="expanding")
    with pytest.raises(nfmlir.CompileError, match="contractive"):
        model.compile(out_dir=tmp_path)


def test_iresnet_builder():
    rng = np.random.default_rng(10)
    net = nfmlir.IResNet.contractive([2, 4, 2], "elu", 0.9, rng)
    assert np.isclose(np.prod([np.linalg.norm(w, 2) for w, _ in net.layers]), 0.9)
    assert all(np.isclose(np.linalg.norm(w, 2), 0.9**0.5) for w, _ in net.layers)
    text = nfmlir.Model([nfmlir.IResNet(net, "series", terms=8, probes=4, seed=3)], nfmlir.StandardNormal(2),
                        name="ir").to_mlir()
    assert ("  %v5 = nf.iresnet %x (%p1, %p2, %p3, %p4 : tensor<2x4xf32>, tensor<4xf32>, tensor<4x2xf32>, "
            'tensor<2xf32>) activation elu {logdet = "series", terms = 8, probes = 4, seed = 3, '
            "tolerance = 9.99999999999999955e-07, max_iterations = 200} : tensor<?x2xf32>\n") in text
    text = nfmlir.Model([nfmlir.IResNet(net)], nfmlir.StandardNormal(2), dtype="float64", name="ir").to_mlir()
    assert ('{logdet = "exact", terms = 10, probes = 4, seed = 0, tolerance = 1.00000000000000004e-10, '
            "max_iterations = 200} : tensor<?x2xf64>\n") in text
    with pytest.raises(ValueError, match="logdet"):
        nfmlir.IResNet(net, logdet="roulette")
    with pytest.raises(ValueError, match="D values to D"):
        nfmlir.IResNet(nfmlir.MLP.random([2, 4, 3], "elu", rng))
    with pytest.raises(ValueError, match="terms"):
        nfmlir.IResNet(net, terms=0)
    with pytest.raises(ValueError, match="features"):
        nfmlir.Model([nfmlir.IResNet(net)], nfmlir.StandardNormal(3)).to_mlir()
