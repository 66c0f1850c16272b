"""nf-fuse-layers keeps every entry's numbers: each model is compiled with
and without layer fusion (nf-compile --fuse-layers=false) and the two
libraries are compared in f32 and f64, and the fused models move no data
for their permutations."""

import subprocess

import numpy as np
import pytest
from conftest import ROOT

import nfmlir

NF_OPT = ROOT / "build" / "bin" / "nf-opt"
# Relative to 1 + |value|: fusion regroups floating-point operations.
TOL = {"float32": 2e-5, "float64": 1e-11}


def lu_layer(d, rng):
    lower = np.tril(rng.normal(size=(d, d)) * 0.3, -1)
    upper = np.triu(rng.normal(size=(d, d)) * 0.3, 1)
    return nfmlir.LULinear(lower, upper, rng.uniform(0.5, 2.0, d), rng.normal(size=d),
                           permutation=list(rng.permutation(d)))


def realnvp(dtype, rng, context_dim=0):
    d = 6
    layers = []
    for k in range(4):
        net = nfmlir.MLP.random([3 + context_dim, 16, 6], "tanh", rng, 0.5)
        layers.append(nfmlir.AffineCoupling([0, 1, 2], net, "sigmoid" if k % 2 else "exp"))
        layers.append(nfmlir.Reverse() if k % 2 == 0 else nfmlir.Permute(list(rng.permutation(d))))
    return nfmlir.Model(layers, nfmlir.StandardNormal(d), context_dim=context_dim, dtype=dtype,
                        name=f"realnvp_{dtype[-2:]}_{context_dim}")


def maf(dtype, rng):
    d = 4
    layers = []
    for k in range(3):
        layers.append(nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(d, [12], 2, 0, "tanh", rng, 0.5)))
        layers.append(nfmlir.Permute(list(rng.permutation(d))))
    layers.append(nfmlir.MaskedSplineAutoregressive(nfmlir.MADE.random(d, [12], 3 * 4 - 1, 0, "tanh", rng, 0.5),
                                                    bins=4))
    layers.append(nfmlir.BatchNorm(rng.normal(size=d), rng.uniform(0.5, 2, d), rng.normal(size=d) * 0.1,
                                   rng.normal(size=d)))
    layers.append(nfmlir.Reverse())
    base = nfmlir.DiagNormal(rng.normal(size=d) * 0.3, rng.normal(size=d) * 0.2)
    return nfmlir.Model(layers, base, dtype=dtype, name=f"maf_{dtype[-2:]}")


def affine_chain(dtype, rng):
    d = 3
    layers = [nfmlir.Affine(rng.uniform(0.5, 2, d), rng.normal(size=d)),
              nfmlir.ActNorm(rng.uniform(0.5, 2, d), rng.normal(size=d)),
              nfmlir.BatchNorm(rng.normal(size=d), rng.uniform(0.5, 2, d), rng.normal(size=d) * 0.1,
                               rng.normal(size=d)),
              lu_layer(d, rng),
              nfmlir.Linear(np.eye(d) + 0.2 * rng.normal(size=(d, d)), rng.normal(size=d)),
              nfmlir.Tanh(),
              nfmlir.Sigmoid(2.0), nfmlir.Logit(0.05), nfmlir.LeakyReLU(0.2),
              nfmlir.Permute([2, 0, 1]),
              nfmlir.Linear(np.eye(d) + 0.2 * rng.normal(size=(d, d)), rng.normal(size=d))]
    return nfmlir.Model(layers, nfmlir.StandardNormal(d), dtype=dtype, name=f"chain_{dtype[-2:]}")


def glow(dtype, rng):
    c, h, w = 4, 2, 2
    layers = [nfmlir.ActNorm(rng.uniform(0.5, 2, c), rng.normal(size=c)),
              nfmlir.Linear(np.eye(c) + 0.2 * rng.normal(size=(c, c)), rng.normal(size=c)),
              nfmlir.Permute([3, 1, 0, 2]),
              nfmlir.Linear(np.eye(c) + 0.2 * rng.normal(size=(c, c)), np.zeros(c)),
              nfmlir.AffineCoupling([0, 1], nfmlir.ConvNet.random([2, 6, 4], 3, "relu", rng, 0.3), "sigmoid"),
              nfmlir.ActNorm(rng.uniform(0.5, 2, c), rng.normal(size=c)),
              lu_layer(c, rng),
              nfmlir.Affine(rng.uniform(0.5, 2, (c, h, w)), 0.1)]
    return nfmlir.Model(layers, nfmlir.StandardNormal(c * h * w), dtype=dtype, name=f"glow_{dtype[-2:]}",
                        event_shape=(c, h, w))


MODELS = {"realnvp": realnvp, "realnvp_context": lambda dt, rng: realnvp(dt, rng, context_dim=2), "maf": maf,
          "affine_chain": affine_chain, "glow": glow}


def compile_pair(model, tmp_path):
    text = model.to_mlir()
    fused = nfmlir.load(nfmlir.compile_mlir(text, name=model.name, out_dir=tmp_path / "fused"))[model.name]
    plain = nfmlir.load(nfmlir.compile_mlir(text, name=model.name, out_dir=tmp_path / "plain",
                                            extra_args=["--fuse-layers=false"]))[model.name]
    return fused, plain


def assert_close(actual, expected, dtype, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    # The affine chain's tanh and logit do not reach all of R^d: most base
    # samples lie outside its image and invert to NaN (log p: -inf), in both
    # libraries alike (its inverse is checked on latents inside the image).
    assert np.array_equal(np.isfinite(actual), np.isfinite(expected)), f"{what}: non-finite values differ"
    assert np.array_equal(actual[~np.isfinite(actual)], expected[~np.isfinite(expected)], equal_nan=True), \
        f"{what}: non-finite values differ"
    finite = np.isfinite(expected)
    actual, expected = actual[finite], expected[finite]
    error = np.abs(actual - expected) / (1 + np.abs(expected))
    assert error.max() <= TOL[dtype], f"{what}: max relative error {error.max():.2e}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(MODELS))
def test_fusion_keeps_every_entry(name, dtype, tmp_path):
    rng = np.random.default_rng(7)
    model = MODELS[name](dtype, rng)
    fused, plain = compile_pair(model, tmp_path)
    n = 200
    ctx = rng.normal(size=(n, model.context_dim)).astype(dtype) if model.context_dim else None
    x = plain.sample(n, seed=3, context=ctx)
    if name == "affine_chain":
        x = rng.uniform(0.1, 0.9, size=(n, model.dim)).astype(dtype)  # inside the logit's support
    assert_close(fused.log_prob(x, context=ctx), plain.log_prob(x, context=ctx), dtype, "log_prob")
    z_f, v_f = fused.forward(x, context=ctx)
    z_p, v_p = plain.forward(x, context=ctx)
    assert_close(z_f, z_p, dtype, "forward z")
    assert_close(v_f, v_p, dtype, "forward V")
    assert_close(fused.inverse(z_p, context=ctx), plain.inverse(z_p, context=ctx), dtype, "inverse")
    xs_f, lp_f = fused.sample_with_log_prob(n, seed=11, context=ctx)
    xs_p, lp_p = plain.sample_with_log_prob(n, seed=11, context=ctx)
    assert_close(xs_f, xs_p, dtype, "samples")
    assert_close(lp_f, lp_p, dtype, "sample log p")


def fused_layers(model):
    """The op names of the fused model's layers."""
    result = subprocess.run([str(NF_OPT), "-", "--nf-fuse-layers", "--nf-model-summary"], input=model.to_mlir(),
                            capture_output=True, text=True, check=True)
    return [line.split()[1] for line in result.stderr.splitlines() if line.startswith("  ")]


@pytest.mark.parametrize("name", ["realnvp", "maf"])
def test_stacks_keep_no_permutation_between_layers(name):
    layers = fused_layers(MODELS[name]("float32", np.random.default_rng(7)))
    permutations = [i for i, op in enumerate(layers) if op in ("nf.permute", "nf.reverse")]
    # At most one, on the latent, where the density kernels skip it.
    assert permutations in ([], [len(layers) - 1]), layers


def test_affine_layers_fold_and_elementwise_layers_chain():
    layers = fused_layers(affine_chain("float64", np.random.default_rng(7)))
    # affine, actnorm, batch norm, LU, linear -> one linear; tanh, sigmoid,
    # logit, leaky ReLU -> one chain; the permutation into the last linear.
    assert layers == ["nf.linear", "nf.elementwise_chain", "nf.linear"], layers


def test_glow_permutation_goes_into_the_next_linear():
    layers = fused_layers(glow("float32", np.random.default_rng(7)))
    assert "nf.permute" not in layers and "nf.batch_norm" not in layers, layers
    assert layers[:2] == ["nf.linear", "nf.affine_coupling"], layers
