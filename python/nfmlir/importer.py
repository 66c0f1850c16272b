"""Import trained PyTorch flows (nflows' layout) as nfmlir models.

    import nfmlir
    model = nfmlir.from_torch(flow)            # an nfmlir.Model, float32
    lib = model.compile()
    logp = lib.log_prob(x.astype(np.float32))  # = flow.log_prob(x)

`flow` is an nfmlir.torch_flows.Flow or any module with the same layout
(nflows' names; see docs/python.md): `_transform` (a composite with
`_transforms`, nested composites are flattened) over `_distribution`, a
StandardNormal (`_shape` [D]), or `base_dim`. Layers are recognised by the
class names in their MRO and read through their attributes, so subclasses
and look-alike modules work. torch is imported only when a flow is
imported; numpy arrays are taken from the tensors in float64.
"""

import numpy as np

from . import builder

__all__ = ["UnsupportedLayerError", "from_torch"]


class UnsupportedLayerError(TypeError):
    """A layer (or part of one) that nfmlir cannot represent; the message
    names its class and its position in the flow."""


def _array(tensor):
    return tensor.detach().cpu().double().numpy()


def _names(module):
    return {cls.__name__ for cls in type(module).__mro__}


def _fail(module, where, reason):
    raise UnsupportedLayerError(f"unsupported layer {type(module).__name__} at {where}: {reason}")


# -- conditioners ----------------------------------------------------------------------------

_ACTIVATION_CLASSES = {"ReLU": "relu", "Tanh": "tanh", "ELU": "elu", "Sigmoid": "sigmoid", "LeakyReLU": "leaky_relu"}


def _activation_name(act, where):
    """The nfmlir.MLP activation of a module (nn.ReLU, ...) or function
    (F.relu, torch.tanh, ...)."""
    import torch
    from torch.nn import functional as F

    if isinstance(act, torch.nn.Module):
        name = _ACTIVATION_CLASSES.get(type(act).__name__)
        if name == "elu" and getattr(act, "alpha", 1.0) != 1.0:
            _fail(act, where, f"ELU with alpha {act.alpha} (only alpha = 1)")
        if name == "leaky_relu" and getattr(act, "negative_slope", 0.01) != 0.01:
            _fail(act, where, f"LeakyReLU with slope {act.negative_slope} (only 0.01)")
        if name is None:
            _fail(act, where, f"activation not among {sorted(_ACTIVATION_CLASSES)}")
        return name
    functions = {F.relu: "relu", torch.relu: "relu", torch.tanh: "tanh", F.elu: "elu", torch.sigmoid: "sigmoid",
                 F.leaky_relu: "leaky_relu"}
    for fn, name in functions.items():
        if act is fn:
            return name
    raise UnsupportedLayerError(f"unsupported activation {act!r} at {where}: only ReLU, Tanh, ELU, Sigmoid and "
                                f"LeakyReLU(0.01)")


def _fold_linear(layers):
    """Multiplies out consecutive dense layers with no activation between
    them; `layers` is [(W (in, out), b, activation or None)]."""
    folded = []
    for w, b, act in layers:
        if folded and folded[-1][2] is None:
            w0, b0, _ = folded.pop()
            w, b = w0 @ w, b0 @ w + b
        folded.append((w, b, act))
    return folded


def _to_mlp(layers, where, owner):
    """An nfmlir.MLP from [(W, b, activation)]: every layer but the last
    followed by the same activation, the last by none."""
    layers = _fold_linear(layers)
    if layers[-1][2] is not None:
        raise UnsupportedLayerError(f"unsupported conditioner of {owner} at {where}: an activation after its "
                                    f"last Linear layer")
    acts = {act for _, _, act in layers[:-1]}
    if len(acts) > 1:
        raise UnsupportedLayerError(f"unsupported conditioner of {owner} at {where}: mixed activations "
                                    f"{sorted(acts)}")
    return builder.MLP([(w, b) for w, b, _ in layers], acts.pop() if acts else "relu")


def _sequential_layers(seq, where):
    """[(W, b, activation)] of an nn.Sequential of Linear and activation
    modules (Dropout and Identity are skipped: eval mode)."""
    layers = []
    for index, module in enumerate(seq):
        names = _names(module)
        here = f"{where}[{index}]"
        if "Linear" in names and hasattr(module, "weight"):
            weight = _array(module.weight)
            if hasattr(module, "mask"):
                weight = weight * _array(module.mask)
            bias = _array(module.bias) if module.bias is not None else np.zeros(weight.shape[0])
            layers.append([weight.T, bias, None])
        elif names & {"Dropout", "Identity"}:
            continue
        else:
            name = _activation_name(module, here)
            if not layers or layers[-1][2] is not None:
                raise UnsupportedLayerError(f"unsupported conditioner at {here}: {type(module).__name__} must "
                                            f"follow a Linear layer")
            layers[-1][2] = name
    if not layers:
        raise UnsupportedLayerError(f"unsupported conditioner at {where}: no Linear layer")
    return [tuple(layer) for layer in layers]


def _mlp_conditioner(net, where, owner, inputs, context_dim):
    """The coupling conditioner `net` (an MLP with `net`, or an
    nn.Sequential) as an nfmlir.MLP taking `inputs` + context_dim values."""
    import torch

    if isinstance(net, torch.nn.Sequential):
        seq = net
    elif isinstance(getattr(net, "net", None), torch.nn.Sequential):
        seq = net.net
    else:
        _fail(net, f"{where} (the conditioner of {owner})",
              "conditioners must be Linear/activation stacks (an nn.Sequential, or a module with one as `net`); "
              "nflows' ResidualNet is not supported")
    mlp = _to_mlp(_sequential_layers(seq, f"{where}.transform_net"), where, owner)
    if mlp.in_features != inputs + context_dim:
        raise UnsupportedLayerError(f"{owner} at {where}: its conditioner takes {mlp.in_features} inputs, but the "
                                    f"layer gives it {inputs} features and {context_dim} context values")
    return mlp


def _made_conditioner(net, where, owner, features, context_dim):
    """The MADE `net` (nfmlir.torch_flows.MADE's layout) as an nfmlir.MLP
    over [x, context] with the masks applied."""
    label = f"{where} (the MADE of {owner})"
    if getattr(net, "use_residual_blocks", False):
        _fail(net, label, "residual MADE blocks (nflows' default) are not supported; use use_residual_blocks=False")
    for attr in ("initial_layer", "blocks", "final_layer"):
        if not hasattr(net, attr):
            _fail(net, label, f"a MADE needs `initial_layer`, `blocks` and `final_layer` (no `{attr}`)")
    act = _activation_name(net.activation, f"{label}.activation")

    def masked(linear):
        weight = _array(linear.weight)
        if hasattr(linear, "mask"):
            weight = weight * _array(linear.mask)
        return weight.T, _array(linear.bias)

    w, b = masked(net.initial_layer)
    if w.shape[0] != features:
        _fail(net, label, f"its initial layer takes {w.shape[0]} inputs, the layer has {features} features")
    context = getattr(net, "context_layer", None)
    if context is not None:
        if getattr(net, "context_activation", True):
            _fail(net, label, "the context enters through an activation (nflows' MADE adds "
                  "act(context_layer(context))); only a linear context_layer maps onto nfmlir.MADE")
        wc, bc = _array(context.weight).T, _array(context.bias)
        w, b = np.vstack([w, wc]), b + bc
    if w.shape[0] != features + context_dim:
        _fail(net, label, f"takes {w.shape[0] - features} context values, the flow has {context_dim}")
    layers = [(w, b, act)]
    for k, block in enumerate(net.blocks):
        if getattr(block, "batch_norm", None) is not None:
            _fail(block, f"{label}.blocks[{k}]", "batch norm inside MADE blocks is not supported")
        if not hasattr(block, "linear"):
            _fail(block, f"{label}.blocks[{k}]", "MADE blocks must be a masked `linear` and an activation")
        block_act = _activation_name(getattr(block, "activation", net.activation), f"{label}.blocks[{k}]")
        layers.append((*masked(block.linear), block_act))
    layers.append((*masked(net.final_layer), None))
    return _to_mlp(layers, where, owner)


def _fold_spline_scaling(mlp, net, features, bins):
    """nflows divides the raw widths and heights by sqrt(net.hidden_features)
    when the net has that attribute: fold it into the last layer (outputs
    j (3K - 1) + i, i < 2K)."""
    hidden = getattr(net, "hidden_features", None)
    if hidden is None:
        return mlp
    column = np.ones(features * (3 * bins - 1))
    column.reshape(features, 3 * bins - 1)[:, : 2 * bins] = 1 / np.sqrt(hidden)
    w, b = mlp.layers[-1]
    return builder.MLP(mlp.layers[:-1] + [(w * column, b * column)], mlp.activation)


# -- layers ---------------------------------------------------------------------------------


def _scale_fn(module, where):
    """The affine coupling's scale function: `scale_fn`, or found by probing
    `scale_activation` (nflows keeps a function there)."""
    fn = getattr(module, "scale_fn", None)
    if fn is not None:
        if fn not in builder.AffineCoupling.SCALE_FNS:
            _fail(module, where, f"scale_fn {fn!r} (supported: {builder.AffineCoupling.SCALE_FNS})")
        return fn
    activation = getattr(module, "scale_activation", None)
    if activation is None:
        return "sigmoid"  # nflows' affine coupling before scale_activation existed
    import torch

    h = torch.linspace(-6, 6, 97, dtype=torch.float64)
    got = activation(h).detach().double().numpy()
    x = h.numpy()
    candidates = {"sigmoid": 1 / (1 + np.exp(-(x + 2))) + 1e-3, "softplus": np.logaddexp(0, x) + 1e-3,
                  "exp": np.exp(x)}
    for name, want in candidates.items():
        if np.allclose(got, want, rtol=1e-6, atol=1e-9):
            return name
    _fail(module, where, "its scale_activation is none of sigmoid(h + 2) + 1e-3, softplus(h) + 1e-3, exp(h) "
          "(nflows' clamped softplus is not supported)")


def _check_spline_layout(module, where):
    if getattr(module, "tails", "linear") != "linear":
        _fail(module, where, f"tails={module.tails!r}; only linear tails are supported")
    for attr in ("min_bin_width", "min_bin_height", "min_derivative"):
        if getattr(module, attr, 1e-3) != 1e-3:
            _fail(module, where, f"{attr} = {getattr(module, attr)} (only 1e-3)")
    if getattr(module, "apply_unconditional_transform", False) or getattr(module, "unconditional_transform", None):
        _fail(module, where, "unconditional transforms of the identity features are not supported")


def _coupling(module, where, names, context_dim):
    identity = [int(i) for i in module.identity_features]
    transform = [int(i) for i in module.transform_features]
    if getattr(module, "unconditional_transform", None) is not None:
        _fail(module, where, "unconditional transforms of the identity features are not supported")
    owner = type(module).__name__
    if "PiecewiseRationalQuadraticCouplingTransform" in names:
        _check_spline_layout(module, where)
        bins = int(module.num_bins)
        net = _mlp_conditioner(module.transform_net, where, owner, len(identity), context_dim)
        net = _fold_spline_scaling(net, module.transform_net, len(transform), bins)
        return builder.SplineCoupling(identity, net, bins=bins, tail_bound=float(module.tail_bound))
    net = _mlp_conditioner(module.transform_net, where, owner, len(identity), context_dim)
    if "AdditiveCouplingTransform" in names:
        return builder.AdditiveCoupling(identity, net)
    return builder.AffineCoupling(identity, net, scale_fn=_scale_fn(module, where))


def _autoregressive(module, where, names, dim, context_dim):
    owner = type(module).__name__
    made = module.autoregressive_net
    net = _made_conditioner(made, where, owner, dim, context_dim)
    if "MaskedPiecewiseRationalQuadraticAutoregressiveTransform" in names:
        _check_spline_layout(module, where)
        bins = int(module.num_bins)
        net = _fold_spline_scaling(net, made, dim, bins)
        return builder.MaskedSplineAutoregressive(net, bins=bins, tail_bound=float(module.tail_bound))
    scale_fn = getattr(module, "scale_fn", "softplus")
    if scale_fn not in builder.AffineCoupling.SCALE_FNS:
        _fail(module, where, f"scale_fn {scale_fn!r} (supported: {builder.AffineCoupling.SCALE_FNS})")
    return builder.MaskedAffineAutoregressive(net, scale_fn=scale_fn)


def _lu_linear(module):
    n = int(module.unconstrained_upper_diag.numel())
    lower, upper = np.zeros((n, n)), np.zeros((n, n))
    lower[np.tril_indices(n, -1)] = _array(module.lower_entries)
    upper[np.triu_indices(n, 1)] = _array(module.upper_entries)
    diag = np.logaddexp(0.0, _array(module.unconstrained_upper_diag)) + float(getattr(module, "eps", 1e-3))
    return builder.LULinear(lower, upper, diag, _array(module.bias))


def _batch_norm(module, where):
    if module.training:
        _fail(module, where, "in training mode (it normalizes with batch statistics); call flow.eval() so that it "
              "uses its running mean and variance")
    eps = float(module.eps)
    weight = np.logaddexp(0.0, _array(module.unconstrained_weight)) + eps
    return builder.BatchNorm(_array(module.running_mean), _array(module.running_var), np.log(weight),
                             _array(module.bias), epsilon=eps)


def _layer(module, where, dim, context_dim):
    """The nfmlir layers of one transform."""
    names = _names(module)
    if names & {"AffineCouplingTransform", "AdditiveCouplingTransform",
                "PiecewiseRationalQuadraticCouplingTransform"}:
        if int(module.features) != dim:
            _fail(module, where, f"acts on {module.features} features, the flow has {dim}")
        return [_coupling(module, where, names, context_dim)]
    if names & {"MaskedAffineAutoregressiveTransform", "MaskedPiecewiseRationalQuadraticAutoregressiveTransform"}:
        return [_autoregressive(module, where, names, dim, context_dim)]
    if "LULinear" in names:
        return [_lu_linear(module)]
    if "ActNorm" in names:
        return [builder.ActNorm(np.exp(_array(module.log_scale)), _array(module.shift))]
    if "BatchNorm" in names and hasattr(module, "unconstrained_weight"):
        return [_batch_norm(module, where)]
    if "Permutation" in names:
        if getattr(module, "_dim", 1) != 1:
            _fail(module, where, f"permutes dimension {module._dim} (only 1)")
        permutation = [int(p) for p in module._permutation]
        if permutation == list(range(dim - 1, -1, -1)):
            return [builder.Reverse()]
        return [builder.Permute(permutation)]
    if names & {"Identity", "IdentityTransform"}:
        return []
    _fail(module, where, "nfmlir imports affine/additive/rational-quadratic couplings with MLP conditioners, "
          "masked affine and rational-quadratic autoregressive transforms (MADE), LULinear, ActNorm, BatchNorm, "
          "permutations and composites of them")


def _flatten(transform, where):
    """(module, position) of the transforms in order, composites expanded
    (positions like "3" or "3.1")."""
    inner = getattr(transform, "_transforms", None)
    if inner is None:
        return [(transform, where)]
    out = []
    for index, module in enumerate(inner):
        out += _flatten(module, f"{where}.{index}" if where else str(index))
    return out


def _base_dim(flow):
    distribution = getattr(flow, "_distribution", None)
    if distribution is not None:
        if "StandardNormal" not in _names(distribution):
            raise UnsupportedLayerError(f"unsupported base distribution {type(distribution).__name__}: only the "
                                        f"standard normal")
        shape = list(distribution._shape)
        if len(shape) != 1:
            raise UnsupportedLayerError(f"unsupported base distribution StandardNormal of shape {shape}: only "
                                        f"vectors")
        return int(shape[0])
    if hasattr(flow, "base_dim"):
        return int(flow.base_dim)
    raise UnsupportedLayerError(f"{type(flow).__name__} is not a flow: it needs `_transform` and `_distribution` "
                                f"(a StandardNormal) or `base_dim`")


def _context_dim(flow, modules):
    """The flow's context_dim, or, for modules without one (nflows' Flow),
    the first conditioner's context width."""
    if hasattr(flow, "context_dim"):
        return int(flow.context_dim or 0)
    for module, _ in modules:
        net = getattr(module, "autoregressive_net", None)
        if net is not None:
            context = getattr(net, "context_layer", None)
            return 0 if context is None else int(context.in_features)
        net = getattr(module, "transform_net", None)
        if net is not None:
            context = getattr(net, "context_features", None)
            if context is not None:
                return int(context)
    return 0


def from_torch(flow, dtype="float32", name="model"):
    """An nfmlir.Model with the numbers of the PyTorch flow `flow`:
    conditioner weights transposed to (in, out), MADE masks applied,
    nflows' 1/sqrt(hidden_features) spline scaling folded into the last
    layer, LU diagonals softplus(theta) + eps computed, BatchNorm (eval mode)
    turned into its running statistics and log weight, permutations mapped.

    Raises UnsupportedLayerError (a TypeError) naming the class and the
    position ("3", or "3.1" inside nested composites) of a layer it cannot
    represent."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover
        raise ImportError("nfmlir.from_torch needs PyTorch") from e
    if not isinstance(flow, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module flow, not {type(flow).__name__}")
    embedding = getattr(flow, "_embedding_net", None)
    if embedding is not None and "Identity" not in _names(embedding):
        raise UnsupportedLayerError(f"unsupported layer {type(embedding).__name__} at the flow's embedding net: "
                                    f"context embedding nets are not supported")
    transform = getattr(flow, "_transform", None)
    if transform is None:
        transform = getattr(flow, "transform", None)
    if transform is None:
        raise UnsupportedLayerError(f"{type(flow).__name__} is not a flow: it has no `_transform`")
    dim = _base_dim(flow)
    modules = _flatten(transform, "") if hasattr(transform, "_transforms") else [(transform, "0")]
    context_dim = _context_dim(flow, modules)
    layers = []
    for module, where in modules:
        layers += _layer(module, f"position {where}", dim, context_dim)
    return builder.Model(layers, builder.StandardNormal(dim), context_dim=context_dim, dtype=dtype, name=name)
