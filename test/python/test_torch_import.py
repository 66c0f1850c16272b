"""nfmlir.torch_flows (nflows-layout PyTorch modules) and nfmlir.from_torch:
the modules are bijections with the right log-determinants, the importer
reproduces them (against the numpy references of conftest, and compiled),
MAF and autoregressive splines with and without context, BatchNorm in eval
mode, and clear errors for what cannot be imported."""

import numpy as np
import pytest
from conftest import ref_log_prob, ref_rq_spline

import nfmlir

torch = pytest.importorskip("torch")
tf = pytest.importorskip("nfmlir.torch_flows")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def perturb(flow, seed, scale=0.3):
    """Random weights around the initialization, so that nothing is the
    identity; BatchNorm running statistics and ActNorm's data-dependent
    initialization from one training-mode batch; then eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)
        flow.train()
        dim, cdim = flow.base_dim, flow.context_dim
        context = torch.randn(256, cdim, generator=gen, dtype=torch.float64) if cdim else None
        for _ in range(3):
            flow.log_prob(torch.randn(256, dim, generator=gen, dtype=torch.float64) * 1.5 + 0.3, context)
    return flow.eval()


def data(n, dim, cdim, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)) * 1.5
    return x, (rng.normal(size=(n, cdim)) if cdim else None)


def torch_log_prob(flow, x, ctx):
    with torch.no_grad():
        return flow.log_prob(torch.from_numpy(x), None if ctx is None else torch.from_numpy(ctx)).numpy()


def every_layer_flow(dim=4, cdim=0, seed=0):
    """A float64 flow with every supported layer family (conditional when
    cdim > 0)."""
    torch.manual_seed(seed)
    c = cdim or None
    mask = torch.tensor([1, -1] * (dim // 2))
    bins = 5
    layers = [
        tf.ActNorm(dim),
        tf.AffineCouplingTransform(mask, tf.MLP(dim // 2, dim, 16, c, 2, "tanh")),
        tf.RandomPermutation(dim),
        tf.AdditiveCouplingTransform(-mask, tf.MLP(dim // 2, dim // 2, 8, c, 1, "elu")),
        tf.LULinear(dim, identity_init=False),
        tf.PiecewiseRationalQuadraticCouplingTransform(mask, tf.MLP(dim // 2, dim // 2 * (3 * bins - 1), 16, c),
                                                       num_bins=bins, tail_bound=3.0),
        tf.BatchNorm(dim),
        tf.ReversePermutation(dim),
        tf.MaskedAffineAutoregressiveTransform(dim, 12, c, num_blocks=2),
        tf.CompositeTransform([
            tf.AffineCouplingTransform(-mask, tf.MLP(dim // 2, dim, 8, c, 1, "leaky_relu"), scale_fn="softplus"),
            tf.MaskedPiecewiseRationalQuadraticAutoregressiveTransform(dim, 12, c, num_bins=4, tail_bound=3.0,
                                                                       activation="tanh"),
        ]),
    ]
    return perturb(tf.Flow(layers, dim, cdim).double(), seed)


# -- the PyTorch modules on their own ------------------------------------------------------


def test_torch_spline_matches_the_numpy_reference():
    """unconstrained_rational_quadratic_spline against conftest's
    ref_rq_spline (written independently from LAYERS.md 2.12), in the tails
    too, forward and inverse."""
    gen = torch.Generator().manual_seed(3)
    n, k, bound = 3000, 7, 2.5
    x = torch.rand(n, generator=gen, dtype=torch.float64) * 7 - 3.5
    w, h = (torch.randn(n, k, generator=gen, dtype=torch.float64) * 2 for _ in range(2))
    d = torch.randn(n, k - 1, generator=gen, dtype=torch.float64) * 2
    y, lad = tf.unconstrained_rational_quadratic_spline(x, w, h, d, tail_bound=bound)
    y_ref, lad_ref = ref_rq_spline(x.numpy(), w.numpy(), h.numpy(), d.numpy(), bound)
    assert np.abs(y.numpy() - y_ref).max() <= 1e-12
    assert np.abs(lad.numpy() - lad_ref).max() <= 1e-10
    back, lad_inv = tf.unconstrained_rational_quadratic_spline(y, w, h, d, inverse=True, tail_bound=bound)
    back_ref, _ = ref_rq_spline(y_ref, w.numpy(), h.numpy(), d.numpy(), bound, inverse=True)
    assert np.abs(back.numpy() - back_ref).max() <= 1e-9
    assert np.abs(back.numpy() - x.numpy()).max() <= 1e-9
    assert np.abs(lad_inv.numpy() + lad.numpy()).max() <= 1e-8
    outside = x.abs() > bound
    assert torch.equal(y[outside], x[outside]) and torch.all(lad[outside] == 0)


@pytest.mark.parametrize("cdim", [0, 2])
def test_torch_modules_are_bijections(cdim):
    """Each transform: inverse(forward(x)) = x, the inverse's logabsdet is
    minus the forward one, and the forward one is log|det| of the autograd
    Jacobian."""
    flow = every_layer_flow(dim=4, cdim=cdim, seed=1)
    x, ctx = data(6, 4, cdim, seed=2)
    x = torch.from_numpy(x)
    ctx = None if ctx is None else torch.from_numpy(ctx)
    for transform in flow._transform._transforms:
        with torch.no_grad():
            z, lad = transform(x, ctx)
            back, lad_inv = transform.inverse(z, ctx)
        assert torch.allclose(back, x, atol=1e-10), type(transform).__name__
        assert torch.allclose(lad_inv, -lad, atol=1e-10), type(transform).__name__
        for i in range(len(x)):
            c = None if ctx is None else ctx[i:i + 1]
            jac = torch.autograd.functional.jacobian(lambda v: transform(v[None], c)[0][0], x[i])
            assert abs(torch.linalg.slogdet(jac)[1] - lad[i]) <= 1e-9, type(transform).__name__
        x = z


def test_flow_api_shapes():
    flow = every_layer_flow(dim=4, cdim=2, seed=3)
    ctx = torch.randn(3, 2, dtype=torch.float64)
    with torch.no_grad():
        assert flow.sample(5, ctx).shape == (3, 5, 4)
        x = torch.randn(7, 4, dtype=torch.float64)
        assert flow.transform_to_noise(x, ctx.repeat(3, 1)[:7]).shape == (7, 4)
    with pytest.raises(ValueError, match=r"context of shape \(batch, 2\)"):
        flow.log_prob(x)
    plain = perturb(tf.Flow([tf.LULinear(3)], 3).double(), 0)
    with torch.no_grad():
        samples, logp = plain.sample_and_log_prob(10)
        assert torch.allclose(plain.log_prob(samples), logp)


# -- the importer ------------------------------------------------------------------------


@pytest.mark.parametrize("cdim", [0, 2])
def test_import_matches_torch_in_the_numpy_reference(cdim):
    """The imported model, evaluated by conftest's numpy reference (no
    compiler involved), reproduces the PyTorch flow in float64."""
    flow = every_layer_flow(dim=4, cdim=cdim, seed=4)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert model.context_dim == cdim and model.dim == 4
    x, ctx = data(400, 4, cdim, seed=5)
    assert np.abs(ref_log_prob(model, x, ctx) - torch_log_prob(flow, x, ctx)).max() <= 1e-10


def test_every_layer_flow_compiled(compile_model):
    """The flow with every layer family, conditional, compiled: float64
    log_prob, normalizing map and inverse equal PyTorch's."""
    flow = every_layer_flow(dim=4, cdim=2, seed=6)
    lib = compile_model(nfmlir.from_torch(flow, dtype="float64", name="every"))
    x, ctx = data(500, 4, 2, seed=7)
    expected = torch_log_prob(flow, x, ctx)
    assert np.abs(lib.log_prob(x, ctx) - expected).max() <= 1e-10 * np.abs(expected).max()
    with torch.no_grad():
        z, lad = flow._transform(torch.from_numpy(x), torch.from_numpy(ctx))
    got_z, got_lad = lib.forward(x, ctx)
    assert np.abs(got_z - z.numpy()).max() <= 1e-10 and np.abs(got_lad - lad.numpy()).max() <= 1e-10
    assert np.abs(lib.inverse(z.numpy(), ctx) - x).max() <= 1e-9


class SequentialNet(torch.nn.Module):
    """A conditioner in the documented layout (`net`, an nn.Sequential)
    without a `hidden_features` attribute."""

    def __init__(self, *modules):
        super().__init__()
        self.net = torch.nn.Sequential(*modules)

    def forward(self, inputs, context=None):
        return self.net(inputs)


def test_spline_scaling_by_sqrt_hidden_features_is_folded():
    """Spline couplings divide raw widths and heights by
    sqrt(net.hidden_features) when the net has that attribute (nflows): the
    importer folds it into the last layer; a net without the attribute is
    imported unscaled."""
    nets = {1 / 3: tf.MLP(1, 2 * 11, 9, num_blocks=1),
            1.0: SequentialNet(torch.nn.Linear(1, 9), torch.nn.Tanh(), torch.nn.Linear(9, 2 * 11))}
    x, _ = data(300, 3, 0, seed=9)
    for factor, net in nets.items():
        layer = tf.PiecewiseRationalQuadraticCouplingTransform([1, 0, 1], net, num_bins=4, tail_bound=2.0)
        flow = perturb(tf.Flow([layer], 3).double(), 8, scale=1.0)
        model = nfmlir.from_torch(flow, dtype="float64")
        columns = np.tile(np.r_[np.full(8, factor), np.ones(3)], 2)  # per feature: 4 widths, 4 heights, 3 derivatives
        expected = net.net[-1].weight.detach().numpy().T * columns
        assert np.allclose(model.layers[0].conditioner.layers[-1][0], expected, rtol=1e-15, atol=0)
        assert np.abs(ref_log_prob(model, x) - torch_log_prob(flow, x, None)).max() <= 1e-10


@pytest.mark.parametrize("kind, cdim", [("affine", 0), ("affine", 3), ("spline", 0), ("spline", 3)])
def test_autoregressive_import(kind, cdim, compile_model):
    """MAF (MADE, output multiplier 2, interleaved [scale, shift]) and the
    masked rational-quadratic autoregressive transform, random weights, with
    and without context, compiled in float64 (and float32 with a context):
    log_prob as PyTorch, and the D-pass inverse as PyTorch's."""
    dim = 5
    torch.manual_seed(10)
    c = cdim or None
    if kind == "affine":
        layers = [tf.MaskedAffineAutoregressiveTransform(dim, 24, c, num_blocks=2), tf.ReversePermutation(dim),
                  tf.MaskedAffineAutoregressiveTransform(dim, 16, c, num_blocks=1, activation="elu")]
    else:
        layers = [tf.MaskedPiecewiseRationalQuadraticAutoregressiveTransform(dim, 24, c, num_bins=6, tail_bound=3.0),
                  tf.RandomPermutation(dim),
                  tf.MaskedPiecewiseRationalQuadraticAutoregressiveTransform(dim, 16, c, num_bins=3, tail_bound=2.0,
                                                                             num_blocks=1, activation="tanh")]
    flow = perturb(tf.Flow(layers, dim, cdim).double(), 11)
    model = nfmlir.from_torch(flow, dtype="float64", name=f"ar_{kind}")
    assert all(isinstance(layer.conditioner, nfmlir.MLP) for layer in model.layers[::2])
    x, ctx = data(400, dim, cdim, seed=12)
    expected = torch_log_prob(flow, x, ctx)
    lib = compile_model(model)
    assert np.abs(lib.log_prob(x, ctx) - expected).max() <= 1e-10 * np.abs(expected).max()
    z = np.random.default_rng(13).normal(size=(50, dim))
    with torch.no_grad():
        back = flow._transform.inverse(torch.from_numpy(z), None if ctx is None else torch.from_numpy(ctx[:50]))[0]
    assert np.abs(lib.inverse(z, None if ctx is None else ctx[:50]) - back.numpy()).max() <= 1e-9
    if not cdim:
        return
    model.dtype, model.name = "float32", f"ar_{kind}32"
    lib32 = compile_model(model)
    f32 = lambda a: None if a is None else a.astype(np.float32)  # noqa: E731
    got = lib32.log_prob(f32(x), f32(ctx))
    expected = torch_log_prob(flow, f32(x).astype(np.float64), None if ctx is None else f32(ctx).astype(np.float64))
    assert np.max(np.abs(got - expected) / np.abs(expected)) <= 1e-5


def test_batch_norm_is_imported_in_eval_mode(compile_model):
    """BatchNorm with running statistics from training-mode passes: the
    import uses running mean/variance and log(softplus(theta) + eps); in
    training mode the importer refuses."""
    torch.manual_seed(14)
    layers = [tf.BatchNorm(3), tf.AffineCouplingTransform([1, -1, 1], tf.MLP(1, 4, 8)), tf.BatchNorm(3, eps=1e-3)]
    flow = tf.Flow(layers, 3).double()
    optimizer = torch.optim.SGD(flow.parameters(), lr=0.05)
    rng = np.random.default_rng(15)
    for _ in range(20):  # a few training steps move weights and running statistics
        batch = torch.from_numpy(rng.normal(size=(128, 3)) * [2.0, 0.5, 1.0] + [1.0, -2.0, 0.0])
        loss = -flow.log_prob(batch).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"BatchNorm at position 0: in training mode.*eval"):
        nfmlir.from_torch(flow)
    flow.eval()
    model = nfmlir.from_torch(flow, dtype="float64", name="bn")
    bn = model.layers[0]
    assert isinstance(bn, nfmlir.BatchNorm) and np.array_equal(bn.mean, flow._transform._transforms[0].running_mean)
    x = rng.normal(size=(300, 3)) * [2.0, 0.5, 1.0] + [1.0, -2.0, 0.0]
    lib = compile_model(model)
    assert np.abs(lib.log_prob(x) - torch_log_prob(flow, x, None)).max() <= 1e-10


# -- errors ------------------------------------------------------------------------------


class Softsign(tf.Transform):
    """A layer nfmlir does not import."""

    def forward(self, inputs, context=None):
        return inputs / (1 + inputs.abs()), -2 * torch.log1p(inputs.abs()).sum(1)


class NflowsStyleMADE(tf.MADE):
    """nflows' MADE: the context goes through the activation."""

    context_activation = True


def test_unsupported_layers_are_named_with_their_position():
    lu = tf.LULinear(2)
    nested = tf.Flow([lu, tf.CompositeTransform([tf.ReversePermutation(2), Softsign()])], 2)
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"unsupported layer Softsign at position 1\.1"):
        nfmlir.from_torch(nested)
    assert issubclass(nfmlir.UnsupportedLayerError, TypeError)

    softplus_net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Softplus(), torch.nn.Linear(8, 2))
    flow = tf.Flow([lu, tf.AffineCouplingTransform([1, 0], softplus_net)], 2)
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"Softplus at position 1.*\[1\]"):
        nfmlir.from_torch(flow)

    class ResidualNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.initial_layer = torch.nn.Linear(1, 8)
            self.final_layer = torch.nn.Linear(8, 2)
            self.out_features = 2

        def forward(self, inputs, context=None):
            return self.final_layer(torch.relu(self.initial_layer(inputs)))

    flow = tf.Flow([tf.AffineCouplingTransform([0, 1], ResidualNet())], 2)
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"ResidualNet at position 0.*ResidualNet is not supported"):
        nfmlir.from_torch(flow)

    coupling = tf.AffineCouplingTransform([0, 1], tf.MLP(1, 2, 4))
    del coupling.scale_fn
    coupling.scale_activation = lambda h: (torch.nn.functional.softplus(h) + 1e-3).clamp(0, 3)  # nflows' "general"
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"AffineCouplingTransform at position 0.*clamped"):
        nfmlir.from_torch(tf.Flow([coupling], 2))
    coupling.scale_activation = lambda h: torch.sigmoid(h + 2) + 1e-3  # nflows' default, found by probing
    assert nfmlir.from_torch(tf.Flow([coupling], 2)).layers[0].scale_fn == "sigmoid"

    maf = tf.MaskedAffineAutoregressiveTransform(3, 8, context_features=2)
    old = maf.autoregressive_net
    maf.autoregressive_net = NflowsStyleMADE(3, 8, 2, output_multiplier=2)
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"NflowsStyleMADE at position 0.*act\(context_layer"):
        nfmlir.from_torch(tf.Flow([maf], 3, context_dim=2))
    maf.autoregressive_net = old
    old.use_residual_blocks = True
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"MADE at position 0.*residual"):
        nfmlir.from_torch(tf.Flow([maf], 3, context_dim=2))
    with pytest.raises(ValueError, match="residual blocks"):
        tf.MADE(3, 8, use_residual_blocks=True)

    class DiagonalNormal(torch.nn.Module):
        _shape = [2]

    flow = tf.Flow([lu], 2)
    flow._distribution = DiagonalNormal()
    with pytest.raises(nfmlir.UnsupportedLayerError, match="base distribution DiagonalNormal"):
        nfmlir.from_torch(flow)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nfmlir.from_torch(nfmlir.Model([], nfmlir.StandardNormal(2)))


def test_wrong_inputs_to_an_imported_conditional_model(compile_model):
    """Mistakes made right after importing: torch tensors instead of numpy,
    float64 data for a float32 model, a missing, narrow or short context."""
    torch.manual_seed(16)
    flow = tf.Flow([tf.AffineCouplingTransform([1, 0], tf.MLP(1, 2, 8, context_features=3))], 2, context_dim=3)
    lib = compile_model(nfmlir.from_torch(flow, name="cond"))
    x, ctx = np.zeros((4, 2), np.float32), np.zeros((4, 3), np.float32)
    assert lib.context_dim == 3 and lib.log_prob(x, ctx).shape == (4,)
    with pytest.raises(TypeError, match="numpy array of float32, not Tensor"):
        lib.log_prob(torch.zeros(4, 2), ctx)
    with pytest.raises(TypeError, match="dtype float32"):
        lib.log_prob(x, ctx.astype(np.float64))
    with pytest.raises(ValueError, match="needs a context"):
        lib.sample(4)
    with pytest.raises(ValueError, match=r"context must have shape \(n, 3\)"):
        lib.log_prob(x, ctx[:, :2])
    with pytest.raises(ValueError, match="context has 3 rows, but the batch has 4"):
        lib.log_prob(x, ctx[:3])
    with pytest.raises(nfmlir.UnsupportedLayerError, match="takes 4 inputs, but the layer gives it 1 features and 0"):
        nfmlir.from_torch(tf.Flow([tf.AffineCouplingTransform([1, 0], tf.MLP(1, 2, 8, context_features=3))], 2))


def test_importing_does_not_need_torch_for_the_package():
    """import nfmlir stays numpy-only: torch is imported by torch_flows and
    by from_torch, not by the package."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    # The nfmlir the tests import (python/, through pytest's pythonpath).
    package_root = str(Path(nfmlir.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": package_root}
    code = "import sys; import nfmlir; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
