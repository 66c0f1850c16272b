"""Flows built with normflows' API (1.7) import with nfmlir.from_torch: the torch_flows_normflows look-alikes of
normflows' NormalizingFlow / ConditionalNormalizingFlow, AffineCouplingBlock (every scale_map and split mode,
additive), MaskedAffineAutoregressive, CoupledRationalQuadraticSpline, AutoregressiveRationalQuadraticSpline,
Permute, ActNorm and the DiagGaussian / ConditionalDiagGaussian / Uniform bases, with random non-trivial weights,
in float64. normflows' layers map z -> x in `forward`; log_prob runs their inverses from the last layer, and so
does the import. The compiled log_prob equals flow.log_prob(x[, context]) to 1e-10 (absolute) on 200 points,
inversion and sampling round-trip, and what cannot be imported is an UnsupportedLayerError naming the module and
what is missing. (With normflows 1.7.3's sources the look-alikes build the same parameters from the same seed.)"""

import numpy as np
import pytest

import nfmlir
from import_checks import N, check_against, check_nudged, data

torch = pytest.importorskip("torch")
nl = pytest.importorskip("nfmlir.torch_flows_normflows")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def torch_log_prob(flow, x, c):
    with torch.no_grad():
        x = torch.from_numpy(x)
        return (flow.log_prob(x) if c is None else flow.log_prob(x, torch.from_numpy(c))).numpy()


def perturb(flow, seed, scale=0.15, context_dim=0):
    """Random weights around the initialization (normflows starts splines at the identity), then one
    training-mode batch (ActNorm's data-dependent initialization, batch-norm running statistics), eval mode."""
    gen = torch.Generator().manual_seed(seed)
    flow = flow.double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)
        flow.train()
        x, c = data(flow.q0.shape[0], context_dim, seed, n=256)
        torch_log_prob(flow, x + 0.3, c)
    return flow.eval()


def check_flow(flow, compile_model, name, context_dim=0, seed=0):
    """log_prob as the compiled log_prob to 1e-10; the normalizing map inverts; the compiled samples'
    log-probabilities are normflows' at those samples. Returns the compiled model."""
    lib = compile_model(nfmlir.from_torch(flow, dtype="float64", name=name))
    x, c = data(flow.q0.shape[0], context_dim, seed)
    return check_against(lib, flow, torch_log_prob, x, c)


def check_sensitive(flow, lib, weight, context_dim=0, seed=0):
    """After nudging one weight of the PyTorch flow the compiled model (of the old weights) no longer matches."""
    x, c = data(flow.q0.shape[0], context_dim, seed)
    check_nudged(lib, flow, torch_log_prob, x, c, weight)


# -- RealNVP / Glow: AffineCouplingBlock ------------------------------------------------------


@pytest.mark.parametrize("scale_map, split_mode", [("exp", "channel"), ("sigmoid", "checkerboard"),
                                                   ("sigmoid_inv", "channel_inv"), ("exp", "checkerboard_inv")])
def test_affine_coupling_blocks(scale_map, split_mode, compile_model):
    """normflows' RealNVP / Glow recipe: AffineCouplingBlocks (interleaved [shift, scale] from nets.MLP, the
    scale map's sign conventions under inverse), swap and shuffle Permutes, ActNorm, a trainable DiagGaussian."""
    torch.manual_seed(0)
    dim = 4 if "checkerboard" in split_mode else 5
    half = (dim + 1) // 2 if split_mode in ("channel", "checkerboard") else dim // 2
    if split_mode == "checkerboard_inv":
        half = dim // 2
    flows = []
    for k in range(3):
        net = nl.MLP([half, 16, 16, 2 * (dim - half)], leaky=0.01 if k % 2 else 0.0)
        flows += [nl.AffineCouplingBlock(net, scale_map=scale_map, split_mode=split_mode),
                  nl.Permute(dim, "swap" if k % 2 else "shuffle"), nl.ActNorm(dim)]
    flow = perturb(nl.NormalizingFlow(nl.DiagGaussian(dim), flows), 1)
    lib = check_flow(flow, compile_model, f"acb_{scale_map}_{split_mode}")
    check_sensitive(flow, lib, flows[3].flows[1].param_map.net[2].weight)
    check_sensitive(flow, lib, flows[2].s)
    check_sensitive(flow, lib, flow.q0.log_scale)


def test_additive_coupling_composite_and_temperature(compile_model):
    """AffineCouplingBlock without scale (NICE), a ResidualNet param_map, normflows' Composite, and a base
    DiagGaussian with a temperature."""
    torch.manual_seed(2)
    dim = 4
    inner = nl.Composite([nl.AffineCouplingBlock(nl.MLP([2, 12, 2]), scale=False, split_mode="checkerboard"),
                          nl.Permute(dim)])
    flows = [inner, nl.AffineCouplingBlock(nl.ResidualNet(2, 4, 10, num_blocks=2), split_mode="channel")]
    flow = perturb(nl.NormalizingFlow(nl.DiagGaussian(dim), flows), 3)
    flow.q0.temperature = 0.7
    model = nfmlir.from_torch(flow, dtype="float64")
    assert [type(layer).__name__ for layer in model.layers] == ["AffineCoupling", "Permute", "AdditiveCoupling"]
    lib = check_flow(flow, compile_model, "additive")
    check_sensitive(flow, lib, inner._flows[0].flows[1].param_map.net[0].bias)
    check_sensitive(flow, lib, flows[1].flows[1].param_map.blocks[1].linear_layers[0].weight)


# -- MAF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("residual", [True, False])
def test_masked_affine_autoregressive(residual, compile_model):
    """normflows' MaskedAffineAutoregressive (sigmoid(h + 2) + 1e-3 scale; its inverse, D MADE passes, is the
    density direction: an inverted nf layer) with normflows' MADE: residual blocks gated by the context, or
    feedforward blocks (random masks, batch norm, no activation after the first layer)."""
    torch.manual_seed(4)
    dim = 4
    if residual:
        cdim = 3
        flows = [nl.MaskedAffineAutoregressive(dim, 12, cdim, num_blocks=2), nl.Permute(dim),
                 nl.MaskedAffineAutoregressive(dim, 10, cdim, num_blocks=1, activation=torch.tanh)]
        base = nl.DiagGaussian(dim)
        flow = perturb(nl.ConditionalNormalizingFlow(base, flows), 5, scale=0.08, context_dim=cdim)
    else:
        cdim = 0
        flows = [nl.MaskedAffineAutoregressive(dim, 12, use_residual_blocks=False, random_mask=True,
                                               use_batch_norm=True), nl.Permute(dim, "swap"),
                 nl.MaskedAffineAutoregressive(dim, 12, use_residual_blocks=False, num_blocks=3)]
        flow = perturb(nl.NormalizingFlow(nl.DiagGaussian(dim), flows), 5)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert all(layer.inverted for layer in model.layers if hasattr(layer, "inverted"))
    lib = check_flow(flow, compile_model, f"maf{int(residual)}", cdim)
    made = flows[2].autoregressive_net
    check_sensitive(flow, lib, made.final_layer.bias, cdim)
    if residual:
        check_sensitive(flow, lib, made.blocks[0].context_layer.weight, cdim)
        check_sensitive(flow, lib, flows[0].autoregressive_net.context_layer.bias, cdim)


# -- neural spline flows -------------------------------------------------------------------------


def test_neural_spline_flows_with_context(compile_model):
    """CoupledRationalQuadraticSpline (nflows' spline coupling over the alternating mask, ResidualNet with a
    context, 1/sqrt(hidden) folded, the unconditional spline of the identity features) and
    AutoregressiveRationalQuadraticSpline (residual MADE, permute_mask: sorted by permutations), over a
    ConditionalDiagGaussian base."""
    torch.manual_seed(6)
    dim, cdim = 5, 3
    flows = [nl.CoupledRationalQuadraticSpline(dim, 2, 12, cdim, num_bins=6, tail_bound=3.0),
             nl.AutoregressiveRationalQuadraticSpline(dim, 2, 12, cdim, num_bins=5, permute_mask=True),
             nl.Permute(dim),
             nl.CoupledRationalQuadraticSpline(dim, 1, 10, cdim, num_bins=4, reverse_mask=True),
             nl.AutoregressiveRationalQuadraticSpline(dim, 1, 10, cdim, num_bins=4, tail_bound=2.5)]
    base = nl.ConditionalDiagGaussian(dim, torch.nn.Sequential(torch.nn.Linear(cdim, 8), torch.nn.Tanh(),
                                                               torch.nn.Linear(8, 2 * dim)))
    flow = perturb(nl.ConditionalNormalizingFlow(base, flows), 7, scale=0.2, context_dim=cdim)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert [type(layer).__name__ for layer in model.layers] == [
        "MaskedSplineAutoregressive", "SplineCoupling", "RQSpline", "Permute", "MaskedSplineAutoregressive",
        "Permute", "SplineCoupling", "RQSpline", "ConditionalStandardize"]
    lib = check_flow(flow, compile_model, "nsf", cdim)
    check_sensitive(flow, lib, flows[0].prqct.transform_net.blocks[1].context_layer.weight, cdim)
    check_sensitive(flow, lib, flows[3].prqct.unconditional_transform.unnormalized_derivatives, cdim)
    check_sensitive(flow, lib, flows[1].mprqat.autoregressive_net.final_layer.bias, cdim)
    check_sensitive(flow, lib, base.context_encoder[2].bias, cdim)


def test_uniform_base(compile_model):
    """normflows' Uniform base (log_prob -inf outside [low, high]): the same finite values, -inf at the same
    points. normflows computes its constant -D log(high - low) in float32 (its bounds are float32 tensors); the
    import uses the exact one."""
    torch.manual_seed(8)
    dim = 3
    flow = perturb(nl.NormalizingFlow(nl.Uniform(dim, -2.0, 2.5), [
        nl.MaskedAffineAutoregressive(dim, 8), nl.Permute(dim)]), 9, scale=0.05)
    lib = compile_model(nfmlir.from_torch(flow, dtype="float64", name="uniform"))
    x, _ = data(dim, 0, 10)
    rounding = -dim * np.log(4.5) - float(flow.q0.log_prob_val)
    expected, got = torch_log_prob(flow, x, None) + rounding, lib.log_prob(x)
    inside = np.isfinite(expected)
    assert 0 < inside.sum() < N and np.array_equal(np.isfinite(got), inside) and 0 < abs(rounding) < 1e-6
    assert np.abs(got[inside] - expected[inside]).max() <= 1e-10
    check_sensitive(flow, lib, flow.flows[0].autoregressive_net.initial_layer.bias)


# -- what is not supported -------------------------------------------------------------------------


class Planar(nl.Flow):
    """A normflows layer without an import (normflows' Planar)."""


class Reverse(nl.Flow):
    """normflows' Reverse(flow): forward and inverse exchanged."""

    def __init__(self, flow):
        super().__init__()
        self.flow = flow


def test_unsupported_normflows_parts_are_named():
    dim = 4

    def flow_with(*flows, base=None):
        return nl.NormalizingFlow(base or nl.DiagGaussian(dim), list(flows))

    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"Planar at position 1: nfmlir imports normflows' "
                                                           r"AffineCouplingBlock"):
        nfmlir.from_torch(flow_with(nl.Permute(dim), Planar()))
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"Reverse at position 0"):
        nfmlir.from_torch(flow_with(Reverse(nl.Permute(dim))))

    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"ActNorm at position 0: not initialized"):
        nfmlir.from_torch(flow_with(nl.ActNorm(dim)))

    clamped = nl.AffineCouplingBlock(nl.MLP([2, 8, 4]))
    clamped.flows[1].param_map.net.append(torch.nn.Tanh())  # nets.MLP(output_fn="tanh")
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"conditioner of AffineCoupling at position 0 "
                                                           r"\(the MLP .*: an activation after its last Linear"):
        nfmlir.from_torch(flow_with(clamped))

    leaky = nl.AffineCouplingBlock(nl.MLP([2, 8, 4], leaky=0.2))
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"LeakyReLU with slope 0.2"):
        nfmlir.from_torch(flow_with(leaky))

    unknown = nl.AffineCouplingBlock(nl.MLP([2, 8, 4]), scale_map="tanh")
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"AffineCoupling at position 0: scale_map 'tanh'"):
        nfmlir.from_torch(flow_with(unknown))

    circular = nl.AutoregressiveRationalQuadraticSpline(dim, 1, 8)
    circular.mprqat.tails = "circular"
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"at position 0: tails='circular'; only linear"):
        nfmlir.from_torch(flow_with(circular))

    periodic = nl.MaskedAffineAutoregressive(dim, 8)
    periodic.autoregressive_net.preprocessing = torch.nn.Tanh()  # normflows' PeriodicFeaturesElementwise
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"Tanh at position 0 \(the MADE of "
                                                           r"MaskedAffineAutoregressive\): input preprocessing"):
        nfmlir.from_torch(flow_with(periodic))

    made = nl.MaskedAffineAutoregressive(dim, 8)
    made.autoregressive_net.final_layer.mask.fill_(1)
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"MADE at position 0 .*autoregressive in no feature "
                                                           r"order"):
        nfmlir.from_torch(flow_with(made))

    dropout = nl.MaskedAffineAutoregressive(dim, 8, dropout_probability=0.3)  # training mode
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"Dropout at position 0 .*training mode"):
        nfmlir.from_torch(flow_with(dropout))

    one = nl.ConditionalNormalizingFlow(nl.ConditionalDiagGaussian(1, torch.nn.Linear(2, 2)), [nl.Permute(1)])
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"ConditionalDiagGaussian at the base distribution: one "
                                                           r"feature"):
        nfmlir.from_torch(one)

    class GaussianMixture(torch.nn.Module):
        shape = (dim,)

    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"GaussianMixture at the base distribution: only "
                                                           r"normflows' DiagGaussian"):
        nfmlir.from_torch(flow_with(nl.Permute(dim), base=GaussianMixture()))


def test_normflows_itself(compile_model):
    """normflows' own modules, where normflows is installed (not here: run once against normflows 1.7.3's
    sources): the same families as above."""
    nf = pytest.importorskip("normflows")
    from normflows.distributions.base import ConditionalDiagGaussian

    torch.manual_seed(30)
    dim, cdim = 4, 3
    realnvp = nf.NormalizingFlow(nf.distributions.DiagGaussian(dim), [
        nf.flows.AffineCouplingBlock(nf.nets.MLP([2, 16, 4]), scale_map=m, split_mode=s)
        for m, s in (("exp", "channel"), ("sigmoid", "checkerboard"), ("sigmoid_inv", "channel_inv"))] + [
        nf.flows.Permute(dim, "swap"), nf.flows.ActNorm(dim), nf.flows.MaskedAffineAutoregressive(dim, 12)])
    nsf = nf.ConditionalNormalizingFlow(ConditionalDiagGaussian(dim, torch.nn.Linear(cdim, 2 * dim)), [
        nf.flows.CoupledRationalQuadraticSpline(dim, 2, 12, cdim), nf.flows.Permute(dim),
        nf.flows.AutoregressiveRationalQuadraticSpline(dim, 2, 12, cdim, permute_mask=True),
        nf.flows.MaskedAffineAutoregressive(dim, 12, cdim)])
    for name, flow, context_dim in (("nf_realnvp", realnvp, 0), ("nf_nsf", nsf, cdim)):
        check_flow(perturb(flow, 31, context_dim=context_dim), compile_model, name, context_dim)
