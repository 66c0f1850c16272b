"""Builder round trip: a model using every vector layer of nfmlir's builder
emits nf dialect text that nf-opt parses, verifies and prints back to text
that parses to the same IR, and that nf-compile turns into a library whose
numbers are the builder's (numpy references of conftest)."""

import subprocess

import numpy as np
from conftest import ROOT, ref_log_prob

import nfmlir


def every_builder_layer(dim=4, context_dim=2, rng=None):
    rng = np.random.default_rng(rng)
    c = context_dim
    half = dim // 2
    bins = 4
    lower, upper = rng.normal(size=(dim, dim)) * 0.3, rng.normal(size=(dim, dim)) * 0.3
    return [
        nfmlir.Affine(rng.uniform(0.5, 1.5, dim), rng.normal(size=dim) * 0.1),
        nfmlir.ActNorm(rng.uniform(0.5, 1.5, dim), rng.normal(size=dim) * 0.1),
        nfmlir.BatchNorm(rng.normal(size=dim) * 0.1, rng.uniform(0.5, 2, dim), rng.normal(size=dim) * 0.1,
                         rng.normal(size=dim) * 0.1),
        nfmlir.Linear(np.eye(dim) + rng.normal(size=(dim, dim)) * 0.2, rng.normal(size=dim) * 0.1),
        nfmlir.LULinear(lower, upper, rng.uniform(0.5, 1.5, dim), rng.normal(size=dim) * 0.1,
                        permutation=rng.permutation(dim)),
        nfmlir.Permute(rng.permutation(dim)),
        nfmlir.AffineCoupling(nfmlir.parity_mask(dim), nfmlir.MLP.random([half + c, 16, 2 * half], "tanh", rng, 0.5),
                              "exp"),
        nfmlir.Reverse(),
        nfmlir.AffineCoupling([0, 1], nfmlir.MLP.random([2 + c, 8, 2 * (dim - 2)], "relu", rng, 0.5), "sigmoid",
                              shift_first=True),
        nfmlir.AdditiveCoupling([1, 3], nfmlir.MLP.random([2 + c, 8, dim - 2], "elu", rng)),
        nfmlir.SplineCoupling([0, 2], nfmlir.MLP.random([2 + c, 16, (dim - 2) * (3 * bins - 1)], "leaky_relu", rng),
                              bins=bins, tail_bound=3.0),
        nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(dim, [12, 12], 2, c, "relu", rng, 0.5), "softplus"),
        nfmlir.MaskedSplineAutoregressive(nfmlir.MADE.random(dim, [12], 3 * bins - 1, c, "sigmoid", rng), bins=bins,
                                          tail_bound=3.0),
        nfmlir.RQSpline(rng.normal(size=(dim, bins)), rng.normal(size=(dim, bins)), rng.normal(size=(dim, bins - 1)),
                        tail_bound=3.0),
        nfmlir.Planar.reparameterized(rng.normal(size=dim), rng.normal(size=dim), 0.3),
        nfmlir.Radial(rng.normal(size=dim) * 0.5, 1.0, 0.5),
    ]


def nf_opt(text):
    """nf-opt's printed form of `text` (parsed and verified)."""
    nf_opt_path = ROOT / "build" / "bin" / "nf-opt"
    result = subprocess.run([str(nf_opt_path), "-"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_builder_text_parses_prints_and_compiles(tmp_path):
    model = nfmlir.Model(every_builder_layer(rng=0), nfmlir.StandardNormal(4), context_dim=2, dtype="float64",
                         name="every_layer")
    text = model.to_mlir()
    assert text == model.to_mlir()  # deterministic
    printed = nf_opt(text)
    assert "nf.model @every_layer" in printed
    assert nf_opt(printed) == printed  # print -> parse -> print is stable
    # The printed form compiles to the same library as the builder's text.
    libs = [nfmlir.load(nfmlir.compile_mlir(source, name="every_layer", out_dir=tmp_path / tag))["every_layer"]
            for tag, source in (("builder", text), ("printed", printed))]
    rng = np.random.default_rng(1)
    x, ctx = rng.normal(size=(300, 4)), rng.normal(size=(300, 2))
    expected = ref_log_prob(model, x, ctx)
    for lib in libs:
        assert (lib.dim, lib.context_dim, lib.dtype) == (4, 2, np.float64)
        assert np.abs(lib.log_prob(x, ctx) - expected).max() <= 1e-9 * np.abs(expected).max()
        z, _ = lib.forward(x, ctx)
        assert np.abs(lib.inverse(z, ctx) - x).max() <= 1e-8
    assert np.array_equal(libs[0].log_prob(x, ctx), libs[1].log_prob(x, ctx))
