"""Import trained PyTorch flows (nflows', zuko's or normflows' layout) as nfmlir models.

    import nfmlir
    model = nfmlir.from_torch(flow)            # an nfmlir.Model, float32
    lib = model.compile()
    logp = lib.log_prob(x.astype(np.float32))  # = flow.log_prob(x)

`flow` is an nfmlir.torch_flows.Flow or any module with the same layout
(nflows' names; see docs/python.md): `_transform` (a composite with
`_transforms`, nested composites are flattened) over `_distribution`, a
StandardNormal or ConditionalDiagonalNormal (`_shape` [D]), or `base_dim`.
Layers are recognised by the class names in their MRO and read through
their attributes, so subclasses and look-alike modules work; conditioners
read from nflows' ResidualNet and MADE layouts are run once on random
inputs against the imported net, so a look-alike whose forward differs from
its attributes is an error, not a wrong model. torch is imported only when
a flow is imported; numpy arrays are taken from the tensors in float64.

zuko flows (a lazy distribution with `transform` and `base`, imported as
flow(c).log_prob) and normflows flows (`q0` and `flows`, the layers' inverses
in reverse order) are read the same way (nfmlir.torch_flows_zuko and
nfmlir.torch_flows_normflows hold look-alikes); their parameterizations that
the nf layers lack (zuko's soft-clipped parameters and exp spline
derivatives, normflows' sigmoid scales) become elementwise maps at the end of
the conditioner (builder.MappedNet), and autoregressive nets whose masks
follow another feature order run between two permutations.
"""

import math

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
        if name == "leaky_relu" and getattr(act, "negative_slope", 0.01) == 0:
            return "relu"  # normflows' MLP default, LeakyReLU(0.0)
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
    raise UnsupportedLayerError(f"unsupported activation {getattr(act, '__name__', repr(act))} at {where}: only "
                                f"ReLU, Tanh, ELU, Sigmoid and LeakyReLU(0.01)")


def _dense(linear):
    """(W (in, out), b) of an nn.Linear, times its `mask` (MADE's MaskedLinear)."""
    weight = _array(linear.weight)
    if hasattr(linear, "mask"):
        weight = weight * _array(linear.mask)
    bias = _array(linear.bias) if linear.bias is not None else np.zeros(weight.shape[0])
    return weight.T, bias


def _optional_dense(linear):
    return None if linear is None else _dense(linear)


def _eval_norm(norm, where):
    """An nn.BatchNorm1d in eval mode as (scale, shift) per feature, or None."""
    if norm is None:
        return None
    if norm.training or norm.running_mean is None:
        _fail(norm, where, "normalizes with batch statistics (training mode, or no running statistics); call "
              "flow.eval() so that it uses its running mean and variance")
    scale = 1 / np.sqrt(_array(norm.running_var) + norm.eps)
    if norm.weight is not None:
        scale = _array(norm.weight) * scale
    shift = -_array(norm.running_mean) * scale
    return scale, shift if norm.bias is None else shift + _array(norm.bias)


def _check_dropout(dropout, where):
    """Dropout is the identity in eval mode only."""
    if dropout is not None and dropout.training and dropout.p > 0:
        _fail(dropout, where, f"drops out units (p = {dropout.p}) in training mode; call flow.eval()")


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
    modules (Dropout in eval mode and Identity are skipped)."""
    layers = []
    for index, module in enumerate(seq):
        names = _names(module)
        here = f"{where}[{index}]"
        if "Linear" in names and hasattr(module, "weight"):
            layers.append([*_dense(module), None])
        elif names & {"Dropout", "Identity"}:
            _check_dropout(module if "Dropout" in names else None, here)
        else:
            name = _activation_name(module, here)
            if not layers or layers[-1][2] is not None:
                raise UnsupportedLayerError(f"unsupported conditioner at {here}: {type(module).__name__} must "
                                            f"follow a Linear layer")
            layers[-1][2] = name
    if not layers:
        raise UnsupportedLayerError(f"unsupported conditioner at {where}: no Linear layer")
    return [tuple(layer) for layer in layers]


def _one_activation(blocks, default, label):
    """The one activation of a residual net or MADE: its own (`default`, if
    any) and its blocks' `activation`."""
    acts = [] if default is None else [(default, f"{label}.activation")]
    acts += [(getattr(block, "activation", default), f"{label}.blocks[{k}].activation")
             for k, block in enumerate(blocks)]
    names = {_activation_name(act, where) for act, where in acts}
    if len(names) > 1:
        raise UnsupportedLayerError(f"unsupported conditioner at {label}: mixed activations {sorted(names)}")
    return names.pop() if names else "relu"


def _probe(module, imported, label, layout, features, context_dim, with_context=True):
    """Runs `module` (a float64 CPU copy) on random rows and compares it with the
    imported net's numpy reference, so that attributes which do not say what
    the module's forward computes are an error rather than a wrong model."""
    import copy

    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, features, generator=gen, dtype=torch.float64)
    c = torch.randn(16, context_dim, generator=gen, dtype=torch.float64) if context_dim else None
    try:
        with torch.no_grad():
            probe = copy.deepcopy(module).double().cpu()  # the weights are read on the CPU too
            got = (probe(x, c) if with_context else probe(x)).numpy()
    except Exception as e:  # noqa: BLE001 - any failure of a foreign module's forward
        _fail(module, label, f"running it on random inputs failed ({type(e).__name__}: {e})")
    want = imported(x.numpy() if c is None else np.hstack([x.numpy(), c.numpy()]))
    error = np.abs(got - want).max() if got.shape == want.shape else np.inf
    if not error <= 1e-8 * (1 + np.abs(want).max()):
        _fail(module, label, f"its forward does not compute {layout} (largest difference {error:.3g} on random "
              f"inputs)")


def _residual_net(net, label):
    """nflows' ResidualNet layout as an nfmlir.ResidualNet."""
    act = _one_activation(net.blocks, None, label)
    blocks = []
    for k, block in enumerate(net.blocks):
        here = f"{label}.blocks[{k}]"
        if len(getattr(block, "linear_layers", ())) != 2:
            _fail(net, label, f"its block {k} ({type(block).__name__}) has no two `linear_layers` (nflows' "
                  f"ResidualBlock)")
        _check_dropout(getattr(block, "dropout", None), here)
        norms = block.batch_norm_layers if getattr(block, "use_batch_norm", False) else (None, None)
        context = getattr(block, "context_layer", None)
        blocks.append(builder.ResidualBlock(*map(_dense, block.linear_layers), _optional_dense(context),
                                            *(_eval_norm(norm, here) for norm in norms)))
    return builder.ResidualNet(_dense(net.initial_layer), blocks, _dense(net.final_layer), act,
                               int(getattr(net, "context_features", None) or 0))


def _net(net, label, owner):
    """A conditioner or context encoder as an nfmlir.MLP or ResidualNet:
    an nn.Sequential (or a module with one as `net`), nflows' ResidualNet
    (`initial_layer`, `blocks`, `final_layer`) or nets.MLP (`_input_layer`,
    `_hidden_layers`, `_output_layer`) layout, or an nn.Linear. Returns
    (net, whether to probe the module against it)."""
    import torch

    if isinstance(net, torch.nn.Sequential) or isinstance(getattr(net, "net", None), torch.nn.Sequential):
        seq = net if isinstance(net, torch.nn.Sequential) else net.net
        return _to_mlp(_sequential_layers(seq, f"{label}.net"), label, owner), False
    missing = [attr for attr in ("initial_layer", "blocks", "final_layer") if not hasattr(net, attr)]
    if not missing:
        return _residual_net(net, label), True
    if len(missing) < 3:
        _fail(net, label, f"nflows' ResidualNet layout has `initial_layer`, `blocks` and `final_layer` (no "
              f"`{missing[0]}`): this {type(net).__name__} is not supported")
    if all(hasattr(net, attr) for attr in ("_input_layer", "_hidden_layers", "_output_layer")):
        act = _activation_name(net._activation, f"{label}._activation")
        layers = [(*_dense(layer), act) for layer in [net._input_layer, *net._hidden_layers]]
        layers.append((*_dense(net._output_layer), act if getattr(net, "_activate_output", False) else None))
        return _to_mlp(layers, label, owner), True
    if isinstance(net, torch.nn.Linear):
        return builder.MLP([_dense(net)]), False
    _fail(net, label, "conditioners must be Linear/activation stacks (an nn.Sequential, or a module with one as "
          "`net`), nflows' ResidualNet or nets.MLP layouts, or an nn.Linear")


def _conditioner(net, where, owner, inputs, context_dim):
    """The coupling conditioner `net`, called net(inputs, context), as an
    nfmlir.MLP or ResidualNet taking `inputs` + context_dim values."""
    label = f"{where} (the {type(net).__name__} conditioner of {owner})"
    imported, probe = _net(net, label, owner)
    if imported.in_features != inputs + context_dim:
        raise UnsupportedLayerError(f"{owner} at {where}: its conditioner takes {imported.in_features} inputs, but "
                                    f"the layer gives it {inputs} features and {context_dim} context values")
    if probe:
        _probe(net, imported, label, "nflows' ResidualNet / nets.MLP layout", inputs, context_dim)
    return imported


def _made_conditioner(net, where, owner, features, context_dim):
    """The MADE `net` (nflows' layout: MaskedLinear `initial_layer`,
    `context_layer`, `blocks`, `final_layer`) as an nfmlir.MLP over
    [x, context] with the masks applied (feedforward, the context linear or
    absent: the compiler inverts it incrementally), or as an
    nfmlir.ResidualMADE (residual blocks, or nflows' act(context_layer(c)))."""
    label = f"{where} (the MADE of {owner})"
    for attr in ("initial_layer", "blocks", "final_layer"):
        if not hasattr(net, attr):
            _fail(net, label, f"a MADE needs `initial_layer`, `blocks` and `final_layer` (no `{attr}`)")
    act = _one_activation(net.blocks, net.activation, label)
    initial, final = _dense(net.initial_layer), _dense(net.final_layer)
    if initial[0].shape[0] != features:
        _fail(net, label, f"its initial layer takes {initial[0].shape[0]} inputs, the layer has {features} features")
    context = _optional_dense(getattr(net, "context_layer", None))
    if (0 if context is None else context[0].shape[0]) != context_dim:
        _fail(net, label, f"takes {0 if context is None else context[0].shape[0]} context values, the flow has "
              f"{context_dim}")
    residual = bool(getattr(net, "use_residual_blocks", False))
    # nflows' MADE adds act(context_layer(c)); torch_flows.MADE says context_activation = False.
    activated = context is not None and getattr(net, "context_activation", True)
    blocks, masked = [], [net.initial_layer]
    for k, block in enumerate(net.blocks):
        here = f"{label}.blocks[{k}]"
        _check_dropout(getattr(block, "dropout", None), here)
        if residual:
            if len(getattr(block, "linear_layers", ())) != 2:
                _fail(net, label, f"its residual block {k} ({type(block).__name__}) has no two `linear_layers` "
                      f"(nflows' MaskedResidualBlock)")
            norms = block.batch_norm_layers if getattr(block, "use_batch_norm", False) else (None, None)
            blocks.append(builder.ResidualBlock(*map(_dense, block.linear_layers),
                                                _optional_dense(getattr(block, "context_layer", None)),
                                                *(_eval_norm(norm, here) for norm in norms)))
            masked += list(block.linear_layers)
        else:
            if not hasattr(block, "linear"):
                _fail(net, label, f"its block {k} ({type(block).__name__}) has no masked `linear` (nflows' "
                      f"MaskedFeedforwardBlock)")
            blocks.append((*_dense(block.linear), _eval_norm(getattr(block, "batch_norm", None), here)))
            masked.append(block.linear)
    multiplier = final[0].shape[1] // features
    if residual or activated:
        # The module's own masks (nflows' random ones too); the emitter checks they are autoregressive.
        masks = [_array(linear.mask).T if hasattr(linear, "mask") else np.ones(linear.weight.T.shape)
                 for linear in masked + [net.final_layer]]
        made = builder.ResidualMADE(initial, blocks, final, features, multiplier, act, context, residual, masks)
        layout = (f"nflows' {'residual' if residual else 'feedforward'} MADE"
                  + (" with act(context_layer(context)) added to its initial layer" if activated else ""))
    else:
        w, b = initial
        if context is not None:
            w, b = np.vstack([w, context[0]]), b + context[1]
        layers = [(w, b, act)] + [(*builder._norm_before((wk, bk), norm), act) for wk, bk, norm in blocks]
        made = _to_mlp(layers + [(*final, None)], where, owner)
        layout = "a feedforward MADE" + (" with context_layer(context) added linearly" if context else "")
    try:
        builder._check_autoregressive(owner, made, features, multiplier)
    except ValueError as e:
        _fail(net, label, f"its masks do not make it autoregressive ({e})")
    _probe(net, made, label, layout, features, context_dim)
    return made


def _fold_spline_scaling(net, module_net, features, bins):
    """nflows divides the raw widths and heights by sqrt(net.hidden_features)
    when the net has that attribute: fold it into the last layer (outputs
    j (3K - 1) + i, i < 2K)."""
    hidden = getattr(module_net, "hidden_features", None)
    if hidden is None:
        return net
    column = np.ones(features * (3 * bins - 1))
    column.reshape(features, 3 * bins - 1)[:, : 2 * bins] = 1 / np.sqrt(hidden)
    return net.map_outputs(np.diag(column))


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
        net = _conditioner(module.transform_net, where, owner, len(identity), context_dim)
        net = _fold_spline_scaling(net, module.transform_net, len(transform), bins)
        return builder.SplineCoupling(identity, net, bins=bins, tail_bound=float(module.tail_bound))
    net = _conditioner(module.transform_net, where, owner, len(identity), context_dim)
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
    _fail(module, where, "nfmlir imports affine/additive/rational-quadratic couplings with MLP or ResidualNet "
          "conditioners, masked affine and rational-quadratic autoregressive transforms (MADE, residual MADE), "
          "LULinear, ActNorm, BatchNorm, permutations and composites of them")


def _flatten(transform, where):
    """(module, position) of the transforms in order, composites expanded
    (positions like "3" or "3.1")."""
    inner = getattr(transform, "_transforms", None)
    if inner is None or "MultiscaleCompositeTransform" in _names(transform):  # splits: not a plain chain
        return [(transform, where)]
    out = []
    for index, module in enumerate(inner):
        out += _flatten(module, f"{where}.{index}" if where else str(index))
    return out


def _base(flow):
    """(D, the ConditionalDiagonalNormal or None) of the flow's base: a
    StandardNormal, a ConditionalDiagonalNormal, or `base_dim`."""
    distribution = getattr(flow, "_distribution", None)
    if distribution is None:
        if hasattr(flow, "base_dim"):
            return int(flow.base_dim), None
        raise UnsupportedLayerError(f"{type(flow).__name__} is not a flow: it needs `_transform` and "
                                    f"`_distribution` (a StandardNormal) or `base_dim`")
    names = _names(distribution)
    kind = next((k for k in ("StandardNormal", "ConditionalDiagonalNormal") if k in names), None)
    if kind is None:
        raise UnsupportedLayerError(f"unsupported base distribution {type(distribution).__name__}: only the "
                                    f"standard normal and nflows' ConditionalDiagonalNormal")
    shape = list(distribution._shape)
    if len(shape) != 1:
        raise UnsupportedLayerError(f"unsupported base distribution {kind} of shape {shape}: only vectors")
    return int(shape[0]), (distribution if kind == "ConditionalDiagonalNormal" else None)


def _base_encoder(distribution, dim, encoder=None):
    """The context encoder of a ConditionalDiagonalNormal (`_context_encoder`; or `encoder`, normflows'
    ConditionalDiagGaussian's) as an nfmlir.MLP or ResidualNet giving D means, then D log standard deviations."""
    import torch

    where, owner = "the base distribution", type(distribution).__name__
    label = f"{where} (the context encoder of {owner})"
    if dim < 2:
        _fail(distribution, where, "one feature: nfmlir imports it as two affine couplings over the even and the "
              "odd features (ConditionalStandardize), which needs at least 2 features")
    encoder = distribution._context_encoder if encoder is None else encoder
    if isinstance(encoder, torch.nn.Module):
        net, _ = _net(encoder, label, owner)
        _probe(encoder, net, label, "the layout read", net.in_features, 0, with_context=False)
    else:  # nflows' default encoder is the identity: the context holds the means and log stds
        values = torch.randn(4, 2 * dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        if not callable(encoder) or not torch.equal(encoder(values), values):
            _fail(distribution, where, "its context encoder is neither a torch module nor the identity")
        net = builder.MLP([(np.eye(2 * dim), np.zeros(2 * dim))])
    if net.out_features != 2 * dim:
        _fail(distribution, where, f"its context encoder gives {net.out_features} values, not 2 x {dim} (means, "
              f"then log standard deviations)")
    return net


def _context_dim(flow, modules, encoder):
    """The flow's context_dim, or, for modules without one (nflows' Flow),
    the first conditioner's context width, else the base encoder's."""
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
    return 0 if encoder is None else encoder.in_features


# -- shared by the zuko and normflows imports -------------------------------------------------


def _sequential_net(seq, where, owner, context_features):
    """An nn.Sequential of Linear layers (nn.Linear, zuko's Linear or MaskedLinear: `weight`, `bias`, `mask`),
    activation modules and residual blocks (zuko's Residual: x + its modules applied to x) as an nfmlir.MLP, or,
    with residual blocks, an nfmlir _Net of dense steps and skip additions."""
    for index, module in enumerate(seq):
        if "Linear" in _names(module) and getattr(module, "weight", None) is not None and module.weight.dim() != 2:
            _fail(module, f"{where}[{index}]", "stacked weights (zuko's Linear with `stack`) are not supported")
    modules = list(seq)
    residual = [index for index, module in enumerate(modules) if "Residual" in _names(module)]
    if not residual:
        return _to_mlp(_sequential_layers(modules, where), where, owner)
    steps, source = [], ["x", "c"] if context_features else ["x"]

    def dense(layers, here):
        """Appends Linear layers with one activation between them (and one after the last, if any)."""
        layers = _fold_linear(layers)
        acts = {act for _, _, act in layers[:-1]}
        if len(acts) > 1:
            raise UnsupportedLayerError(f"unsupported conditioner of {owner} at {here}: mixed activations "
                                        f"{sorted(acts)}")
        steps.append(("dense", source, [a for w, b, _ in layers for a in (w, b)], acts.pop() if acts else "relu"))
        if layers[-1][2] is not None:
            steps.append(("act", [len(steps) - 1], [], layers[-1][2]))
        return [len(steps) - 1]

    for first, last in zip([-1] + residual, residual + [len(modules)]):
        if last - first > 1:  # the layers between two residual blocks
            source = dense(_sequential_layers(modules[first + 1:last], f"{where}[{first + 1}:{last}]"),
                           f"{where}[{first + 1}:{last}]")
        if last == len(modules):
            break
        here = f"{where}[{last}]"
        if source[0] in ("x", "c"):
            _fail(modules[last], here, "a residual block must follow a Linear layer")
        inner = _fold_linear(_sequential_layers(modules[last], here))
        if inner[-1][2] is not None:
            _fail(modules[last], here, "an activation after the residual block's last Linear layer")
        skip = source[0]
        source = dense(inner, here)
        steps.append(("add", [skip, source[0]], [], None))
        source = [len(steps) - 1]
    if steps[-1][0] != "dense":
        _fail(seq, where, "an activation or a residual block after the last Linear layer")
    return builder._Net(steps, steps[0][2][0].shape[0], context_features)


def _autoregressive_order(net, dim, per_feature, module, label):
    """A feature order in which `net` (outputs per_feature per feature, contiguous) is autoregressive, from
    the zero pattern of its weights: the lexicographically first topological order (the identity when the
    net is autoregressive as it is)."""
    reach = net.reach(dim)[:, : dim * per_feature].reshape(dim, dim, per_feature).any(-1).T  # [f, g]: f reads g
    placed, done = [], np.zeros(dim, bool)
    while len(placed) < dim:
        ready = [f for f in range(dim) if not done[f] and done[reach[f]].all()]
        if not ready:
            left = [f for f in range(dim) if not done[f]]
            _fail(module, label, f"its masks are autoregressive in no feature order (features {left} depend on "
                  f"each other or themselves)")
        placed.append(ready[0])
        done[ready[0]] = True
    return np.array(placed)


def _sorted_inputs(net, order, dim, per_feature):
    """`net` (autoregressive in the feature `order`) taking the features sorted into that order and giving its
    output blocks (per_feature values per feature) in that order too."""
    if np.array_equal(order, np.arange(dim)):
        return net
    columns = (order[:, None] * per_feature + np.arange(per_feature)).reshape(-1)
    return net.permute_inputs(order).map_outputs(np.eye(dim * per_feature)[:, columns])


def _in_order(order, layer):
    """`layer` (autoregressive in index order) applied to the features sorted into `order`, then unsorted."""
    if np.array_equal(order, np.arange(len(order))):
        return [layer]
    return [builder.Permute(order), layer, builder.Permute(np.argsort(order))]


def _merge_permutations(layers):
    """Consecutive Permute layers as one (nothing for the identity, Reverse for the reversal)."""
    out = []
    for layer in layers:
        if isinstance(layer, builder.Permute) and out and isinstance(out[-1], builder.Permute):
            layer = builder.Permute(np.asarray(out.pop().permutation)[layer.permutation])
        out.append(layer)
    merged = []
    for layer in out:
        if isinstance(layer, builder.Permute):
            p = list(np.asarray(layer.permutation).tolist())
            if p == sorted(p):
                continue
            if p == sorted(p, reverse=True):
                layer = builder.Reverse()
        merged.append(layer)
    return merged


# -- zuko --------------------------------------------------------------------------------------

# zuko's spline has no minimum bin size or derivative; nf's must be > 0: below anything zuko's soft-clipped
# parameters give (1 / (1 + (K - 1) / slope) and slope), they vanish in rounding.
_ZUKO_SPLINE_MINIMUMS = (1e-30, 1e-30, 1e-30)


def _zuko_univariate(module, where):
    """(kind, slope, bound, bins) of a zuko transformation's `univariate`: MonotonicAffineTransform or
    MonotonicRQSTransform, the class or a functools.partial of it with keyword arguments, and its `shapes`."""
    import inspect

    fn = module.univariate
    names = _names_of_callable(fn)
    kind = next((k for k in ("MonotonicAffineTransform", "MonotonicRQSTransform") if k in names), None)
    if kind is None or getattr(fn, "args", ()):
        target = getattr(fn, "func", fn)
        _fail(module, where, f"univariate {getattr(target, '__name__', target)!r}: only MonotonicAffineTransform and "
              f"MonotonicRQSTransform (or functools.partial of them with keyword arguments)")
    defaults = inspect.signature(fn).parameters
    slope = float(defaults["slope"].default)
    shapes = [tuple(int(n) for n in shape) for shape in module.shapes]
    if kind == "MonotonicAffineTransform":
        if shapes != [(), ()]:
            _fail(module, where, f"MonotonicAffineTransform with parameter shapes {shapes} (zuko's: (), ())")
        return kind, slope, None, None
    bins = shapes[0][0] if shapes and shapes[0] else 0
    if bins < 2 or shapes != [(bins,), (bins,), (bins - 1,)]:
        _fail(module, where, f"MonotonicRQSTransform with parameter shapes {shapes} (zuko's: (K,), (K,), (K - 1,))")
    return kind, slope, float(defaults["bound"].default), bins


def _zuko_parameters(kind, slope, blocks, bins, halves):
    """(matrix, maps) turning a zuko hyper-network's outputs (contiguous per feature: affine [shift, a], spline
    [K widths, K heights, K - 1 derivatives]) for the features `blocks` (in the layer's order) into the nf
    layer's raw parameters: affine [log scale, shift] per feature, or `halves` (couplings) all shifts then all
    log scales, with zuko's soft clip a / (1 + |a / log slope|); spline blocks with the soft clips (2 / |log
    slope| for widths and heights) and the derivatives made exp(d) under nf's softplus."""
    n, clip = len(blocks), abs(math.log(slope))
    total = 2 if bins is None else 3 * bins - 1
    matrix = np.zeros((n * total, n * total))
    if kind == "MonotonicAffineTransform":
        shift, raw = (np.arange(n), n + np.arange(n)) if halves else (2 * np.arange(n) + 1, 2 * np.arange(n))
        matrix[2 * np.asarray(blocks), shift] = 1
        matrix[2 * np.asarray(blocks) + 1, raw] = 1
        return matrix, [("soft_clip", raw, 1 / clip)]
    for i, f in enumerate(blocks):
        matrix[f * total + np.arange(total), i * total + np.arange(total)] = 1
    within = np.tile(np.arange(total), n)
    q = np.where(within < 2 * bins, 2 / clip, 1 / clip)
    return matrix, [("soft_clip", np.arange(n * total), q), ("exp_softplus_inverse", np.nonzero(within >= 2 * bins)[0])]


def _zuko_hyper(module, label, owner, inputs, context_dim):
    """The hyper-network (zuko's MaskedMLP or MLP over [x, c]) as an nfmlir net, checked against its forward."""
    import torch

    hyper = module.hyper
    if not isinstance(hyper, torch.nn.Sequential):
        _fail(hyper, label, "zuko's hyper-networks are nn.Sequential (MLP, MaskedMLP)")
    for index, part in enumerate(hyper):
        if "LayerNorm" in _names(part):
            _fail(part, f"{label}[{index}]", "layer normalization between layers (zuko's normalize=True) is not "
                  "supported")
    net = _sequential_net(hyper, label, owner, context_dim)
    if net.in_features != inputs + context_dim:
        _fail(hyper, label, f"takes {net.in_features} inputs, the layer gives it {inputs} features and {context_dim} "
              f"context values")
    _probe(hyper, net, label, "zuko's (Masked)MLP layout", inputs + context_dim, 0, with_context=False)
    return net


def _zuko_autoregressive(module, where, dim, context_dim, inverted):
    """zuko's MaskedAutoregressiveTransform (inverted: its LazyInverse) as nf autoregressive layers, sorted
    into the order its masks define (its `order` // ceil(D / passes); passes = 2 is a coupling)."""
    owner = type(module).__name__
    kind, slope, bound, bins = _zuko_univariate(module, where)
    label = f"{where} (the hyper-network of {owner})"
    net = _zuko_hyper(module, label, owner, dim, context_dim)
    per_feature = 2 if bins is None else 3 * bins - 1
    if net.out_features != dim * per_feature:
        _fail(module, where, f"its hyper-network gives {net.out_features} values, not {per_feature} per feature "
              f"for {dim} features")
    order = _autoregressive_order(net, dim, per_feature, module.hyper, label)
    net = net if np.array_equal(order, np.arange(dim)) else net.permute_inputs(order)
    matrix, maps = _zuko_parameters(kind, slope, order, bins, halves=False)  # also sorts the output blocks
    net = builder.MappedNet(net.map_outputs(matrix), maps, context_dim)
    if bins is None:
        layer = builder.MaskedAffineAutoregressive(net, "exp", inverted)
    else:
        layer = builder.MaskedSplineAutoregressive(net, bins, bound, inverted, _ZUKO_SPLINE_MINIMUMS)
    return _in_order(order, layer)


def _zuko_coupling(module, where, dim, context_dim):
    """zuko's GeneralCouplingTransform: `mask` True for the constant features x_a, `hyper` an MLP of
    [x_a, c] giving the parameters of x_b (increasing order), contiguous per feature."""
    owner = type(module).__name__
    kind, slope, bound, bins = _zuko_univariate(module, where)
    mask = _array(module.mask) > 0
    if mask.shape != (dim,):
        _fail(module, where, f"its mask has shape {mask.shape}, the flow has {dim} features")
    identity, transformed = np.nonzero(mask)[0].tolist(), np.nonzero(~mask)[0]
    net = _zuko_hyper(module, f"{where} (the hyper-network of {owner})", owner, len(identity), context_dim)
    matrix, maps = _zuko_parameters(kind, slope, range(len(transformed)), bins, halves=True)
    if net.out_features != matrix.shape[0]:
        _fail(module, where, f"its hyper-network gives {net.out_features} values, not {matrix.shape[0]}")
    net = builder.MappedNet(net.map_outputs(matrix), maps, context_dim)
    if bins is None:
        return builder.AffineCoupling(identity, net, scale_fn="exp")
    return builder.SplineCoupling(identity, net, bins, bound, _ZUKO_SPLINE_MINIMUMS)


def _zuko_layers(module, where, dim, context_dim):
    """The nf layers of one zuko lazy transformation."""
    names = _names(module)
    if "LazyInverse" in names:
        inner = module.transform
        if "MaskedAutoregressiveTransform" not in _names(inner):
            _fail(inner, where, "only inverses of MaskedAutoregressiveTransform (IAF-style) are supported")
        return _zuko_autoregressive(inner, where, dim, context_dim, inverted=True)
    if "MaskedAutoregressiveTransform" in names:
        return _zuko_autoregressive(module, where, dim, context_dim, inverted=False)
    if "GeneralCouplingTransform" in names:
        return [_zuko_coupling(module, where, dim, context_dim)]
    if "UnconditionalTransform" in names and "PermutationTransform" in _names_of_callable(module.f):
        order = (module.args or list(module.kwargs.values()))[0]
        return [builder.Permute([int(i) for i in order])]
    _fail(module, where, "nfmlir imports zuko's MaskedAutoregressiveTransform (MAF, NSF; affine or rational-quadratic, "
          "any passes and order) and its inverse, GeneralCouplingTransform (NICE, RealNVP) and unconditional "
          "PermutationTransforms")


def _names_of_callable(fn):
    """The class names in the MRO of `fn` if it is a class (or a functools.partial of one)."""
    target = getattr(fn, "func", fn)
    return {c.__name__ for c in getattr(target, "__mro__", ())}


def _zuko_flatten(transform, where):
    if "LazyComposedTransform" in _names(transform):
        out = []
        for index, module in enumerate(transform.transforms):
            out += _zuko_flatten(module, f"{where}.{index}" if where else str(index))
        return out
    return [(transform, where or "0")]


def _zuko_base(base):
    """The nfmlir base of zuko's UnconditionalDistribution of DiagNormal(loc, scale) or BoxUniform(lower,
    upper), and its number of features."""
    where = "the base distribution"
    if not _names(base) & {"UnconditionalDistribution", "Unconditional"}:
        _fail(base, where, "only unconditional bases (zuko's UnconditionalDistribution) are supported")
    distribution = base()  # it ignores the context
    names = _names(distribution)
    inner = getattr(distribution, "base_dist", None)
    if getattr(distribution, "reinterpreted_batch_ndims", None) != 1 or inner is None:
        _fail(distribution, where, "only DiagNormal and BoxUniform over one dimension of features")
    if "DiagNormal" in names or ("Independent" in names and "Normal" in _names(inner)):
        loc, scale = _array(inner.loc), _array(inner.scale)
        if loc.ndim != 1 or scale.shape != loc.shape:
            _fail(distribution, where, f"loc and scale of shapes {loc.shape}, {scale.shape} (need (D,))")
        if np.all(loc == 0) and np.all(scale == 1):
            return builder.StandardNormal(loc.size), loc.size
        return builder.DiagNormal(loc, np.log(scale)), loc.size
    if "BoxUniform" in names or ("Independent" in names and "Uniform" in _names(inner)):
        low, high = _array(inner.low), _array(inner.high)
        if low.ndim != 1 or high.shape != low.shape:
            _fail(distribution, where, f"bounds of shapes {low.shape}, {high.shape} (need (D,))")
        return builder.Uniform(low, high), low.size
    _fail(distribution, where, "only zuko's DiagNormal and BoxUniform bases are supported")


def _zuko_context_dim(modules, dim):
    """The context width: the first hyper-network's inputs beyond its layer's features (0 without)."""
    for module, _ in modules:
        inner = module.transform if "LazyInverse" in _names(module) else module
        hyper = getattr(inner, "hyper", None)
        if hyper is None:
            continue
        first = next((m for m in hyper.modules() if getattr(m, "weight", None) is not None), None)
        inputs = dim if "MaskedAutoregressiveTransform" in _names(inner) else int(_array(inner.mask).sum())
        return int(first.weight.shape[-1]) - inputs if first is not None else 0
    return 0


def _from_zuko(flow, dtype, name):
    """A zuko Flow (`transform`: lazy transformations, `base`: a lazy distribution) as an nfmlir.Model of
    flow(c).log_prob."""
    base, dim = _zuko_base(flow.base)
    modules = _zuko_flatten(flow.transform, "")
    context_dim = _zuko_context_dim(modules, dim)
    layers = []
    for module, where in modules:
        layers += _zuko_layers(module, f"position {where}", dim, context_dim)
    return builder.Model(_merge_permutations(layers), base, context_dim=context_dim, dtype=dtype, name=name)


# -- normflows ----------------------------------------------------------------------------------


def _normflows_made(made, label, owner, dim, context_dim):
    """normflows' MADE (context added linearly to the first layer and gating the residual blocks, like
    ResidualNet; feedforward blocks without an activation after the first layer) as an nfmlir.ResidualNet or
    MLP with the module's masks, checked against its forward; and the feature order its masks define."""
    for attr in ("initial_layer", "blocks", "final_layer"):
        if not hasattr(made, attr):
            _fail(made, label, f"a MADE needs `initial_layer`, `blocks` and `final_layer` (no `{attr}`)")
    preprocessing = getattr(made, "preprocessing", None)
    if preprocessing is not None and "Identity" not in _names(preprocessing):
        _fail(preprocessing, label, "input preprocessing (normflows' periodic features) is not supported")
    initial, final = _dense(made.initial_layer), _dense(made.final_layer)
    context = _optional_dense(getattr(made, "context_layer", None))
    if (0 if context is None else context[0].shape[0]) != context_dim or initial[0].shape[0] != dim:
        _fail(made, label, f"takes {initial[0].shape[0]} features and {0 if context is None else context[0].shape[0]} "
              f"context values, the flow has {dim} and {context_dim}")
    if context is not None:
        initial = (np.vstack([initial[0], context[0]]), initial[1] + context[1])
    act = _one_activation(made.blocks, None, label)
    if all(len(getattr(block, "linear_layers", ())) == 2 for block in made.blocks):
        blocks = []
        for k, block in enumerate(made.blocks):
            here = f"{label}.blocks[{k}]"
            _check_dropout(getattr(block, "dropout", None), here)
            norms = block.batch_norm_layers if getattr(block, "use_batch_norm", False) else (None, None)
            blocks.append(builder.ResidualBlock(*map(_dense, block.linear_layers),
                                                _optional_dense(getattr(block, "context_layer", None)),
                                                *(_eval_norm(norm, here) for norm in norms)))
        net, layout = builder.ResidualNet(initial, blocks, final, act, context_dim), "normflows' residual MADE"
    elif all(hasattr(block, "linear") for block in made.blocks):
        layers = [(*initial, None)]
        for k, block in enumerate(made.blocks):
            here = f"{label}.blocks[{k}]"
            _check_dropout(getattr(block, "dropout", None), here)
            layers.append((*builder._norm_before(_dense(block.linear), _eval_norm(block.batch_norm, here)), act))
        net, layout = _to_mlp(layers + [(*final, None)], label, owner), "normflows' feedforward MADE"
    else:
        _fail(made, label, "its blocks are neither all masked residual blocks (`linear_layers`) nor all feedforward "
              "ones (`linear`)")
    _probe(made, net, label, layout, dim, context_dim)
    multiplier = net.out_features // dim
    return net, _autoregressive_order(net, dim, multiplier, made, label)


def _normflows_spline(module, where, kind):
    """(tail_bound, minimums) of normflows' (nflows-style) rational-quadratic transforms: linear tails and one
    tail bound only."""
    if getattr(module, "tails", None) != "linear":
        _fail(module, where, f"tails={getattr(module, 'tails', None)!r}; only linear tails are supported")
    bound = module.tail_bound
    if hasattr(bound, "numel") and bound.numel() != 1:
        _fail(module, where, f"per-feature tail bounds ({kind}) are not supported")
    minimums = tuple(float(getattr(module, f"min_{n}", 1e-3)) for n in ("bin_width", "bin_height", "derivative"))
    return float(bound), minimums


def _normflows_coupled_spline(module, where, dim, context_dim):
    """CoupledRationalQuadraticSpline: x -> z is its `prqct`'s forward, the spline coupling, then the
    unconditional spline of the identity features (an RQSpline, the identity on the others)."""
    prqct = module.prqct
    owner = type(module).__name__
    bins, (bound, minimums) = int(prqct.num_bins), _normflows_spline(prqct, where, "tail_bound")
    identity = [int(i) for i in prqct.identity_features]
    transformed = [int(i) for i in prqct.transform_features]
    if sorted(identity + transformed) != list(range(dim)):
        _fail(prqct, where, f"its features {identity} and {transformed} are not the flow's {dim}")
    net = _conditioner(prqct.transform_net, where, owner, len(identity), context_dim)
    net = _fold_spline_scaling(net, prqct.transform_net, len(transformed), bins)
    layers = [builder.SplineCoupling(identity, net, bins=bins, tail_bound=bound, minimums=minimums)]
    cdf = prqct.unconditional_transform
    if cdf is not None:
        if _normflows_spline(cdf, where, "the unconditional transform") != (bound, (1e-3,) * 3):
            _fail(cdf, where, "an unconditional spline with minimums other than 1e-3 or another tail bound than "
                  "the coupling's")
        # the identity spline elsewhere: equal widths and heights, unit derivatives
        widths, heights = np.zeros((dim, bins)), np.zeros((dim, bins))
        derivatives = np.full((dim, bins - 1), math.log(math.expm1(1 - 1e-3)))
        widths[identity], heights[identity] = _array(cdf.unnormalized_widths), _array(cdf.unnormalized_heights)
        derivatives[identity] = _array(cdf.unnormalized_derivatives)
        layers.append(builder.RQSpline(widths, heights, derivatives, tail_bound=bound))
    return layers


def _normflows_coupling_block(module, where, dim, context_dim):
    """AffineCouplingBlock ([Split, AffineCoupling, Merge]): x -> z is AffineCoupling.inverse,
    z2 = (x2 - shift) / scale with the interleaved [shift, s] of param_map(x1): an nf affine coupling with
    the shift first, shift' = -shift and log scale -s ("exp"), log sigmoid(s + 2) ("sigmoid") or
    -log sigmoid(s + 2) ("sigmoid_inv"); an additive coupling of -param without `scale`."""
    from .torch_flows_normflows import _split_index

    split, coupling, merge = list(module.flows)
    mode = getattr(split, "mode", None)
    if getattr(merge, "mode", None) != mode or mode not in ("channel", "channel_inv", "checkerboard",
                                                            "checkerboard_inv"):
        _fail(module, where, f"split modes {mode!r} and {getattr(merge, 'mode', None)!r}: only one of channel, "
              f"channel_inv, checkerboard, checkerboard_inv")
    if "checkerboard" in mode and dim % 2:
        _fail(module, where, f"a checkerboard split of {dim} features (normflows' merge needs an even number)")
    identity, transformed = _split_index(mode, dim)
    owner = type(coupling).__name__
    net = _conditioner(coupling.param_map, where, owner, len(identity), context_dim)
    b = len(transformed)
    if not coupling.scale:
        return [builder.AdditiveCoupling(identity, net.map_outputs(-np.eye(b)))]
    scale_map = coupling.scale_map
    if scale_map not in ("exp", "sigmoid", "sigmoid_inv"):
        _fail(coupling, where, f"scale_map {scale_map!r} (normflows has exp, sigmoid, sigmoid_inv)")
    matrix = np.zeros((2 * b, 2 * b))
    matrix[2 * np.arange(b), np.arange(b)] = -1  # shift' = -shift
    matrix[2 * np.arange(b) + 1, b + np.arange(b)] = -1 if scale_map == "exp" else 1
    net = net.map_outputs(matrix)
    if scale_map != "exp":
        net = builder.MappedNet(net, [("log_sigmoid", b + np.arange(b), 2.0, 1.0 if scale_map == "sigmoid" else -1.0)],
                                context_dim)
    return [builder.AffineCoupling(identity, net, scale_fn="exp", shift_first=True)]


def _normflows_layers(module, where, dim, context_dim):
    """The nf layers of normflows' layer `module` in the normalizing direction (its `inverse`)."""
    names = _names(module)
    owner = type(module).__name__
    if "Composite" in names:
        flows = list(module._flows)
        return [layer for index in reversed(range(len(flows)))
                for layer in _normflows_layers(flows[index], f"{where}.{index}", dim, context_dim)]
    if "AffineCouplingBlock" in names:
        return _normflows_coupling_block(module, where, dim, context_dim)
    if "MaskedAffineAutoregressive" in names:
        net, order = _normflows_made(module.autoregressive_net, f"{where} (the MADE of {owner})", owner, dim,
                                     context_dim)
        net = _sorted_inputs(net, order, dim, 2)
        return _in_order(order, builder.MaskedAffineAutoregressive(net, "sigmoid", inverted=True))
    if "AutoregressiveRationalQuadraticSpline" in names:
        mprqat = module.mprqat
        bins, (bound, minimums) = int(mprqat.num_bins), _normflows_spline(mprqat, where, "tail_bound")
        made = mprqat.autoregressive_net
        net, order = _normflows_made(made, f"{where} (the MADE of {owner})", owner, dim, context_dim)
        net = _sorted_inputs(_fold_spline_scaling(net, made, dim, bins), order, dim, 3 * bins - 1)
        return _in_order(order, builder.MaskedSplineAutoregressive(net, bins, bound, minimums=minimums))
    if "CoupledRationalQuadraticSpline" in names:
        return _normflows_coupled_spline(module, where, dim, context_dim)
    if "Permute" in names:
        if int(module.num_channels) != dim:
            _fail(module, where, f"permutes {module.num_channels} features, the flow has {dim}")
        if module.mode == "shuffle":
            return [builder.Permute([int(i) for i in module.inv_perm])]
        if module.mode == "swap":
            half = (dim + 1) // 2
            return [builder.Permute(list(range(half, dim)) + list(range(half)))]
        _fail(module, where, f"mode {module.mode!r} (normflows has shuffle and swap)")
    if "AffineConstFlow" in names:
        if "ActNorm" in names and not getattr(module, "data_dep_init_done", 1) > 0:
            _fail(module, where, "not initialized: normflows' ActNorm sets its scale and shift from the first batch it "
                  "sees (run the flow on data first)")
        s, t = _array(module.s), _array(module.t)
        if s.shape != (1, dim) or t.shape != (1, dim):
            _fail(module, where, f"parameters of shapes {s.shape}, {t.shape}: only (1, {dim}) vectors")
        return [builder.ActNorm(np.exp(-s[0]), -t[0] * np.exp(-s[0]))]  # z = (x - t) exp(-s)
    _fail(module, where, "nfmlir imports normflows' AffineCouplingBlock, MaskedAffineAutoregressive, "
          "CoupledRationalQuadraticSpline, AutoregressiveRationalQuadraticSpline, Permute, ActNorm, AffineConstFlow "
          "and Composite")


def _normflows_base(q0, dim):
    """(base, ConditionalStandardize encoder or None) of normflows' DiagGaussian, ConditionalDiagGaussian or
    Uniform base over `dim` features."""
    names = _names(q0)
    where = "the base distribution"
    shape = tuple(getattr(q0, "shape", ()))
    if shape != (dim,):
        _fail(q0, where, f"shape {shape}: only vectors of the flow's {dim} features")
    if "ConditionalDiagGaussian" in names:
        return builder.StandardNormal(dim), _base_encoder(q0, dim, q0.context_encoder)
    if "DiagGaussian" in names:
        loc, log_scale = _array(q0.loc).reshape(-1), _array(q0.log_scale).reshape(-1)
        if getattr(q0, "temperature", None) is not None:
            log_scale = log_scale + math.log(q0.temperature)
        if np.all(loc == 0) and np.all(log_scale == 0):
            return builder.StandardNormal(dim), None
        return builder.DiagNormal(loc, log_scale), None
    if "Uniform" in names and hasattr(q0, "low"):
        low, high = float(q0.low), float(q0.high)
        return builder.Uniform(np.full(dim, low), np.full(dim, high)), None
    _fail(q0, where, "only normflows' DiagGaussian, ConditionalDiagGaussian and Uniform bases are supported")


def _normflows_dim(flow):
    """The number of features: the base's shape."""
    shape = tuple(getattr(flow.q0, "shape", ()))
    if len(shape) != 1:
        _fail(flow.q0, "the base distribution", f"shape {shape}: only vectors")
    return int(shape[0])


def _normflows_context_dim(flow):
    """A ConditionalNormalizingFlow's context width: the first conditioner's (MADE `context_layer`,
    `context_features` of a coupling net) or the base encoder's; 0 for a NormalizingFlow."""
    if "ConditionalNormalizingFlow" not in _names(flow):
        return 0
    for module in flow.modules():
        context = getattr(module, "context_layer", None)
        if "MADE" in _names(module) and context is not None:
            return int(context.in_features)
        if getattr(module, "context_features", None) and hasattr(module, "initial_layer"):
            return int(module.context_features)
    encoder = getattr(flow.q0, "context_encoder", None)
    first = None if encoder is None else next((m for m in encoder.modules() if hasattr(m, "in_features")), None)
    return 0 if first is None else int(first.in_features)


def _from_normflows(flow, dtype, name):
    """normflows' NormalizingFlow(q0, flows) (or ConditionalNormalizingFlow) as an nfmlir.Model of its log_prob:
    the flows' inverses from the last to the first, then q0."""
    dim = _normflows_dim(flow)
    context_dim = _normflows_context_dim(flow)
    base, encoder = _normflows_base(flow.q0, dim)
    flows = list(flow.flows)
    layers = [layer for index in reversed(range(len(flows)))
              for layer in _normflows_layers(flows[index], f"position {index}", dim, context_dim)]
    if encoder is not None:
        if encoder.in_features != context_dim:
            _fail(flow.q0, "the base distribution", f"its context encoder takes {encoder.in_features} values, the "
                  f"flow has a context of {context_dim}")
        layers.append(builder.ConditionalStandardize(encoder))
    return builder.Model(_merge_permutations(layers), base, context_dim=context_dim, dtype=dtype, name=name)


def from_torch(flow, dtype="float32", name="model"):
    """An nfmlir.Model with the numbers of the PyTorch flow `flow`:
    conditioner weights transposed to (in, out), MADE masks applied,
    nflows' 1/sqrt(hidden_features) spline scaling folded into the last
    layer, LU diagonals softplus(theta) + eps computed, BatchNorm (eval mode)
    turned into its running statistics and log weight, permutations mapped;
    nflows' ResidualNet and residual MADE become nfmlir.ResidualNet and
    ResidualMADE conditioners, a ConditionalDiagonalNormal base a
    ConditionalStandardize layer before N(0, I). zuko flows (`transform`,
    `base`) give flow(c).log_prob(x), normflows flows (`q0`, `flows`) their
    log_prob(x[, context]).

    Raises UnsupportedLayerError (a TypeError) naming the class and the
    position ("3", or "3.1" inside nested composites) of a layer it cannot
    represent."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover
        raise ImportError("nfmlir.from_torch needs PyTorch") from e
    if not isinstance(flow, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module flow, not {type(flow).__name__}")
    if "LazyDistribution" in _names(flow) or (hasattr(flow, "transform") and hasattr(flow, "base")):
        return _from_zuko(flow, dtype, name)
    if hasattr(flow, "q0") and hasattr(flow, "flows"):
        return _from_normflows(flow, dtype, name)
    embedding = getattr(flow, "_embedding_net", None)
    if embedding is not None and "Identity" not in _names(embedding):
        raise UnsupportedLayerError(f"unsupported layer {type(embedding).__name__} at the flow's embedding net: "
                                    f"context embedding nets are not supported")
    transform = getattr(flow, "_transform", None)
    if transform is None:
        transform = getattr(flow, "transform", None)
    if transform is None:
        raise UnsupportedLayerError(f"{type(flow).__name__} is not a flow: it has no `_transform`")
    dim, conditional_base = _base(flow)
    encoder = None if conditional_base is None else _base_encoder(conditional_base, dim)
    modules = _flatten(transform, "") if hasattr(transform, "_transforms") else [(transform, "0")]
    context_dim = _context_dim(flow, modules, encoder)
    layers = []
    for module, where in modules:
        layers += _layer(module, f"position {where}", dim, context_dim)
    if encoder is not None:
        if encoder.in_features != context_dim:
            _fail(conditional_base, "the base distribution", f"its context encoder takes {encoder.in_features} "
                  f"values, the flow has a context of {context_dim}")
        layers.append(builder.ConditionalStandardize(encoder))
    return builder.Model(layers, builder.StandardNormal(dim), context_dim=context_dim, dtype=dtype, name=name)
