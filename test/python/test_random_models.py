"""Random-model differential testing: seeded random stacks of the builder's
layers (bijective, surjective and stochastic), widths, dtypes and parameter
scales, compiled and checked against invariants that need no reference
implementation of the stack:

- bijective stacks: x -> z -> x round trips; V equals log|det J| of the
  forward map by central finite differences (f64); sample_with_log_prob
  agrees with log_prob;
- every stack: log_prob is finite on its own samples, and never NaN (finite
  or -inf) on wide random inputs.

CI runs NF_RANDOM_MODELS models (default 40); `NF_RANDOM_MODELS=1000
python3 -m pytest test/python/test_random_models.py` is the long run."""

import os

import numpy as np
import pytest

import nfmlir
from test_builder_shapes import flat_layers

COUNT = int(os.environ.get("NF_RANDOM_MODELS", "40"))
# Bijections of R^d (in x -> z order, a stack must reach all of R^d for the
# base distribution: layers onto a part of it come with the layer that maps
# that part back, and layers defined on a part only come first).
FREE = ["affine", "reverse", "permute", "actnorm", "linear", "lu_linear", "radial", "planar", "batch_norm",
        "rq_spline", "leaky_relu", "elementwise", "iresnet", "affine_coupling", "additive_coupling",
        "spline_coupling", "maf", "iaf", "spline_ar"]
# (sigmoid then logit is not onto R in practice: the logit clamps at 1e-6.)
PAIRS = {"exp_log": [nfmlir.Exp, nfmlir.Log]}
# Data on (0, inf)^d. (A logit first is not onto R: its alpha margin and
# its clamp bound the latent.)
FIRST = ["log"]
EXACT = FREE + FIRST + [f"{pair}.{i}" for pair in PAIRS for i in range(2)]
# Surjective and stochastic layers (of the width-keeping kind): at most one
# per model, last.
OTHERS = ["abs", "sort", "uniform_dequantize", "variational_dequantize", "cif", "diffusion_step",
          "random_permutation"]


def random_model(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.choice([2, 3, 5]))
    dtype = str(rng.choice(["float32", "float64"]))
    names = []
    if rng.random() < 0.2:
        names.append(str(rng.choice(FIRST)))
    for _ in range(int(rng.integers(1, 6))):
        if rng.random() < 0.15:
            pair = str(rng.choice(list(PAIRS)))
            names += [f"{pair}.0", f"{pair}.1"]
        else:
            names.append(str(rng.choice(FREE)))
    if rng.random() < 0.3:
        names.append(str(rng.choice(OTHERS)))
    layers = []
    for name in names:
        if "." in name:
            pair, i = name.split(".")
            layers.append(PAIRS[pair][int(i)]())
        else:
            layers.append(flat_layers(d, rng)[name])
    return nfmlir.Model(layers, nfmlir.StandardNormal(d), dtype=dtype, name=f"random{seed}"), names


def log_abs_det_fd(model, x, half_line=False, h=1e-5):
    """log|det J| of forward at each row of x, by central differences with
    steps relative to each coordinate. Data on a half-line can be 1e-35
    from its boundary: there the step is relative without a floor, so that
    it stays inside the domain."""
    out = []
    for row in x:
        jac = np.empty((len(row), len(row)))
        for j in range(len(row)):
            step = np.zeros_like(row)
            step[j] = h * (abs(row[j]) if half_line else max(abs(row[j]), 1e-12))
            up = model.forward((row + step)[None])[0][0]
            down = model.forward((row - step)[None])[0][0]
            jac[:, j] = (up - down) / (2 * step[j])
        out.append(np.linalg.slogdet(jac)[1])
    return np.array(out)


@pytest.mark.parametrize("seed", range(COUNT))
def test_random_model(seed, tmp_path):
    spec, names = random_model(seed)
    model = spec.compile(out_dir=tmp_path)
    f64 = model.dtype == np.float64
    rng = np.random.default_rng(seed + 10_000)
    x, logp = model.sample_with_log_prob(300, seed=seed)
    assert np.isfinite(x).all(), names
    lp = model.log_prob(x)
    assert np.isfinite(lp).all(), names
    if set(names) <= set(EXACT):
        tol = 1e-6 if f64 else 2e-3
        scale = max(1.0, float(np.abs(logp).max()))
        assert np.abs(lp - logp).max() <= tol * scale * 10, names
        z, v = model.forward(x)
        back = model.inverse(z)
        assert np.abs(back - x).max() <= tol * 10 * max(1.0, float(np.abs(x).max())), names
        if f64:
            keep = np.abs(x).max(1) < 20  # central differences need room
            if keep.any():
                fd = log_abs_det_fd(model, x[keep][:5], half_line=names[0] == "log")
                np.testing.assert_allclose(v[keep][:5], fd, atol=1e-4 * max(1.0, float(np.abs(fd).max())),
                                           err_msg=str(names))
    wide = (rng.normal(size=(500, model.dim)) * rng.choice([1.0, 5.0, 30.0])).astype(model.dtype)
    logp_wide = model.log_prob(wide)
    assert not np.isnan(logp_wide).any(), (names, wide[np.isnan(logp_wide)][:3])
    assert not (logp_wide == np.inf).any(), names
