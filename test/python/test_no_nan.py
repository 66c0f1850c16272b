"""No NaN for finite input: every example's log_prob is finite or -inf at
every point of a grid over [-8, 8]^2 (2-D models) or at random and extreme
points (others), in the model's dtype; and the log-derivative of a user
elementwise bijection stays finite where the derivative overflows."""

import subprocess

import numpy as np
import pytest
from conftest import ROOT

import nfmlir

EXAMPLES = sorted((ROOT / "examples").glob("*.mlir"))


def probe_points(dim, dtype, rng):
    if dim == 2:
        axis = np.linspace(-8, 8, 401)
        grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
        return grid.astype(dtype)
    scales = [1.0, 4.0, 8.0, 30.0]
    points = [rng.normal(size=(2000, dim)) * s for s in scales]
    points.append(np.full((1, dim), 8.0))
    points.append(np.full((1, dim), -8.0))
    return np.concatenate(points).astype(dtype)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_log_prob_is_never_nan(path, tmp_path):
    library = tmp_path / f"lib{path.stem}.so"
    subprocess.run([nfmlir.find_nf_compile(), str(path), "-o", str(library)], check=True)
    rng = np.random.default_rng(0)
    for model in nfmlir.load(library).models.values():
        x = probe_points(model.dim, model.dtype, rng)
        ctx = None if model.context_dim == 0 else np.zeros((len(x), model.context_dim), model.dtype)
        logp = model.log_prob(x, ctx)
        bad = np.isnan(logp) | (logp == np.inf)
        assert not bad.any(), f"{bad.sum()} of {len(x)} points, e.g. x = {x[bad][:3]}"


def test_user_elementwise_log_derivative_in_log_space(tmp_path):
    """sinh(2x): f' = 2 cosh(2x) overflows f32 from |x| ~ 44; log|f'| =
    log 2 + log cosh(2x) does not."""
    text = """
nf.model @s(%x: tensor<?x1xf32>) base #nf.std_normal {
  %0 = nf.elementwise %x : tensor<?x1xf32> {
  ^bb0(%v: f32):
    %two = arith.constant 2.0 : f32
    %a = arith.mulf %v, %two : f32
    %r = math.sinh %a : f32
    nf.scalar_yield %r : f32
  }
  nf.yield %0 : tensor<?x1xf32>
}
"""
    model = nfmlir.load(nfmlir.compile_mlir(text, name="s", out_dir=tmp_path)).models["s"]
    x = np.array([[0.0], [1.0], [-3.0], [30.0], [-50.0], [80.0]], np.float32)
    _, logdet = model.forward(x)
    expected = np.log(2.0) + np.abs(2.0 * x[:, 0].astype(np.float64)) + np.log1p(
        np.exp(-4.0 * np.abs(x[:, 0].astype(np.float64)))) - np.log(2.0)
    np.testing.assert_allclose(logdet, expected, rtol=1e-5)
    logp = model.log_prob(x)
    assert np.isfinite(logp[:3]).all() and (logp[3:] == -np.inf).all()
