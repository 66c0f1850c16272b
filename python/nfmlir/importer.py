"""Import trained PyTorch flows (nflows' layout) as nfmlir models.

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


def _base_encoder(distribution, dim):
    """The context encoder of a ConditionalDiagonalNormal as an nfmlir.MLP or
    ResidualNet giving D means, then D log standard deviations."""
    import torch

    where, owner = "the base distribution", "ConditionalDiagonalNormal"
    label = f"{where} (the context encoder of {owner})"
    if dim < 2:
        _fail(distribution, where, "one feature: nfmlir imports it as two affine couplings over the even and the "
              "odd features (ConditionalStandardize), which needs at least 2 features")
    encoder = distribution._context_encoder
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


def from_torch(flow, dtype="float32", name="model"):
    """An nfmlir.Model with the numbers of the PyTorch flow `flow`:
    conditioner weights transposed to (in, out), MADE masks applied,
    nflows' 1/sqrt(hidden_features) spline scaling folded into the last
    layer, LU diagonals softplus(theta) + eps computed, BatchNorm (eval mode)
    turned into its running statistics and log weight, permutations mapped;
    nflows' ResidualNet and residual MADE become nfmlir.ResidualNet and
    ResidualMADE conditioners, a ConditionalDiagonalNormal base a
    ConditionalStandardize layer before N(0, I).

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
