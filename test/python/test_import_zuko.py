"""Flows built with zuko's API (1.x) import with nfmlir.from_torch: the torch_flows_zuko look-alikes of zuko's
MAF, NSF (autoregressive, and coupling with passes=2), NICE / RealNVP, MaskedAutoregressiveTransform with any
order, residual MaskedMLPs, inverses, contexts and DiagNormal / BoxUniform bases, with random non-trivial
weights, in float64. The compiled log_prob equals flow(c).log_prob(x) to 1e-10 (absolute) on 200 points,
inversion and sampling round-trip, and what cannot be imported is an UnsupportedLayerError naming the module and
what is missing. (With zuko 1.6's sources the look-alikes build the same parameters from the same seed.)"""

from functools import partial

import numpy as np
import pytest

import nfmlir
from import_checks import N, check_against, check_nudged, data

torch = pytest.importorskip("torch")
zk = pytest.importorskip("nfmlir.torch_flows_zuko")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def perturb(flow, seed, scale=0.15):
    """Random weights around the initialization, in float64."""
    gen = torch.Generator().manual_seed(seed)
    flow = flow.double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)
    return flow


def torch_log_prob(flow, x, c):
    with torch.no_grad():
        return flow(None if c is None else torch.from_numpy(c)).log_prob(torch.from_numpy(x)).numpy()


def check_flow(flow, compile_model, name, dim, context_dim=0, seed=0):
    """flow(c).log_prob as the compiled log_prob to 1e-10; the normalizing map inverts; the compiled samples'
    log-probabilities are zuko's at those samples. Returns the compiled model."""
    lib = compile_model(nfmlir.from_torch(flow, dtype="float64", name=name))
    x, c = data(dim, context_dim, seed)
    # zuko's slopes reach 1e3: z -> x amplifies rounding.
    return check_against(lib, flow, torch_log_prob, x, c, inverse_tol=1e-8)


def check_sensitive(flow, lib, weight, dim, context_dim=0, seed=0):
    """After nudging one weight of the PyTorch flow the compiled model (of the old weights) no longer matches."""
    x, c = data(dim, context_dim, seed)
    check_nudged(lib, flow, torch_log_prob, x, c, weight)


def nudge_first(flow, lib, hyper, dim, context_dim=0):
    """check_sensitive on the first unmasked weight of a hyper-network's first layer."""
    layer = hyper[0]
    row, col = torch.nonzero(getattr(layer, "mask", torch.ones_like(layer.weight, dtype=torch.bool)))[0]
    check_sensitive(flow, lib, layer.weight[row, col:], dim, context_dim)


# -- MAF and NSF ----------------------------------------------------------------------------


@pytest.mark.parametrize("context_dim", [0, 3])
def test_maf(context_dim, compile_model):
    """zuko.flows.MAF: affine MaskedAutoregressiveTransforms with alternating orders (the descending one is
    sorted by permutations around the layer), MonotonicAffineTransform's soft-clipped log scale."""
    torch.manual_seed(0)
    flow = perturb(zk.MAF(4, context_dim, transforms=3, hidden_features=(16, 16)), 1, scale=0.3)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert [type(layer).__name__ for layer in model.layers] == [
        "MaskedAffineAutoregressive", "Reverse", "MaskedAffineAutoregressive", "Reverse",
        "MaskedAffineAutoregressive"]
    lib = check_flow(flow, compile_model, f"maf{context_dim}", 4, context_dim)
    nudge_first(flow, lib, flow.transform.transforms[1].hyper, 4, context_dim)


@pytest.mark.parametrize("context_dim, passes", [(0, None), (2, None), (2, 2), (0, 2)])
def test_nsf(context_dim, passes, compile_model):
    """zuko.flows.NSF: MonotonicRQSTransform (bound 5, soft-clipped widths, heights and exp derivatives, no
    minimum bin size), fully autoregressive or coupling (passes=2: the first half of the order is transformed
    too, by parameters of the context alone)."""
    torch.manual_seed(2)
    flow = perturb(zk.NSF(5, context_dim, bins=6, transforms=3, passes=passes, hidden_features=(16, 16)), 3,
                   scale=0.4)
    lib = check_flow(flow, compile_model, f"nsf{context_dim}{passes or 0}", 5, context_dim)
    nudge_first(flow, lib, flow.transform.transforms[2].hyper, 5, context_dim)
    # the first feature's spline parameters come from biases (and the context) alone
    check_sensitive(flow, lib, flow.transform.transforms[0].hyper[-1].bias, 5, context_dim)


def test_random_orders_residual_and_activations(compile_model):
    """randperm orders (any permutation, sorted around each layer), residual MaskedMLPs (zuko's
    Residual(MaskedLinear, activation, MaskedLinear) blocks, a non-square hidden layer between them), ELU and
    Tanh, custom slope and bound."""
    torch.manual_seed(4)
    rqs = partial(zk.MonotonicRQSTransform, bound=3.0, slope=1e-2)
    flows = {
        "res_maf": (zk.MAF(5, 2, transforms=3, randperm=True, hidden_features=(12, 12, 9), residual=True,
                           activation=torch.nn.ELU), 2),
        "res_nsf": (zk.MAF(4, 0, transforms=2, randperm=True, univariate=rqs, shapes=[(5,), (5,), (4,)],
                           hidden_features=(10, 10), residual=True, activation=torch.nn.Tanh), 0),
    }
    for name, (flow, context_dim) in flows.items():
        dim = flow.base().event_shape[0]
        flow = perturb(flow, 5, scale=0.1)
        assert any(isinstance(m, zk.Residual) for m in flow.transform.transforms[0].hyper)
        lib = check_flow(flow, compile_model, name, dim, context_dim)
        block = next(m for m in flow.transform.transforms[1].hyper if isinstance(m, zk.Residual))
        row, col = torch.nonzero(block[2].mask)[0]
        check_sensitive(flow, lib, block[2].weight[row, col:], dim, context_dim)


def test_orders_passes_inverse_and_base(compile_model):
    """MaskedAutoregressiveTransform with a given order and passes=3, its LazyInverse (IAF: the compiled layer is
    inverted), an unconditional PermutationTransform, a MonotonicAffineTransform with another slope and a
    DiagNormal(loc, scale) base with trainable parameters."""
    torch.manual_seed(6)
    dim, context_dim = 5, 2
    affine = partial(zk.MonotonicAffineTransform, slope=1e-2)
    base = zk.UnconditionalDistribution(zk.DiagNormal, torch.randn(dim), torch.rand(dim) + 0.5)
    layers = [zk.MaskedAutoregressiveTransform(dim, context_dim, passes=3, order=[3, 0, 4, 1, 2],
                                               hidden_features=(14, 14)),
              zk.UnconditionalTransform(zk.PermutationTransform, torch.tensor([2, 4, 0, 1, 3]), buffer=True),
              zk.MaskedAutoregressiveTransform(dim, context_dim, univariate=affine, hidden_features=(14,)).inv]
    flow = perturb(zk.Flow(layers, base), 7, scale=0.3)
    model = nfmlir.from_torch(flow, dtype="float64")
    assert model.layers[-1].inverted and isinstance(model.base, nfmlir.DiagNormal)
    lib = check_flow(flow, compile_model, "orders", dim, context_dim)
    check_sensitive(flow, lib, base._0, dim, context_dim)
    check_sensitive(flow, lib, base._1, dim, context_dim)
    nudge_first(flow, lib, layers[2].transform.hyper, dim, context_dim)


# -- NICE / RealNVP (GeneralCouplingTransform) ----------------------------------------------


@pytest.mark.parametrize("context_dim", [0, 2])
def test_nice_real_nvp(context_dim, compile_model):
    """zuko.flows.NICE / RealNVP: GeneralCouplingTransforms (mask True = constant features) with zuko MLPs,
    affine and rational-quadratic, checkered and random masks."""
    torch.manual_seed(8)
    spline = dict(univariate=partial(zk.MonotonicRQSTransform, bound=4.0), shapes=[(5,), (5,), (4,)])
    flows = {"rnvp": zk.RealNVP(5, context_dim, transforms=3, hidden_features=(16, 16)),
             "nice_rqs": zk.NICE(5, context_dim, transforms=3, randmask=True, hidden_features=(12,),
                                 activation=torch.nn.ELU, **spline)}
    for name, flow in flows.items():
        flow = perturb(flow, 9)
        model = nfmlir.from_torch(flow, dtype="float64")
        assert {type(layer).__name__ for layer in model.layers} <= {"AffineCoupling", "SplineCoupling"}
        lib = check_flow(flow, compile_model, f"{name}{context_dim}", 5, context_dim)
        nudge_first(flow, lib, flow.transform.transforms[1].hyper, 5, context_dim)


# -- bases -------------------------------------------------------------------------------------


def test_box_uniform_base(compile_model):
    """zuko's BoxUniform base (log_prob -inf outside [lower, upper)): the same finite values, and -inf at the
    same points."""
    torch.manual_seed(10)
    dim = 3
    base = zk.UnconditionalDistribution(zk.BoxUniform, torch.full((dim,), -2.5), torch.full((dim,), 3.0),
                                        buffer=True)
    flow = perturb(zk.Flow([zk.MaskedAutoregressiveTransform(dim, hidden_features=(8,))], base), 11, scale=0.1)
    lib = compile_model(nfmlir.from_torch(flow, dtype="float64", name="box"))
    x, _ = data(dim, 0, 12)
    expected, got = torch_log_prob(flow, x, None), lib.log_prob(x)
    inside = np.isfinite(expected)
    assert 0 < inside.sum() < N and np.array_equal(np.isfinite(got), inside)
    assert np.abs(got[inside] - expected[inside]).max() <= 1e-10
    check_sensitive(flow, lib, base._0, dim)


# -- what is not supported ---------------------------------------------------------------------


def circular(*phi, slope=1e-3):
    """A univariate that is not one of zuko's monotonic classes (as zuko's NCSF's CircularRQSTransform)."""
    return zk.MonotonicRQSTransform(*phi, slope=slope)


class ElementWiseTransform(zk.LazyTransform):
    """zuko's one-feature MaskedAutoregressiveTransform."""


class DoubledMLP(zk.MaskedMLP):
    """A MaskedMLP whose forward is not what its layers say."""

    def forward(self, x):
        return 2 * super().forward(x)


class GMM(zk.LazyDistribution):
    """A conditional base (zuko's GMM)."""

    def forward(self, c=None):
        return zk.DiagNormal(torch.zeros(2), torch.ones(2))


def test_unsupported_zuko_parts_are_named():
    def flow_with(layer, base=None):
        return zk.Flow([layer], base or zk.UnconditionalDistribution(zk.DiagNormal, torch.zeros(3), torch.ones(3),
                                                                     buffer=True))

    spline = zk.MaskedAutoregressiveTransform(3, univariate=circular, shapes=[(4,), (4,), (3,)])
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"MaskedAutoregressiveTransform at position 0: "
                                                           r"univariate 'circular': only MonotonicAffine"):
        nfmlir.from_torch(flow_with(spline))

    gelu = zk.MaskedAutoregressiveTransform(3, hidden_features=(8,), activation=torch.nn.GELU)
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"GELU at position 0 \(the hyper-network of "
                                                           r"MaskedAutoregressiveTransform\)\[1\]: activation"):
        nfmlir.from_torch(flow_with(gelu))

    norm = zk.GeneralCouplingTransform(3, hidden_features=(8,))
    norm.hyper.insert(1, torch.nn.LayerNorm(8))
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"LayerNorm at position 0 .*\[1\]: layer normalization"):
        nfmlir.from_torch(flow_with(norm))

    maf = zk.MaskedAutoregressiveTransform(3, hidden_features=(8,))
    with torch.no_grad():
        maf.hyper[-1].mask.fill_(True)  # every output reads every input
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"MaskedMLP at position 0 .*autoregressive in no feature "
                                                           r"order \(features \[0, 1, 2\]"):
        nfmlir.from_torch(flow_with(maf))

    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"ElementWiseTransform at position 1: nfmlir imports "
                                                           r"zuko's MaskedAutoregressiveTransform"):
        nfmlir.from_torch(zk.Flow([zk.MaskedAutoregressiveTransform(3), ElementWiseTransform()],
                                  flow_with(maf).base))

    coupling = zk.GeneralCouplingTransform(3, hidden_features=(8,)).inv
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"GeneralCouplingTransform at position 0: only inverses "
                                                           r"of MaskedAutoregressiveTransform"):
        nfmlir.from_torch(flow_with(coupling))

    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"GMM at the base distribution: only unconditional"):
        nfmlir.from_torch(zk.Flow([zk.MaskedAutoregressiveTransform(2)], GMM()))

    wrong = zk.MaskedAutoregressiveTransform(3, hidden_features=(8,))
    wrong.hyper.__class__ = DoubledMLP
    with pytest.raises(nfmlir.UnsupportedLayerError, match=r"DoubledMLP at position 0 .*does not compute zuko's"):
        nfmlir.from_torch(flow_with(wrong))


def test_zuko_itself(compile_model):
    """zuko's own modules, where zuko is installed (not here: run once against zuko 1.6's sources)."""
    zuko = pytest.importorskip("zuko")
    torch.manual_seed(20)
    rqs = partial(zuko.transforms.MonotonicRQSTransform, bound=4.0)
    flows = {"zk_maf": (zuko.flows.MAF(4, 2, transforms=3, randperm=True, hidden_features=(16, 16)), 2),
             "zk_nsf": (zuko.flows.NSF(4, 0, bins=6, passes=2, hidden_features=(16, 16), residual=True), 0),
             "zk_nice": (zuko.flows.NICE(5, 3, transforms=3, univariate=rqs, shapes=[(5,), (5,), (4,)],
                                         hidden_features=(16,)), 3)}
    for name, (flow, context_dim) in flows.items():
        check_flow(perturb(flow, 21, scale=0.1), compile_model, name, flow.base().event_shape[0], context_dim)
