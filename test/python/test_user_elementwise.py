"""nf.elementwise: the user writes only the forward; the compiler derives the
inverse (symbolically or by a monotone solve) and log|f'(x)|. Checked
against numpy forms of the same functions and finite differences."""

import numpy as np
import pytest
from conftest import fd_log_abs_det

import nfmlir

# body, result, monotone, numpy f, numpy f', domain sampler
CASES = {
    "sinh_chain": (
        """%c = arith.constant 2.0 : {T}
           %one = arith.constant 1.0 : {T}
           %a = arith.mulf %v, %c : {T}
           %b = math.sinh %a : {T}
           %r = arith.addf %b, %one : {T}""",
        "%r", None,
        lambda x: np.sinh(2 * x) + 1, lambda x: 2 * np.cosh(2 * x),
        lambda rng, n: rng.uniform(-2, 2, (n, 2)),
    ),
    "sigmoid_by_hand": (
        """%one = arith.constant 1.0 : {T}
           %n = arith.negf %v : {T}
           %e = math.exp %n : {T}
           %d = arith.addf %one, %e : {T}
           %r = arith.divf %one, %d : {T}""",
        "%r", None,
        lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
        lambda rng, n: rng.uniform(-4, 4, (n, 2)),
    ),
    "power_of_exp": (
        """%c = arith.constant 3.0 : {T}
           %s = arith.constant 0.5 : {T}
           %e = math.exp %v : {T}
           %p = math.powf %e, %c : {T}
           %r = arith.subf %s, %p : {T}""",
        "%r", None,
        lambda x: 0.5 - np.exp(3 * x), lambda x: -3 * np.exp(3 * x),
        lambda rng, n: rng.uniform(-2, 1, (n, 2)),
    ),
    "cubic_numeric": (
        """%c = arith.constant 0.5 : {T}
           %sq = arith.mulf %v, %v : {T}
           %cu = arith.mulf %sq, %v : {T}
           %h = arith.mulf %cu, %c : {T}
           %r = arith.addf %h, %v : {T}""",
        "%r", "increasing",
        lambda x: 0.5 * x**3 + x, lambda x: 1.5 * x**2 + 1,
        lambda rng, n: rng.uniform(-5, 5, (n, 2)),
    ),
    "decreasing_numeric": (
        """%e = math.exp %v : {T}
           %s = arith.addf %v, %e : {T}
           %r = arith.negf %s : {T}""",
        "%r", "decreasing",
        lambda x: -(x + np.exp(x)), lambda x: -(1 + np.exp(x)),
        lambda rng, n: rng.uniform(-6, 3, (n, 2)),
    ),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_user_elementwise(name, dtype, compile_model):
    body, result, monotone, f, df, sample = CASES[name]
    layer = nfmlir.Elementwise(body, result, monotone, tolerance=1e-12 if dtype == "float64" else 1e-6)
    model = nfmlir.Model([layer], nfmlir.StandardNormal(2), dtype=dtype, name="u")
    lib = compile_model(model)
    rng = np.random.default_rng(3)
    x = sample(rng, 400).astype(dtype)
    z, ldj = lib.forward(x)
    xd = x.astype(np.float64)
    rel = 1e-5 if dtype == "float32" else 1e-11
    assert np.allclose(z, f(xd), rtol=rel, atol=rel)
    assert np.allclose(ldj, np.log(np.abs(df(xd))).sum(1), rtol=rel, atol=rel)
    back = lib.inverse(z)
    tol = 2e-4 if dtype == "float32" else 1e-9
    assert np.abs(back - x).max() <= tol * max(1.0, np.abs(x).max())
    if dtype == "float64":
        fd = fd_log_abs_det(lambda v: lib.forward(v)[0], xd[:50], eps=1e-6)
        assert np.abs(ldj[:50] - fd).max() <= 1e-6
