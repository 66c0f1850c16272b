"""Stochastic normalizing flow blocks (nf.langevin, nf.metropolis): the
dynamics and path terms against numpy references with the noise fixed
(given as the model context), the compiler-derived energy gradients against
finite differences, exact path weights when the block's target is the base,
and invariance of the double-well target under the Metropolis block."""

from math import log, pi

import numpy as np
import pytest

import nfmlir

TOL = {"float32": 1e-5, "float64": 1e-10}
T = {"float32": "f32", "float64": "f64"}


def dw_energy(y):
    return y[:, 0] ** 4 - 6 * y[:, 0] ** 2 - 0.5 * y[:, 0] + 0.5 * y[:, 1] ** 2


def dw_gradient(y):
    return np.stack([4 * y[:, 0] ** 3 - 12 * y[:, 0] - 0.5, y[:, 1]], 1)


def interpolated(lam):
    """(u_lambda, grad u_lambda) of the double well and |y|^2 / 2."""
    return (lambda y: lam * dw_energy(y) + (1 - lam) * 0.5 * (y**2).sum(1),
            lambda y: lam * dw_gradient(y) + (1 - lam) * y)


def ref_langevin(y, eta, eps, lam, steps):
    """Langevin steps from y with normals eta (n, steps * D); V is the sum of
    |eta|^2 / 2 - |eta~|^2 / 2 (the normalizing direction's sign)."""
    _, grad = interpolated(lam)
    d = y.shape[1]
    v = np.zeros(len(y))
    for s in range(steps):
        e = eta[:, s * d:(s + 1) * d]
        nxt = y - eps * grad(y) + np.sqrt(2 * eps) * e
        rev = (y - nxt + eps * grad(nxt)) / np.sqrt(2 * eps)
        v += 0.5 * (e**2).sum(1) - 0.5 * (rev**2).sum(1)
        y = nxt
    return y, v


def ref_metropolis(y, noise, scale, lam, steps):
    """Metropolis steps with proposals' normals then one uniform per step;
    V = u_lambda(end) - u_lambda(start)."""
    energy, _ = interpolated(lam)
    d = y.shape[1]
    start = energy(y)
    for s in range(steps):
        proposal = y + scale * noise[:, s * d:(s + 1) * d]
        accept = noise[:, steps * d + s] < np.exp(np.minimum(0, energy(y) - energy(proposal)))
        y = np.where(accept[:, None], proposal, y)
    return y, energy(y) - start


def snf_module(op, attrs, width, t, direction="forward"):
    """A one-block model whose context is the block's noise."""
    energy = nfmlir.double_well().template.replace("{t}", t)
    return f"""{energy}
nf.model @snf(%x: tensor<?x2x{t}>, %c: tensor<?x{width}x{t}>) base #nf.std_normal {{
  %0 = nf.{op} %x energy @double_well {direction}_noise %c : tensor<?x{width}x{t}> {{{attrs}}} : tensor<?x2x{t}>
  nf.yield %0 : tensor<?x2x{t}>
}}
"""


def load(text, tmp_path, name="snf"):
    return nfmlir.load(nfmlir.compile_mlir(text, name=name, out_dir=tmp_path))[name]


def identity_sampler(tmp_path, t):
    """A model whose samples are its base draws z (to reproduce the z that
    sample_with_log_prob starts from)."""
    return load(f"""nf.model @base(%x: tensor<?x2x{t}>) base #nf.std_normal {{
  %0 = nf.reverse %x : tensor<?x2x{t}>
  %1 = nf.reverse %0 : tensor<?x2x{t}>
  nf.yield %1 : tensor<?x2x{t}>
}}
""", tmp_path / "base", "base")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_langevin_against_reference(dtype, tmp_path):
    rng = np.random.default_rng(0)
    steps, eps, lam, n = 3, 0.01, 0.5, 500
    attrs = f"lambda = {lam}, step_size = {eps}, steps = {steps} : i64"
    x = rng.normal(size=(n, 2)).astype(dtype)
    eta = rng.normal(size=(n, 2 * steps)).astype(dtype)
    lib = load(snf_module("langevin", attrs, 2 * steps, T[dtype]), tmp_path / "fwd")
    z, v = lib.forward(x, context=eta)
    z_ref, v_ref = ref_langevin(x.astype(np.float64), eta.astype(np.float64), eps, lam, steps)
    tol = TOL[dtype]
    assert np.allclose(z, z_ref, rtol=tol, atol=tol)
    assert np.allclose(v, v_ref, rtol=tol, atol=tol)
    # Sampling runs the same dynamics from z ~ N(0, I); its log-probability
    # is log N(z) + V with V of the reverse sign.
    back = load(snf_module("langevin", attrs, 2 * steps, T[dtype], "inverse"), tmp_path / "inv")
    xs, logp = back.sample_with_log_prob(n, seed=7, context=eta)
    z0 = identity_sampler(tmp_path, T[dtype]).sample(n, seed=7).astype(np.float64)
    x_ref, v_fwd = ref_langevin(z0, eta.astype(np.float64), eps, lam, steps)
    logp_ref = -0.5 * (z0**2).sum(1) - log(2 * pi) - v_fwd
    assert np.allclose(xs, x_ref, rtol=tol, atol=tol)
    assert np.allclose(logp, logp_ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_metropolis_against_reference(dtype, tmp_path):
    rng = np.random.default_rng(1)
    steps, scale, lam, n = 4, 0.5, 0.5, 2000
    attrs = f"lambda = {lam}, proposal_scale = {scale}, steps = {steps} : i64"
    width = steps * 3
    x = rng.normal(size=(n, 2)).astype(dtype)
    noise = np.concatenate([rng.normal(size=(n, 2 * steps)), rng.uniform(size=(n, steps))], 1).astype(dtype)
    lib = load(snf_module("metropolis", attrs, width, T[dtype]), tmp_path / "fwd")
    z, v = lib.forward(x, context=noise)
    z_ref, v_ref = ref_metropolis(x.astype(np.float64), noise.astype(np.float64), scale, lam, steps)
    tol = TOL[dtype]
    assert np.allclose(z, z_ref, rtol=tol, atol=tol)
    assert np.allclose(v, v_ref, rtol=tol, atol=tol)
    moved = np.any(z_ref != x, 1).mean()
    assert 0.2 < moved < 1.0  # some proposals accepted, some rejected
    back = load(snf_module("metropolis", attrs, width, T[dtype], "inverse"), tmp_path / "inv")
    xs, logp = back.sample_with_log_prob(n, seed=3, context=noise)
    z0 = identity_sampler(tmp_path, T[dtype]).sample(n, seed=3).astype(np.float64)
    x_ref, v_fwd = ref_metropolis(z0, noise.astype(np.float64), scale, lam, steps)
    assert np.allclose(xs, x_ref, rtol=tol, atol=tol)
    assert np.allclose(logp, -0.5 * (z0**2).sum(1) - log(2 * pi) - v_fwd, rtol=tol, atol=tol)


def test_path_weight_is_exact_when_the_target_is_the_base(compile_model):
    """With lambda = 0 the Metropolis target is the base N(0, I); detailed
    balance makes log p_Z(z) + V = log N(x) for every path, both ways."""
    block = nfmlir.Metropolis(nfmlir.double_well(), proposal_scale=0.8, steps=5, lam=0.0)
    lib = compile_model(nfmlir.Model([block], nfmlir.StandardNormal(2), dtype="float64", name="snf0"))
    x = np.random.default_rng(2).normal(size=(1000, 2)) * 1.5
    exact = -0.5 * (x**2).sum(1) - log(2 * pi)
    assert np.allclose(lib.elbo(x, seed=4), exact, rtol=1e-12, atol=1e-12)
    assert np.allclose(lib.log_prob(x), exact, rtol=1e-12, atol=1e-12)
    xs, logp = lib.sample_with_log_prob(1000, seed=5)
    assert np.allclose(logp, -0.5 * (xs**2).sum(1) - log(2 * pi), rtol=1e-12, atol=1e-12)


def double_well_samples(n, rng):
    """Exact draws from exp(-u): x2 ~ N(0, 1), x1 by inverting the CDF of
    exp(-(x1^4 - 6 x1^2 - 0.5 x1)) tabulated on a fine grid."""
    grid = np.linspace(-4, 4, 400001)
    density = np.exp(-(grid**4 - 6 * grid**2 - 0.5 * grid))
    cdf = np.cumsum(density)
    cdf /= cdf[-1]
    return np.stack([np.interp(rng.uniform(size=n), cdf, grid), rng.normal(size=n)], 1)


def x1_bin_probabilities(edges):
    grid = np.linspace(-4, 4, 400001)
    density = np.exp(-(grid**4 - 6 * grid**2 - 0.5 * grid))
    mass = np.array([density[(grid >= a) & (grid < b)].sum() for a, b in zip(edges[:-1], edges[1:])])
    return mass / density.sum()


def assert_histogram_matches(samples, edges, probabilities):
    counts, _ = np.histogram(samples, edges)
    n = len(samples)
    sigma = np.sqrt(probabilities * (1 - probabilities) / n)
    deviation = np.abs(counts / n - probabilities) / np.maximum(sigma, 1e-12)
    # 30 bins at 5 sigma: a false alarm about once in 60,000 runs.
    assert deviation.max() < 5, deviation.round(2)


def test_metropolis_leaves_the_double_well_invariant(compile_model):
    rng = np.random.default_rng(3)
    n = 100_000
    block = nfmlir.Metropolis(nfmlir.double_well(), proposal_scale=0.5, steps=20)
    lib = compile_model(nfmlir.Model([block], nfmlir.StandardNormal(2), dtype="float64", name="mc"))
    x = double_well_samples(n, rng)
    z, v = lib.forward(x, seed=11)
    assert np.any(z != x, 1).mean() > 0.9  # the chains moved
    edges = np.linspace(-2.5, 2.5, 31)
    probabilities = x1_bin_probabilities(edges)
    assert_histogram_matches(x[:, 0], edges, probabilities)  # the test's own draws
    assert_histogram_matches(z[:, 0], edges, probabilities)
    assert abs(z[:, 1].mean()) < 0.02 and abs(z[:, 1].var() - 1) < 0.02
    assert np.allclose(v, dw_energy(z) - dw_energy(x), atol=1e-9)


def test_metropolis_equilibrates_within_each_well(compile_model):
    """Started from the base N(0, I) (sampling direction), 400 steps on the
    target equilibrate each well: the histograms of x1 < 0 and x1 > 0 match
    the target's conditionals. (Crossing the barrier of about 9 kT is too
    rare for the chains to fix the wells' weights, which is why SNFs put
    flow layers before their MCMC blocks.)"""
    block = nfmlir.Metropolis(nfmlir.double_well(), proposal_scale=0.9, steps=400)
    lib = compile_model(nfmlir.Model([block], nfmlir.StandardNormal(2), dtype="float64", name="mc"))
    xs = lib.sample(50_000, seed=12)
    for edges in (np.linspace(-2.5, 0, 16), np.linspace(0, 2.5, 16)):
        side = xs[(xs[:, 0] >= edges[0]) & (xs[:, 0] < edges[-1]), 0]
        probabilities = x1_bin_probabilities(edges)
        assert_histogram_matches(side, edges, probabilities / probabilities.sum())


# -- derived energy gradients -------------------------------------------------

NET_ENERGY = """
func.func @net(%y: tensor<?x2xf64>, %w: tensor<2x3xf64>, %b: tensor<3xf64>) -> tensor<?xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2xf64>
  %zero = arith.constant 0.0 : f64
  %e = tensor.empty(%n) : tensor<?x3xf64>
  %f = linalg.fill ins(%zero : f64) outs(%e : tensor<?x3xf64>) -> tensor<?x3xf64>
  %h = linalg.matmul ins(%y, %w : tensor<?x2xf64>, tensor<2x3xf64>) outs(%f : tensor<?x3xf64>) -> tensor<?x3xf64>
  %e1 = tensor.empty(%n) : tensor<?xf64>
  %f1 = linalg.fill ins(%zero : f64) outs(%e1 : tensor<?xf64>) -> tensor<?xf64>
  %s = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%h, %b : tensor<?x3xf64>, tensor<3xf64>) outs(%f1 : tensor<?xf64>) {
  ^bb0(%hv: f64, %bv: f64, %acc: f64):
    %p = arith.addf %hv, %bv : f64
    %t = math.tanh %p : f64
    %t2 = arith.mulf %t, %t : f64
    %r = arith.addf %acc, %t2 : f64
    linalg.yield %r : f64
  } -> tensor<?xf64>
  %q = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<?x2xf64>) outs(%s : tensor<?xf64>) {
  ^bb0(%yv: f64, %acc: f64):
    %c = arith.constant 0.1 : f64
    %y2 = arith.mulf %yv, %yv : f64
    %y4 = arith.mulf %y2, %y2 : f64
    %t = arith.mulf %c, %y4 : f64
    %r = arith.addf %t, %acc : f64
    linalg.yield %r : f64
  } -> tensor<?xf64>
  return %q : tensor<?xf64>
}
"""

MLP_ENERGY = """
func.func @mlp(%y: tensor<?x2xf64>, %w0: tensor<2x8xf64>, %b0: tensor<8xf64>, %w1: tensor<8x1xf64>,
               %b1: tensor<1xf64>) -> tensor<?xf64> {
  %h = nf.mlp %y (%w0, %b0, %w1, %b1 : tensor<2x8xf64>, tensor<8xf64>, tensor<8x1xf64>, tensor<1xf64>)
         activation tanh : tensor<?x2xf64> -> tensor<?x1xf64>
  %u = tensor.collapse_shape %h [[0, 1]] : tensor<?x1xf64> into tensor<?xf64>
  return %u : tensor<?xf64>
}
"""

HAND_GRADIENT = """
func.func @dw_grad(%y: tensor<?x2xf64>) -> tensor<?x2xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2xf64>
  %init = tensor.empty(%n) : tensor<?x2xf64>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<?x2xf64>) outs(%init : tensor<?x2xf64>) {
  ^bb0(%v: f64, %out: f64):
    %j = linalg.index 1 : index
    %c0i = arith.constant 0 : index
    %first = arith.cmpi eq, %j, %c0i : index
    %four = arith.constant 4.0 : f64
    %twelve = arith.constant 12.0 : f64
    %half = arith.constant 0.5 : f64
    %v2 = arith.mulf %v, %v : f64
    %v3 = arith.mulf %v2, %v : f64
    %a = arith.mulf %four, %v3 : f64
    %b = arith.mulf %twelve, %v : f64
    %d = arith.subf %a, %b : f64
    %e = arith.subf %d, %half : f64
    %r = arith.select %first, %e, %v : f64
    linalg.yield %r : f64
  } -> tensor<?x2xf64>
  return %g : tensor<?x2xf64>
}
"""


def gradient_probe(functions, energy, params_text, tmp_path, name, extra="", attrs=""):
    """Compiles one noiseless Langevin step (eta = 0 from the context) with
    step 1e-3; then grad u(x) = (x - z) / 1e-3."""
    name = "probe_" + name
    text = f"""{functions}
nf.model @{name}(%x: tensor<?x2xf64>, %c: tensor<?x2xf64>) base #nf.std_normal {{
{params_text}
  %0 = nf.langevin %x energy @{energy}{extra} forward_noise %c : tensor<?x2xf64> {{step_size = 1.0e-3{attrs}}} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}}
"""
    lib = load(text, tmp_path / name, name)
    return lambda x: (x - lib.forward(x, context=np.zeros_like(x))[0]) / 1e-3


def central_differences(u, x, h=1e-5):
    out = np.zeros_like(x)
    for j in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, j] = h
        out[:, j] = (u(x + step) - u(x - step)) / (2 * h)
    return out


def dense(values):
    values = np.asarray(values)
    shape = "x".join(str(d) for d in values.shape)
    return f"dense<{np.array2string(values, separator=', ', precision=17, floatmode='unique', threshold=10**6)}> : tensor<{shape}xf64>"


def test_derived_gradients_match_finite_differences(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 2)) * 1.5
    dw_text = nfmlir.double_well().template.replace("{t}", "f64")
    derived = gradient_probe(dw_text, "double_well", "", tmp_path, "dw")
    worst = {}
    fd = central_differences(dw_energy, x)
    worst["double_well"] = np.abs(derived(x) - fd).max() / np.abs(fd).max()
    # A hand-written gradient is used as given, and agrees.
    hand = gradient_probe(dw_text + HAND_GRADIENT, "double_well", "", tmp_path, "hand", attrs=", gradient = @dw_grad")
    assert np.allclose(hand(x), derived(x), rtol=1e-9, atol=1e-9)

    # Matmul, broadcast bias, tanh and sum reductions.
    w, b = rng.normal(size=(2, 3)), rng.normal(size=3)

    def net_energy(y):
        return (np.tanh(y @ w + b) ** 2).sum(1) + 0.1 * (y**4).sum(1)

    params = f"  %w = arith.constant {dense(w)}\n  %b = arith.constant {dense(b)}"
    net = gradient_probe(NET_ENERGY, "net", params, tmp_path, "net",
                         "(%w, %b : tensor<2x3xf64>, tensor<3xf64>)")
    fd = central_differences(net_energy, x)
    worst["net"] = np.abs(net(x) - fd).max() / np.abs(fd).max()

    # An energy written with nf.mlp.
    w0, b0, w1, b1 = rng.normal(size=(2, 8)), rng.normal(size=8), rng.normal(size=(8, 1)), rng.normal(size=1)

    def mlp_energy(y):
        return (np.tanh(y @ w0 + b0) @ w1 + b1)[:, 0]

    params = "\n".join(f"  %{k} = arith.constant {dense(v)}" for k, v in
                       [("w0", w0), ("b0", b0), ("w1", w1), ("b1", b1)])
    mlp = gradient_probe(MLP_ENERGY, "mlp", params, tmp_path, "mlp",
                         "(%w0, %b0, %w1, %b1 : tensor<2x8xf64>, tensor<8xf64>, tensor<8x1xf64>, tensor<1xf64>)")
    fd = central_differences(mlp_energy, x)
    worst["mlp"] = np.abs(mlp(x) - fd).max() / np.abs(fd).max()
    print("derived gradient vs central differences, worst relative error:", worst)
    assert max(worst.values()) < 1e-7


ONE_D_ENERGY = nfmlir.Energy("quartic", """func.func @quartic(%y: tensor<?x1x{t}>) -> tensor<?x{t}> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x1x{t}>
  %zero = arith.constant 0.0 : {t}
  %e = tensor.empty(%n) : tensor<?x{t}>
  %init = linalg.fill ins(%zero : {t}) outs(%e : tensor<?x{t}>) -> tensor<?x{t}>
  %u = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<?x1x{t}>) outs(%init : tensor<?x{t}>) {
  ^bb0(%v: {t}, %acc: {t}):
    %v2 = arith.mulf %v, %v : {t}
    %v4 = arith.mulf %v2, %v2 : {t}
    %s = arith.addf %acc, %v4 : {t}
    linalg.yield %s : {t}
  } -> tensor<?x{t}>
  return %u : tensor<?x{t}>
}""")


def test_one_dimensional_blocks_draw_per_sample(compile_model):
    """D = 1: every row gets its own noise (and the reference dynamics)."""
    layers = [nfmlir.Langevin(ONE_D_ENERGY, step_size=0.01, steps=3),
              nfmlir.Metropolis(ONE_D_ENERGY, proposal_scale=0.5, steps=3)]
    lib = compile_model(nfmlir.Model(layers, nfmlir.StandardNormal(1), dtype="float64", name="snf1"))
    x = np.zeros((2000, 1))
    z, v = lib.forward(x, seed=3)
    assert np.unique(z).size > 1900 and np.isfinite(v).all()
    assert abs(z.mean()) < 0.05 and 0.01 < z.std() < 1


def test_langevin_in_one_dimension_against_reference(tmp_path):
    rng = np.random.default_rng(6)
    text = ONE_D_ENERGY.template.replace("{t}", "f64") + """
nf.model @l1(%x: tensor<?x1xf64>, %c: tensor<?x2xf64>) base #nf.std_normal {
  %0 = nf.langevin %x energy @quartic forward_noise %c : tensor<?x2xf64> {step_size = 0.01, steps = 2 : i64} : tensor<?x1xf64>
  nf.yield %0 : tensor<?x1xf64>
}
"""
    lib = load(text, tmp_path, "l1")
    x, eta = rng.normal(size=(300, 1)), rng.normal(size=(300, 2))
    z, v = lib.forward(x, context=eta)
    y, v_ref = x[:, 0], np.zeros(300)
    for s in range(2):
        nxt = y - 0.01 * 4 * y**3 + np.sqrt(0.02) * eta[:, s]
        rev = (y - nxt + 0.01 * 4 * nxt**3) / np.sqrt(0.02)
        v_ref += 0.5 * eta[:, s] ** 2 - 0.5 * rev**2
        y = nxt
    assert np.allclose(z[:, 0], y, rtol=1e-10, atol=1e-10)
    assert np.allclose(v, v_ref, rtol=1e-10, atol=1e-10)
