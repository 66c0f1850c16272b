"""Flows built with nflows' API (v0.14) import with nfmlir.from_torch: the
torch_flows look-alikes of nflows' ResidualNet, residual and conditional
MADE, SimpleRealNVP, MaskedAutoregressiveFlow and ConditionalDiagonalNormal,
with the attribute layout of nflows' modules, random non-trivial weights,
float64. The compiled log_prob equals PyTorch's to 1e-10 (absolute) on 200
points, sampling and inversion round-trip, and what cannot be imported is an
UnsupportedLayerError naming the module and what is missing."""

import numpy as np
import pytest

import nfmlir
from import_checks import check_against, check_nudged, data

torch = pytest.importorskip("torch")
tf = pytest.importorskip("nfmlir.torch_flows")
F = torch.nn.functional



pytestmark = pytest.mark.usefixtures("torch_one_thread")


def perturb(flow, seed, scale=0.1, context_dim=0):
    """Random weights around the initialization (nflows starts residual
    branches near zero: these make every branch count), batch-norm running
    statistics from a few training-mode passes, then eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)
        flow.train()
        dim = flow._distribution._shape[0]
        for _ in range(3):
            x = torch.randn(256, dim, generator=gen, dtype=torch.float64) * 1.5 + 0.3
            c = torch.randn(256, context_dim, generator=gen, dtype=torch.float64) if context_dim else None
            flow.log_prob(x, c)
    return flow.eval()


def tensor(a):
    return None if a is None else torch.from_numpy(a)


def torch_log_prob(flow, x, c):
    with torch.no_grad():
        return flow.log_prob(tensor(x), tensor(c)).numpy()


def check_flow(flow, compile_model, name, context_dim=0, seed=0, inverse=True):
    """log_prob as PyTorch's to 1e-10; the normalizing map inverts; the
    compiled samples' log-probabilities are PyTorch's at those samples.
    Returns the compiled model."""
    lib = compile_model(nfmlir.from_torch(flow, dtype="float64", name=name))
    x, c = data(flow._distribution._shape[0], context_dim, seed)
    return check_against(lib, flow, torch_log_prob, x, c, inverse)


def check_sensitive(flow, lib, weight, context_dim=0, seed=0):
    """After nudging one weight of the PyTorch flow, the compiled model (of
    the old weights) no longer matches: the comparison sees that part."""
    x, c = data(flow._distribution._shape[0], context_dim, seed)
    check_nudged(lib, flow, torch_log_prob, x, c, weight)


# -- ResidualNet conditioners ------------------------------------------------------------


@pytest.mark.parametrize("volume_preserving, bn_within, bn_between", [
    (False, False, False), (False, True, True), (True, False, True)])
def test_simple_real_nvp(volume_preserving, bn_within, bn_between, compile_model):
    """nflows.flows.SimpleRealNVP: alternating masks, ResidualNet
    conditioners from transform_net_create_fn, batch norm within the nets
    and between the layers (eval mode)."""
    torch.manual_seed(0)
    flow = tf.SimpleRealNVP(5, 12, num_layers=4, num_blocks_per_layer=2, use_volume_preserving=volume_preserving,
                            batch_norm_within_layers=bn_within, batch_norm_between_layers=bn_between)
    flow = perturb(flow.double(), 1)
    couplings = [t for t in flow._transform._transforms if hasattr(t, "transform_net")]
    assert [t.identity_features.tolist() for t in couplings[:2]] == [[0, 2, 4], [1, 3]]
    lib = check_flow(flow, compile_model, f"rnvp{int(volume_preserving)}{int(bn_within)}{int(bn_between)}")
    net = couplings[1].transform_net
    check_sensitive(flow, lib, net.blocks[1].linear_layers[1].weight)
    if bn_within:
        check_sensitive(flow, lib, net.blocks[0].batch_norm_layers[1].running_mean)


@pytest.mark.parametrize("activation", [torch.tanh, F.elu, F.leaky_relu, torch.sigmoid, torch.nn.ReLU()])
def test_residual_net_activations(activation, compile_model):
    """Every activation nfmlir has, given as nflows does (a function) or as a
    module."""
    torch.manual_seed(2)
    flow = tf.SimpleRealNVP(4, 10, num_layers=2, num_blocks_per_layer=2, activation=activation,
                            batch_norm_within_layers=True)
    check_flow(perturb(flow.double(), 3), compile_model, "act", inverse=False)


def test_residual_net_conditional_couplings(compile_model):
    """ResidualNet with a context (concatenated to the initial layer's
    inputs, GLU gates in the blocks) in affine, additive and rational-quadratic
    couplings; the spline divides widths and heights by sqrt(hidden_features),
    folded into the final layer."""
    torch.manual_seed(4)
    dim, cdim, bins = 5, 3, 6

    def resnet(hidden, num_blocks=2, use_batch_norm=False):
        return lambda i, o: tf.ResidualNet(i, o, hidden, context_features=cdim, num_blocks=num_blocks,
                                           use_batch_norm=use_batch_norm)

    mask = torch.tensor([1, -1, 1, -1, 1])
    layers = [
        tf.AffineCouplingTransform(mask, resnet(16)),
        tf.RandomPermutation(dim),
        tf.AdditiveCouplingTransform(-mask, resnet(8, 1)),
        tf.PiecewiseRationalQuadraticCouplingTransform(mask, resnet(12, use_batch_norm=True), num_bins=bins,
                                                       tail_bound=3.0),
        tf.ReversePermutation(dim),
        tf.AffineCouplingTransform(mask, resnet(10, 3), scale_fn="softplus"),
    ]
    flow = perturb(tf.Flow(layers, dim, cdim).double(), 5, context_dim=cdim)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert all(isinstance(model.layers[k].conditioner, nfmlir.builder.ResidualNet) for k in (0, 2, 5))
    lib = check_flow(flow, compile_model, "rescond", cdim)
    check_sensitive(flow, lib, layers[0].transform_net.blocks[0].context_layer.weight, cdim)
    check_sensitive(flow, lib, layers[3].transform_net.final_layer.bias, cdim)


def test_imported_conditioners_have_numpy_references():
    """The imported ResidualNet and ResidualMADE evaluate in numpy (their
    __call__, on [inputs, context]) as the PyTorch nets do."""
    torch.manual_seed(6)
    net = tf.ResidualNet(3, 4, 9, context_features=2, num_blocks=2, use_batch_norm=True)
    made = tf.ResidualMADE(4, 11, context_features=2, num_blocks=2, output_multiplier=5, use_batch_norm=True)
    spline = tf.MaskedPiecewiseRationalQuadraticAutoregressiveTransform(4, 11, 2, num_bins=2)
    spline.autoregressive_net = made
    cases = [(net, tf.AffineCouplingTransform([-1, -1, -1, 1, 1], net), 3, 5), (made, spline, 4, 4)]
    gen = torch.Generator().manual_seed(7)
    for module, layer, inputs, dim in cases:
        module.double()
        with torch.no_grad():
            for p in module.parameters():
                p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
            for norm in module.modules():
                if isinstance(norm, torch.nn.BatchNorm1d):
                    norm.running_mean.normal_(0, 0.3, generator=gen)
                    norm.running_var.uniform_(0.5, 2.0, generator=gen)
        imported = nfmlir.from_torch(tf.Flow([layer], dim, 2).eval(), dtype="float64").layers[0].conditioner
        x = torch.randn(50, inputs, generator=gen, dtype=torch.float64)
        c = torch.randn(50, 2, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            expected = module(x, c).numpy()
        assert np.abs(imported(np.hstack([x.numpy(), c.numpy()])) - expected).max() <= 1e-12


# -- MADE: residual and conditional ------------------------------------------------------


@pytest.mark.parametrize("residual, bn_within, bn_between, random_permutations", [
    (True, False, False, False), (True, True, True, True), (False, True, False, True)])
def test_masked_autoregressive_flow(residual, bn_within, bn_between, random_permutations, compile_model):
    """nflows.flows.MaskedAutoregressiveFlow: permutations, MAF layers with
    residual MADEs (nflows' default) or feedforward ones, batch norms."""
    torch.manual_seed(9)
    flow = tf.MaskedAutoregressiveFlow(4, 16, num_layers=3, num_blocks_per_layer=2, use_residual_blocks=residual,
                                       use_random_permutations=random_permutations,
                                       batch_norm_within_layers=bn_within, batch_norm_between_layers=bn_between)
    flow = perturb(flow.double(), 10)
    kind = nfmlir.builder.ResidualMADE if residual else nfmlir.MLP  # feedforward: batch norms folded into an MLP
    model = nfmlir.from_torch(flow, dtype="float64")
    assert all(isinstance(layer.conditioner, kind) for layer in model.layers if hasattr(layer, "conditioner"))
    lib = check_flow(flow, compile_model, f"maf{int(residual)}{int(bn_within)}{int(bn_between)}")
    made = flow._transform._transforms[1].autoregressive_net
    check_sensitive(flow, lib, made.blocks[-1].linear_layers[1].weight if residual else made.blocks[-1].linear.bias)


@pytest.mark.parametrize("residual", [True, False])
def test_conditional_made(residual, compile_model):
    """nflows' conditional MADE, residual (context added in every block as
    well) and feedforward: act(context_layer(context)) added to the initial
    layer; in MAF and in the rational-quadratic autoregressive transform."""
    torch.manual_seed(11)
    dim, cdim, bins = 4, 3, 5
    maf = tf.MaskedAffineAutoregressiveTransform(dim, 14, cdim, use_residual_blocks=True)
    spline = tf.MaskedPiecewiseRationalQuadraticAutoregressiveTransform(dim, 12, cdim, num_bins=bins,
                                                                        tail_bound=3.0, use_residual_blocks=True)
    for layer, multiplier, hidden in ((maf, 2, 14), (spline, 3 * bins - 1, 12)):
        layer.autoregressive_net = tf.ResidualMADE(dim, hidden, cdim, num_blocks=2, output_multiplier=multiplier,
                                                   use_residual_blocks=residual, activation=F.elu,
                                                   use_batch_norm=True)
    flow = perturb(tf.Flow([maf, tf.ReversePermutation(dim), spline], dim, cdim).double(), 12, context_dim=cdim)
    assert isinstance(nfmlir.from_torch(flow).layers[0].conditioner, nfmlir.builder.ResidualMADE)
    lib = check_flow(flow, compile_model, f"cmade{int(residual)}", cdim)
    check_sensitive(flow, lib, maf.autoregressive_net.context_layer.weight, cdim)
    if residual:
        check_sensitive(flow, lib, spline.autoregressive_net.blocks[1].context_layer.bias, cdim)


def test_conditional_made_with_random_masks(compile_model):
    """nflows' random masks (feedforward MADE, random hidden degrees in
    [min in-degree, D)) with a context: the importer keeps the module's
    masks."""
    torch.manual_seed(22)
    dim, cdim = 4, 2
    maf = tf.MaskedAffineAutoregressiveTransform(dim, 12, cdim)
    made = maf.autoregressive_net = tf.ResidualMADE(dim, 12, cdim, num_blocks=2, output_multiplier=2,
                                                    use_residual_blocks=False)
    gen = torch.Generator().manual_seed(23)
    degrees = torch.arange(1, dim + 1)
    with torch.no_grad():
        for linear in [made.initial_layer, *(block.linear for block in made.blocks)]:
            out = torch.randint(int(degrees.min()), dim, (linear.out_features,), generator=gen)
            linear.mask.copy_(out[:, None] >= degrees[None, :])
            degrees = out
        made.final_layer.mask.copy_(torch.arange(1, dim + 1).repeat_interleave(2)[:, None] > degrees[None, :])
    flow = perturb(tf.Flow([maf], dim, cdim).double(), 24, context_dim=cdim)
    check_flow(flow, compile_model, "randmask", cdim)


def test_readme_maf_with_residual_blocks(compile_model):
    """nflows' README flow: MaskedAffineAutoregressiveTransform(features,
    hidden_features, use_residual_blocks=True) with ReversePermutation."""
    torch.manual_seed(13)
    layers = []
    for _ in range(3):
        layers += [tf.ReversePermutation(3), tf.MaskedAffineAutoregressiveTransform(3, 8, use_residual_blocks=True)]
    check_flow(perturb(tf.Flow(tf.CompositeTransform(layers), 3).double(), 14), compile_model, "readme")


# -- the other layers, nested composites ---------------------------------------------------


def test_nflows_layers_in_nested_composites(compile_model):
    """LULinear, ActNorm, BatchNorm (eval), random and reverse permutations
    and both linear-tail spline families inside nested composites."""
    torch.manual_seed(16)
    dim, bins = 4, 4
    resnet = lambda i, o: tf.ResidualNet(i, o, 10, num_blocks=2)  # noqa: E731
    inner = tf.CompositeTransform([
        tf.LULinear(dim, identity_init=False),
        tf.CompositeTransform([tf.ActNorm(dim), tf.RandomPermutation(dim)]),
        tf.PiecewiseRationalQuadraticCouplingTransform([0, 1, 0, 1], resnet, num_bins=bins, tail_bound=2.5),
    ])
    layers = [inner, tf.BatchNorm(dim), tf.ReversePermutation(dim),
              tf.MaskedPiecewiseRationalQuadraticAutoregressiveTransform(dim, 12, num_bins=bins, tail_bound=2.5,
                                                                         use_residual_blocks=True)]
    flow = perturb(tf.Flow(layers, dim).double(), 16)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert [type(layer).__name__ for layer in model.layers] == [
        "LULinear", "ActNorm", "Permute", "SplineCoupling", "BatchNorm", "Reverse", "MaskedSplineAutoregressive"]
    assert model.layers[2].permutation == inner._transforms[1]._transforms[1]._permutation.tolist()
    check_flow(flow, compile_model, "nested")


# -- ConditionalDiagonalNormal ------------------------------------------------------------


@pytest.mark.parametrize("encoder", ["linear", "resnet", "sequential", "identity"])
def test_conditional_diagonal_normal(encoder, compile_model):
    """nflows' ConditionalDiagonalNormal base (means, then log stds from the
    context encoder; nflows' conditional-moons example uses nn.Linear) is a
    ConditionalStandardize layer before N(0, I)."""
    torch.manual_seed(17)
    dim, cdim = 3, 2 * 3 if encoder == "identity" else 2
    nets = {"linear": lambda: torch.nn.Linear(cdim, 2 * dim),
            "resnet": lambda: tf.ResidualNet(cdim, 2 * dim, 8, num_blocks=2, use_batch_norm=True),
            "sequential": lambda: torch.nn.Sequential(torch.nn.Linear(cdim, 9), torch.nn.Tanh(),
                                                      torch.nn.Linear(9, 2 * dim)),
            "identity": lambda: None}
    base = tf.ConditionalDiagonalNormal([dim], context_encoder=nets[encoder]())
    layers = [tf.MaskedAffineAutoregressiveTransform(dim, 10, cdim, use_residual_blocks=True),
              tf.AffineCouplingTransform([1, 0, 1], lambda i, o: tf.ResidualNet(i, o, 8, context_features=cdim))]
    flow = perturb(tf.Flow(layers, dim, cdim, distribution=base).double(), 18, context_dim=cdim)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert isinstance(model.layers[-1], nfmlir.builder.ConditionalStandardize)
    lib = check_flow(flow, compile_model, f"cdn_{encoder}", cdim)
    if encoder != "identity":
        check_sensitive(flow, lib, next(base._context_encoder.parameters()), cdim)


def test_conditional_diagonal_normal_of_nflows_flow_without_context_dim(compile_model):
    """nflows' Flow has no context_dim: with only LULinear layers the width
    of the context comes from the base's encoder."""
    torch.manual_seed(19)
    flow = tf.Flow([tf.LULinear(2, identity_init=False)], 2, 3,
                   distribution=tf.ConditionalDiagonalNormal([2], torch.nn.Linear(3, 4)))
    flow = perturb(flow.double(), 20, context_dim=3)
    x, c = data(2, 3, 21)
    expected = torch_log_prob(flow, x, c)
    del flow.context_dim
    model = nfmlir.from_torch(flow, dtype="float64", name="cdn_nflows")
    assert model.context_dim == 3
    assert np.abs(compile_model(model).log_prob(x, c) - expected).max() <= 1e-10


# -- what is not supported ---------------------------------------------------------------


class PostActivationResidualNet(tf.ResidualNet):
    """nflows' ResidualNet layout with a different forward (activation after
    the blocks): attributes alone would import it wrongly."""

    def forward(self, inputs, context=None):
        temps = self.initial_layer(inputs)
        for block in self.blocks:
            temps = block(temps, context)
        return self.final_layer(torch.relu(temps))


def test_unsupported_nflows_parts_are_named():
    def flow_with(net, dim=2):
        return tf.Flow([tf.AffineCouplingTransform([0, 1] if dim == 2 else [0, 1, 1], net)], dim).double()

    gelu = flow_with(lambda i, o: tf.ResidualNet(i, o, 8, activation=F.gelu)).eval()
    with pytest.raises(nfmlir.UnsupportedLayerError,
                       match=r"activation gelu at position 0 \(the ResidualNet conditioner .*only ReLU, Tanh"):
        nfmlir.from_torch(gelu)

    batch_norm = flow_with(lambda i, o: tf.ResidualNet(i, o, 8, use_batch_norm=True))  # training mode
    with pytest.raises(nfmlir.UnsupportedLayerError,
                       match=r"BatchNorm1d at position 0 \(the ResidualNet .*blocks\[0\]: normalizes with batch "
                             r"statistics .*flow.eval\(\)"):
        nfmlir.from_torch(batch_norm)

    dropout = flow_with(lambda i, o: tf.ResidualNet(i, o, 8, dropout_probability=0.2))
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"Dropout at position 0 .*p = 0.2\) in training mode"):
        nfmlir.from_torch(dropout)
    assert nfmlir.from_torch(dropout.eval()).layers[0].conditioner.hidden_features == 8

    wrong = flow_with(lambda i, o: PostActivationResidualNet(i, o, 8)).eval()
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"PostActivationResidualNet at position 0 .*its forward "
                                                           r"does not compute nflows' ResidualNet"):
        nfmlir.from_torch(wrong)

    made = tf.ResidualMADE(3, 8, output_multiplier=2)
    made.final_layer.mask.fill_(1)
    maf = tf.MaskedAffineAutoregressiveTransform(3, 8)
    maf.autoregressive_net = made
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"ResidualMADE at position 0 .*masks do not make it "
                                                           r"autoregressive .*output 0 \(feature 0\) depends on"):
        nfmlir.from_torch(tf.Flow([maf], 3).eval())

    one = tf.Flow([tf.LULinear(1)], 1, 2, distribution=tf.ConditionalDiagonalNormal([1], torch.nn.Linear(2, 2)))
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"ConditionalDiagonalNormal at the base distribution: "
                                                           r"one feature.*at least 2"):
        nfmlir.from_torch(one)

    lambda_encoder = tf.Flow([tf.LULinear(2)], 2, 1, distribution=tf.ConditionalDiagonalNormal(
        [2], lambda c: torch.cat([c, c, c, c], 1)))
    with pytest.raises(nfmlir.UnsupportedLayerError, match="neither a torch module nor the identity"):
        nfmlir.from_torch(lambda_encoder)

    class MultiscaleCompositeTransform(tf.CompositeTransform):
        """nflows' multi-scale composite factors out features: not a chain."""

    multiscale = tf.Flow([MultiscaleCompositeTransform([tf.LULinear(2)])], 2)
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"MultiscaleCompositeTransform at position 0"):
        nfmlir.from_torch(multiscale)

    class InverseTransform(tf.Transform):
        """nflows' InverseTransform (e.g. an IAF built from a MAF)."""

        def __init__(self, transform):
            super().__init__()
            self._transform = transform

    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"InverseTransform at position 1"):
        nfmlir.from_torch(tf.Flow([tf.LULinear(2), InverseTransform(tf.LULinear(2))], 2))

    spline = tf.PiecewiseRationalQuadraticCouplingTransform([0, 1], lambda i, o: tf.ResidualNet(i, o, 8))
    spline.tails = None  # nflows' default: a spline on [0, 1] without tails
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"at position 0: tails=None; only linear tails"):
        nfmlir.from_torch(tf.Flow([spline], 2).eval())

    embedded = tf.Flow([tf.LULinear(2)], 2, 3)
    embedded._embedding_net = torch.nn.Linear(3, 3)
    with pytest.raises(nfmlir.UnsupportedLayerError, match="Linear at the flow's embedding net"):
        nfmlir.from_torch(embedded)


def test_nflows_itself(compile_model):
    """nflows' own modules, where nflows is installed (not here: it was run
    once against nflows 0.14's source): the same families as above."""
    pytest.importorskip("nflows")
    from nflows.distributions.normal import ConditionalDiagonalNormal
    from nflows.flows import MaskedAutoregressiveFlow, SimpleRealNVP
    from nflows.flows.base import Flow
    from nflows.nn import nets
    from nflows.transforms import (ActNorm, AffineCouplingTransform, BatchNorm, CompositeTransform, LULinear,
                                   MaskedAffineAutoregressiveTransform,
                                   MaskedPiecewiseRationalQuadraticAutoregressiveTransform,
                                   PiecewiseRationalQuadraticCouplingTransform, RandomPermutation)

    torch.manual_seed(25)
    dim, cdim = 4, 3
    resnet = lambda i, o: nets.ResidualNet(i, o, 12, context_features=cdim, use_batch_norm=True)  # noqa: E731
    conditional = [
        ActNorm(dim), AffineCouplingTransform([1, -1, 1, -1], resnet), RandomPermutation(dim),
        LULinear(dim, identity_init=False),
        PiecewiseRationalQuadraticCouplingTransform([-1, 1, -1, 1], resnet, num_bins=6, tails="linear",
                                                    tail_bound=3.0),
        BatchNorm(dim), MaskedAffineAutoregressiveTransform(dim, 12, cdim, use_batch_norm=True),
        MaskedAffineAutoregressiveTransform(dim, 12, cdim, use_residual_blocks=False, random_mask=True),
        MaskedPiecewiseRationalQuadraticAutoregressiveTransform(dim, 12, cdim, num_bins=5, tails="linear",
                                                                tail_bound=3.0)]
    flows = {"nf_rnvp": (SimpleRealNVP(5, 16, 4, 2, batch_norm_within_layers=True,
                                       batch_norm_between_layers=True), 0),
             "nf_maf": (MaskedAutoregressiveFlow(dim, 16, 3, 2, batch_norm_within_layers=True), 0),
             "nf_cond": (Flow(CompositeTransform(conditional), ConditionalDiagonalNormal(
                 [dim], context_encoder=nets.ResidualNet(cdim, 2 * dim, 8))), cdim)}
    for name, (flow, context_dim) in flows.items():
        check_flow(perturb(flow.double(), 26, context_dim=context_dim), compile_model, name, context_dim)
