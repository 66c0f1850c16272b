"""The Python builder checks and emits every layer against the shape that
reaches it (after slices, augmentation, max pooling, VAE layers), emits a
diagonal-normal or uniform base in the latent's event shape, and loads the
library each compile wrote."""

import subprocess
from math import log, pi

import numpy as np
import pytest
from conftest import ROOT, ref_autoregressive, ref_mlp

import nfmlir

TOL = {"float32": 2e-5, "float64": 1e-11}
NF_OPT = ROOT / "build" / "bin" / "nf-opt"


def gaussian_log_density(eps, log_std):
    return (-0.5 * eps**2 - log_std - 0.5 * log(2 * pi)).reshape(len(eps), -1).sum(1)


def slice_flow(dtype, rng):
    """Slice 5 -> 2 (decoder), per-feature affine, permutation, MAF, diagonal normal."""
    decoder = nfmlir.MLP.random([2, 8, 6], "tanh", rng, 0.5)
    made = nfmlir.MADE.random(2, [16], 2, 0, "tanh", rng, 0.5)
    layers = [nfmlir.Slice(2, decoder), nfmlir.Affine([1.5, -0.7], [0.2, 0.1]), nfmlir.Permute([1, 0]),
              nfmlir.MaskedAffineAutoregressive(made)]
    base = nfmlir.DiagNormal([0.3, -0.2], [0.1, -0.4])
    return nfmlir.Model(layers, base, dtype=dtype, name=f"slice_{dtype}", event_shape=(5,))


def ref_slice_flow(model, x):
    slice_, affine, permute, maf = model.layers
    z, dropped = x[:, :2], x[:, 2:]
    h = ref_mlp(slice_.decoder, z)
    v = gaussian_log_density((dropped - h[:, :3]) * np.exp(-h[:, 3:]), h[:, 3:])
    z = affine.scale * z + affine.shift
    v = v + np.log(np.abs(affine.scale)).sum()
    z = z[:, permute.permutation]
    z, lad = ref_autoregressive(maf, z)
    v = v + lad.sum(1)
    base = model.base
    return z, v + gaussian_log_density((z - base.mean) * np.exp(-base.log_std),
                                       np.broadcast_to(base.log_std, z.shape))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layers_after_a_slice(dtype, compile_model):
    rng = np.random.default_rng(17)
    model = slice_flow(dtype, rng)
    lib = compile_model(model)
    assert (lib.dim, lib.latent_dim) == (5, 2)
    x = rng.normal(size=(200, 5)).astype(dtype)
    z_ref, logp_ref = ref_slice_flow(model, x.astype(np.float64))
    z, _ = lib.forward(x)
    np.testing.assert_allclose(z, z_ref, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(lib.log_prob(x), logp_ref, rtol=TOL[dtype], atol=TOL[dtype])
    # The right inverse: forward(inverse(z)) = z.
    back = lib.inverse(z, seed=3)
    np.testing.assert_allclose(lib.forward(back)[0], z, rtol=10 * TOL[dtype], atol=10 * TOL[dtype])


def ref_max_pool(x):
    n, c, h, w = x.shape
    windows = np.stack([x[:, :, a::2, b::2] for a in (0, 1) for b in (0, 1)], 2)
    z = windows.max(2)
    k = windows.argmax(2)
    others = np.stack([np.where(m < k, windows[:, :, m], windows[:, :, m + 1]) for m in range(3)], 2)
    gaps = (z[:, :, None] - others).reshape(n, -1)
    v = (log(2) - 0.5 * log(2 * pi) - 0.5 * gaps**2).sum(1) - z[0].size * log(4)
    return z, v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shaped_base", [True, False])
def test_image_flow_with_a_diagonal_normal_on_the_pooled_latent(dtype, shaped_base, compile_model):
    rng = np.random.default_rng(18)
    c, h, w = 2, 4, 6
    scale, shift = np.array([1.3, 0.6]), np.array([-0.1, 0.4])
    mean = rng.normal(size=(c, h // 2, w // 2)) * 0.3
    log_std = rng.normal(size=(c, h // 2, w // 2)) * 0.2
    base = nfmlir.DiagNormal(mean, log_std) if shaped_base else nfmlir.DiagNormal(mean.ravel(), log_std.ravel())
    model = nfmlir.Model([nfmlir.MaxPool2d(), nfmlir.ActNorm(scale, shift)], base, dtype=dtype,
                         name=f"pool_{dtype}_{int(shaped_base)}", event_shape=(c, h, w))
    lib = compile_model(model)
    x = rng.normal(size=(100, c * h * w)).astype(dtype)
    pooled, v = ref_max_pool(x.astype(np.float64).reshape(-1, c, h, w))
    z = pooled * scale[None, :, None, None] + shift[None, :, None, None]
    v = v + np.log(scale).sum() * (h // 2) * (w // 2)
    logp = v + gaussian_log_density((z - mean) * np.exp(-log_std), np.broadcast_to(log_std, z.shape))
    np.testing.assert_allclose(lib.forward(x)[0], z.reshape(len(x), -1), rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(lib.log_prob(x), logp, rtol=TOL[dtype], atol=TOL[dtype])
    latent = lib.sample(50, seed=1)
    np.testing.assert_allclose(lib.forward(latent)[0], lib.forward(latent)[0])
    zs = lib.forward(x)[0]
    np.testing.assert_allclose(lib.forward(lib.inverse(zs, seed=4))[0], zs, rtol=10 * TOL[dtype],
                               atol=10 * TOL[dtype])


def test_base_parameters_must_fit_the_latent():
    model = nfmlir.Model([nfmlir.Slice(2)], nfmlir.DiagNormal(np.zeros(3), np.zeros(3)), event_shape=(5,))
    with pytest.raises(ValueError, match=r"DiagNormal: mean must have the event shape \(2,\) or 2 entries"):
        model.to_mlir()
    with pytest.raises(ValueError, match=r"Affine: scale must be a scalar or have 2 entries"):
        nfmlir.Model([nfmlir.Slice(2), nfmlir.Affine(np.ones(5), 0.0)], nfmlir.StandardNormal(2),
                     event_shape=(5,)).to_mlir()


def test_two_models_compiled_into_one_directory(tmp_path):
    """Each compile loads the library it wrote, also under the same name."""
    libs = []
    for scale in (2.0, 0.5):
        model = nfmlir.Model([nfmlir.Affine(scale, 0.0)], nfmlir.StandardNormal(2), name="same")
        libs.append(model.compile(out_dir=tmp_path))
    x = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(libs[0].forward(x)[0], 2 * x)
    np.testing.assert_allclose(libs[1].forward(x)[0], 0.5 * x)
    # The first library still answers with its own numbers.
    np.testing.assert_allclose(libs[0].forward(x)[0], 2 * x)
    # And a different model under another name in the same directory.
    other = nfmlir.Model([nfmlir.Reverse()], nfmlir.StandardNormal(2), name="other").compile(out_dir=tmp_path)
    np.testing.assert_allclose(other.forward(np.array([[1.0, 2.0]], np.float32))[0], [[2.0, 1.0]])


# -- every layer after every dimension-changing layer ------------------------


def flat_layers(d, rng):
    """One of each builder layer for flat data of d features (d >= 2)."""
    mlp = nfmlir.MLP.random
    k = 4  # spline bins
    lower = np.tril(rng.normal(size=(d, d)) * 0.2, -1)
    upper = np.triu(rng.normal(size=(d, d)) * 0.2, 1)
    layers = {
        "affine": nfmlir.Affine(rng.uniform(0.5, 2, d), rng.normal(size=d)),
        "reverse": nfmlir.Reverse(),
        "permute": nfmlir.Permute(list(rng.permutation(d))),
        "actnorm": nfmlir.ActNorm(rng.uniform(0.5, 2, d), rng.normal(size=d)),
        "linear": nfmlir.Linear(np.eye(d) + 0.1 * rng.normal(size=(d, d)), rng.normal(size=d)),
        "lu_linear": nfmlir.LULinear(lower, upper, rng.uniform(0.5, 2, d), rng.normal(size=d)),
        "radial": nfmlir.Radial(rng.normal(size=d), 1.0, 0.5),
        "planar": nfmlir.Planar.reparameterized(rng.normal(size=d), rng.normal(size=d), 0.1),
        "batch_norm": nfmlir.BatchNorm(rng.normal(size=d), rng.uniform(0.5, 2, d), rng.normal(size=d) * 0.1,
                                       rng.normal(size=d)),
        "rq_spline": nfmlir.RQSpline(rng.normal(size=(d, k)), rng.normal(size=(d, k)), rng.normal(size=(d, k - 1))),
        "sigmoid": nfmlir.Sigmoid(), "logit": nfmlir.Logit(0.05), "tanh": nfmlir.Tanh(),
        "softplus": nfmlir.Softplus(), "leaky_relu": nfmlir.LeakyReLU(0.1), "exp": nfmlir.Exp(),
        "log": nfmlir.Log(),
        "elementwise": nfmlir.Elementwise("%c = arith.constant 2.0 : {T}\n%r = arith.mulf %v, %c : {T}", "%r"),
        "iresnet": nfmlir.IResNet(nfmlir.IResNet.contractive([d, 8, d], "tanh", 0.5, rng)),
        "affine_coupling": nfmlir.AffineCoupling([0], mlp([1, 8, 2 * (d - 1)], "tanh", rng, 0.5)),
        "additive_coupling": nfmlir.AdditiveCoupling([0], mlp([1, 8, d - 1], "tanh", rng, 0.5)),
        "spline_coupling": nfmlir.SplineCoupling([0], mlp([1, 8, (3 * k - 1) * (d - 1)], "tanh", rng, 0.5), bins=k),
        "maf": nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(d, [8], 2, 0, "tanh", rng, 0.5)),
        "iaf": nfmlir.MaskedAffineAutoregressive(nfmlir.MADE.random(d, [8], 2, 0, "tanh", rng, 0.5), inverted=True),
        "spline_ar": nfmlir.MaskedSplineAutoregressive(nfmlir.MADE.random(d, [8], 3 * k - 1, 0, "tanh", rng, 0.5),
                                                       bins=k),
        "abs": nfmlir.Abs(), "sort": nfmlir.Sort(),
        "slice": nfmlir.Slice(1, mlp([1, 8, 2 * (d - 1)], "tanh", rng, 0.5)),
        "augment": nfmlir.Augment(2, mlp([d, 8, 4], "tanh", rng, 0.5)),
        "uniform_dequantize": nfmlir.UniformDequantize(4),
        "variational_dequantize": nfmlir.VariationalDequantize(4, mlp([d, 8, 2 * d], "tanh", rng, 0.5)),
        "vae": nfmlir.VAE(1, mlp([d, 8, 2], "tanh", rng, 0.5), mlp([1, 8, 2 * d], "tanh", rng, 0.5)),
        "cif": nfmlir.CIF(1, mlp([d, 8, 2], "tanh", rng, 0.5), mlp([d, 8, 2], "tanh", rng, 0.5),
                          mlp([1, 8, 2 * d], "tanh", rng, 0.5)),
        "diffusion_step": nfmlir.DiffusionStep(mlp([d + 1, 8, d], "tanh", rng, 0.5),
                                               mlp([d + 1, 8, d], "tanh", rng, 0.5), 0.0, 0.1, 0.5, 0.5),
        "random_permutation": nfmlir.RandomPermutation(),
    }
    if d == 2:
        # One energy function per model of the shared module.
        layers["langevin"] = nfmlir.Langevin(nfmlir.double_well(name="well_l"), 0.01, steps=2)
        layers["metropolis"] = nfmlir.Metropolis(nfmlir.double_well(name="well_m"), 0.2, steps=2)
    return layers


def image_layers(shape, rng):
    """One of each builder layer that takes images (C, H, W), C >= 2."""
    c = shape[0]
    conv = nfmlir.ConvNet.random
    k = 4
    lower = np.tril(rng.normal(size=(c, c)) * 0.2, -1)
    upper = np.triu(rng.normal(size=(c, c)) * 0.2, 1)
    layers = {
        "affine": nfmlir.Affine(rng.uniform(0.5, 2, shape), rng.normal(size=shape)),
        "affine_flat": nfmlir.Affine(rng.uniform(0.5, 2, int(np.prod(shape))), 0.5),
        "reverse": nfmlir.Reverse(),
        "permute": nfmlir.Permute(list(rng.permutation(c))),
        "actnorm": nfmlir.ActNorm(rng.uniform(0.5, 2, c), rng.normal(size=c)),
        "linear": nfmlir.Linear(np.eye(c) + 0.1 * rng.normal(size=(c, c)), rng.normal(size=c)),
        "lu_linear": nfmlir.LULinear(lower, upper, rng.uniform(0.5, 2, c), rng.normal(size=c)),
        "radial": nfmlir.Radial(rng.normal(size=int(np.prod(shape))), 1.0, 0.5),
        "planar": nfmlir.Planar.reparameterized(rng.normal(size=int(np.prod(shape))),
                                                rng.normal(size=int(np.prod(shape))), 0.1),
        "batch_norm": nfmlir.BatchNorm(rng.normal(size=c), rng.uniform(0.5, 2, c), rng.normal(size=c) * 0.1,
                                       rng.normal(size=c)),
        "rq_spline": nfmlir.RQSpline(rng.normal(size=(*shape, k)), rng.normal(size=(*shape, k)),
                                     rng.normal(size=(*shape, k - 1))),
        "sigmoid": nfmlir.Sigmoid(), "tanh": nfmlir.Tanh(), "exp": nfmlir.Exp(),
        "affine_coupling": nfmlir.AffineCoupling([0], conv([1, 4, 2 * (c - 1)], 3, "tanh", rng, 0.5)),
        "additive_coupling": nfmlir.AdditiveCoupling([0], conv([1, 4, c - 1], 3, "tanh", rng, 0.5)),
        "spline_coupling": nfmlir.SplineCoupling([0], conv([1, 4, (3 * k - 1) * (c - 1)], 3, "tanh", rng, 0.5),
                                                 bins=k),
        "abs": nfmlir.Abs(),
        "slice": nfmlir.Slice(1),
        "augment": nfmlir.Augment(2),
        "uniform_dequantize": nfmlir.UniformDequantize(4),
    }
    if shape[1] % 2 == 0 and shape[2] % 2 == 0:
        layers["squeeze"] = nfmlir.Squeeze()
        layers["max_pool"] = nfmlir.MaxPool2d()
    return layers


def dimension_changers(rng):
    """(name, layer, input event shape, the shape after it)."""
    mlp = nfmlir.MLP.random
    return [
        ("slice", nfmlir.Slice(3, mlp([3, 8, 4], "tanh", rng, 0.5)), (5,), (3,)),
        ("slice_to_2", nfmlir.Slice(2), (5,), (2,)),
        ("augment", nfmlir.Augment(2, mlp([3, 8, 4], "tanh", rng, 0.5)), (3,), (5,)),
        ("vae", nfmlir.VAE(3, mlp([4, 8, 6], "tanh", rng, 0.5), mlp([3, 8, 8], "tanh", rng, 0.5)), (4,), (3,)),
        ("max_pool", nfmlir.MaxPool2d(), (2, 4, 4), (2, 2, 2)),
        ("slice_channels", nfmlir.Slice(2), (4, 2, 2), (2, 2, 2)),
        ("squeeze", nfmlir.Squeeze(), (2, 4, 4), (8, 2, 2)),
    ]


def combined_module(models):
    """One module holding every model (their blobs merged)."""
    lines, blobs = [], {}
    for model in models:
        model_lines, model_blobs = model.emit_parts()
        lines += model_lines
        blobs.update(model_blobs)
    lines.append("{-#\n  dialect_resources: {\n    builtin: {")
    lines.append(",\n".join(f'      {k}: "{v}"' for k, v in blobs.items()))
    lines.append("    }\n  }\n#-}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("changer", range(7), ids=[c[0] for c in dimension_changers(np.random.default_rng(0))])
def test_every_layer_after_a_dimension_change(changer, tmp_path):
    rng = np.random.default_rng(100 + changer)
    name, first, shape, after = dimension_changers(rng)[changer]
    candidates = flat_layers(after[0], rng) if len(after) == 1 else image_layers(after, rng)
    models = []
    for layer_name, layer in candidates.items():
        # The layer sees the changed shape: the builder checks it against that.
        model = nfmlir.Model([first, layer], nfmlir.StandardNormal(1), dtype="float64",
                             name=f"{name}_{layer_name}", event_shape=shape)
        models.append(model)
    text = combined_module(models)
    verified = subprocess.run([str(NF_OPT), "-"], input=text, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr[:2000]
    path = nfmlir.compile_mlir(text, name=f"sweep_{name}", opt=0, out_dir=tmp_path)
    lib = nfmlir.load(path)
    assert set(lib.models) == {m.name for m in models}
    x = np.abs(rng.normal(size=(4, int(np.prod(shape))))) * 0.5 + 0.1  # in every layer's support
    for model in models:
        compiled = lib[model.name]
        logp = compiled.log_prob(x)
        assert logp.shape == (4,) and not np.isnan(logp).any(), model.name
        assert compiled.sample(4, seed=1).shape == (4, compiled.dim), model.name
