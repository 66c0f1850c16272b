"""Small PyTorch flows with nflows' parameter layout and semantics.

nflows (bayesiains/nflows) and its peers cannot be installed here, so the
project ships these modules, written from the documented math (not copied),
to train flows in PyTorch and import them with `nfmlir.from_torch`. Names,
attribute names, parameter shapes and the maths follow nflows, so a module
written for nflows' layout (or nflows' own modules, where they agree) can be
imported too; the differences are listed per class.

Conventions (as in nflows):

* Every transform's `forward(inputs, context=None)` is the normalizing map
  x -> z and returns `(outputs, logabsdet)`, logabsdet = log|det dz/dx| per
  row; `inverse(inputs, context=None)` is the generative map z -> x and
  returns the log|det| of that inverse map (minus the forward one).
* `Flow.log_prob(x) = base.log_prob(z | context) + logabsdet`, base N(0, I)
  or a ConditionalDiagonalNormal.
* Data are 2-D tensors (batch, features); contexts (batch, context features).
* Conditioners see the context concatenated after their inputs
  ([x_A, context] for couplings; ResidualNet also gates its blocks by it);
  MADE adds a linear function of the context to its first hidden layer,
  ResidualMADE (nflows' MADE) act(context_layer(context)).

Only this module and `nfmlir.importer` import torch.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "MLP",
    "MADE",
    "ResidualMADE",
    "ResidualNet",
    "ResidualBlock",
    "MaskedResidualBlock",
    "MaskedLinear",
    "Transform",
    "CompositeTransform",
    "AffineCouplingTransform",
    "AdditiveCouplingTransform",
    "PiecewiseRationalQuadraticCouplingTransform",
    "MaskedAffineAutoregressiveTransform",
    "MaskedPiecewiseRationalQuadraticAutoregressiveTransform",
    "LULinear",
    "ActNorm",
    "BatchNorm",
    "Permutation",
    "RandomPermutation",
    "ReversePermutation",
    "StandardNormal",
    "ConditionalDiagonalNormal",
    "Flow",
    "SimpleRealNVP",
    "MaskedAutoregressiveFlow",
    "unconstrained_rational_quadratic_spline",
    "SCALE_FUNCTIONS",
]

DEFAULT_MIN_BIN_WIDTH = 1e-3
DEFAULT_MIN_BIN_HEIGHT = 1e-3
DEFAULT_MIN_DERIVATIVE = 1e-3

# Activation modules by name; nfmlir.MLP supports the same names.
_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
}


def _activation_module(activation):
    if isinstance(activation, nn.Module):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} or an nn.Module, not {activation!r}")
    return _ACTIVATIONS[activation]()


def _activation_function(activation):
    """A name's module, or the callable as given (nflows passes functions such as F.relu)."""
    return activation if callable(activation) else _activation_module(activation)


# The scales of affine layers from the unconstrained conditioner output h.
SCALE_FUNCTIONS = {
    "sigmoid": lambda h: torch.sigmoid(h + 2) + 1e-3,  # nflows' affine coupling
    "softplus": lambda h: F.softplus(h) + 1e-3,  # nflows' MAF (no clamp)
    "exp": torch.exp,
}


def _masked_blocks(degrees, num_blocks, make_block):
    """`num_blocks` masked blocks chained by their degrees (`make_block(input
    degrees)`), as an nn.ModuleList, and the last block's output degrees."""
    blocks = []
    for _ in range(num_blocks):
        blocks.append(make_block(degrees))
        degrees = blocks[-1].degrees
    return nn.ModuleList(blocks), degrees


def _near_zero(linear):
    """nflows' zero_initialization of a residual block's last layer."""
    nn.init.uniform_(linear.weight, -1e-3, 1e-3)
    nn.init.uniform_(linear.bias, -1e-3, 1e-3)


def _sum_rows(values):
    return values.reshape(values.shape[0], -1).sum(1)


def _check_inputs(owner, inputs, features):
    if inputs.dim() != 2 or inputs.shape[1] != features:
        raise ValueError(f"{owner}: expected inputs of shape (batch, {features}), got {tuple(inputs.shape)}")


# -- conditioners --------------------------------------------------------------------


class MLP(nn.Module):
    """A Linear/activation stack, the coupling conditioner.

    in_features (+ context_features) -> hidden_features (num_blocks hidden
    layers, each followed by the activation) -> out_features (no output
    activation). The context is concatenated after the inputs.

    Layout read by the importer: `net`, an nn.Sequential of nn.Linear and
    activation modules (ReLU, Tanh, ELU, Sigmoid, LeakyReLU(0.01));
    `context_features` (0 without context); `hidden_features`, an int. As in
    nflows, spline coupling layers divide the raw widths and heights by
    sqrt(net.hidden_features) when their net has that attribute (nflows'
    ResidualNet has it); the importer folds that factor into the last layer.
    nflows' ResidualNet (residual blocks) is ResidualNet below.
    """

    def __init__(self, in_features, out_features, hidden_features, context_features=None, num_blocks=2,
                 activation="relu"):
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"MLP: num_blocks must be >= 1, not {num_blocks}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.hidden_features = int(hidden_features)
        self.context_features = int(context_features or 0)
        sizes = [self.in_features + self.context_features] + [self.hidden_features] * num_blocks
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), _activation_module(activation)]
        layers.append(nn.Linear(sizes[-1], self.out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, inputs, context=None):
        if self.context_features:
            if context is None:
                raise ValueError(f"MLP: needs a context with {self.context_features} features")
            inputs = torch.cat([inputs, context], 1)
        return self.net(inputs)


def _made_degrees(features, out_features, is_output):
    """nflows' sequential MADE degrees: hidden units arange(H) % max(1, D - 1)
    + min(1, D - 1); outputs [1, 1, ..., 2, 2, ...] (each input degree
    repeated out_features // D times)."""
    if is_output:
        return torch.arange(1, features + 1).repeat_interleave(out_features // features)
    return torch.arange(out_features) % max(1, features - 1) + min(1, features - 1)


class MaskedLinear(nn.Linear):
    """nn.Linear whose weight is multiplied by the 0/1 buffer `mask` (shape
    (out, in), like the weight): hidden units connect where out_degree >=
    in_degree, outputs where out_degree > in_degree. Buffer `degrees` holds
    the output degrees."""

    def __init__(self, in_degrees, out_features, autoregressive_features, is_output):
        super().__init__(len(in_degrees), out_features)
        degrees = _made_degrees(autoregressive_features, out_features, is_output)
        if is_output:
            mask = degrees[:, None] > in_degrees[None, :]
        else:
            mask = degrees[:, None] >= in_degrees[None, :]
        self.register_buffer("mask", mask.to(self.weight.dtype))
        self.register_buffer("degrees", degrees)

    def forward(self, inputs):
        return F.linear(inputs, self.weight * self.mask, self.bias)


class _MaskedFeedforwardBlock(nn.Module):
    """dropout(activation(linear(batch_norm(inputs)))), linear a MaskedLinear
    of the same width (nflows' MaskedFeedforwardBlock; `batch_norm` a
    BatchNorm1d(eps=1e-3) with use_batch_norm, else None)."""

    def __init__(self, in_degrees, autoregressive_features, activation, dropout_probability=0.0,
                 use_batch_norm=False):
        super().__init__()
        self.batch_norm = nn.BatchNorm1d(len(in_degrees), eps=1e-3) if use_batch_norm else None
        self.linear = MaskedLinear(in_degrees, len(in_degrees), autoregressive_features, False)
        self.activation = activation
        self.dropout = nn.Dropout(dropout_probability)
        self.degrees = self.linear.degrees

    def forward(self, inputs, context=None):
        temps = self.batch_norm(inputs) if self.batch_norm is not None else inputs
        return self.dropout(self.activation(self.linear(temps)))


class MADE(nn.Module):
    """A masked autoencoder (Germain et al. 2015) with nflows' sequential
    degrees and feedforward (not residual) blocks:

        h = act(initial_layer(x) + context_layer(context))
        h = act(blocks[i].linear(h))        for each of the num_blocks blocks (batch_norm(h) first
                                            with use_batch_norm; dropout after the activation)
        out = final_layer(h)                features * output_multiplier values

    Output j depends only on x_{<j // output_multiplier + 1} (1-based
    degrees) and the context. The parameters have the layout of nflows'
    MADE(use_residual_blocks=False): MaskedLinear `initial_layer`, nn.Linear
    `context_layer` (with a context), `blocks[i].linear`, `final_layer`.

    Differences from nflows' MADE: its residual blocks (nflows' default) are
    in ResidualMADE, which also has nflows' context handling; nflows adds
    act(context_layer(context)) where this MADE adds context_layer(context)
    linearly (`context_activation = False`), so that the whole net is one
    nfmlir.MADE with the context appended to its inputs (the compiler inverts
    it incrementally). Like nflows' MADE it has no `hidden_features`
    attribute, so nflows' autoregressive spline does not rescale its widths
    and heights.
    """

    context_activation = False
    use_residual_blocks = False

    def __init__(self, features, hidden_features, context_features=None, num_blocks=2, output_multiplier=1,
                 activation="relu", use_residual_blocks=False, dropout_probability=0.0, use_batch_norm=False):
        super().__init__()
        if use_residual_blocks:
            raise ValueError("MADE: residual blocks (nflows' default) are in ResidualMADE; MADE is feedforward")
        self.features, self.output_multiplier = int(features), int(output_multiplier)
        self.context_features = int(context_features or 0)
        self.activation = _activation_function(activation)
        self.initial_layer = MaskedLinear(torch.arange(1, features + 1), hidden_features, features, False)
        if self.context_features:
            self.context_layer = nn.Linear(self.context_features, hidden_features)
        self.blocks, degrees = _masked_blocks(
            self.initial_layer.degrees, num_blocks,
            lambda d: _MaskedFeedforwardBlock(d, features, self.activation, dropout_probability, use_batch_norm))
        self.final_layer = MaskedLinear(degrees, features * output_multiplier, features, True)

    def forward(self, inputs, context=None):
        h = self.initial_layer(inputs)
        if self.context_features:
            if context is None:
                raise ValueError(f"MADE: needs a context with {self.context_features} features")
            h = h + self.context_layer(context)
        h = self.activation(h)
        for block in self.blocks:
            h = block(h, context)
        return self.final_layer(h)


def _batch_norms(features):
    """The two BatchNorm1d of nflows' residual blocks (eps 1e-3)."""
    return nn.ModuleList([nn.BatchNorm1d(features, eps=1e-3) for _ in range(2)])


class ResidualBlock(nn.Module):
    """nflows' ResidualBlock (pre-activation), on (batch, features):

        t = act(batch_norm_layers[0](h)); t = linear_layers[0](t); t = batch_norm_layers[1](t)
        t = act(t); t = dropout(t); t = linear_layers[1](t)
        with a context: t = F.glu(cat(t, context_layer(context))) = t * sigmoid(context_layer(context))
        out = h + t

    Batch norms (BatchNorm1d, eps 1e-3) only with `use_batch_norm`. With
    zero_initialization (nflows' default) linear_layers[1] starts in
    U(-1e-3, 1e-3), so the block starts near the identity."""

    def __init__(self, features, context_features, activation=F.relu, dropout_probability=0.0, use_batch_norm=False,
                 zero_initialization=True):
        super().__init__()
        self.activation = _activation_function(activation)
        self.use_batch_norm = use_batch_norm
        if use_batch_norm:
            self.batch_norm_layers = _batch_norms(features)
        if context_features is not None:
            self.context_layer = nn.Linear(context_features, features)
        self.linear_layers = nn.ModuleList([nn.Linear(features, features) for _ in range(2)])
        self.dropout = nn.Dropout(p=dropout_probability)
        if zero_initialization:
            _near_zero(self.linear_layers[-1])

    def forward(self, inputs, context=None):
        temps = self.batch_norm_layers[0](inputs) if self.use_batch_norm else inputs
        temps = self.linear_layers[0](self.activation(temps))
        temps = self.batch_norm_layers[1](temps) if self.use_batch_norm else temps
        temps = self.linear_layers[1](self.dropout(self.activation(temps)))
        if context is not None:
            temps = F.glu(torch.cat((temps, self.context_layer(context)), dim=1), dim=1)
        return inputs + temps


class ResidualNet(nn.Module):
    """nflows' ResidualNet, the conditioner of its SimpleRealNVP and most
    neural-spline recipes:

        h = initial_layer(cat(inputs, context));  h = blocks[i](h, context);  out = final_layer(h)

    `hidden_features` and `context_features` (None without a context) as in
    nflows; spline couplings divide the raw widths and heights by
    sqrt(hidden_features) (nflows)."""

    def __init__(self, in_features, out_features, hidden_features, context_features=None, num_blocks=2,
                 activation=F.relu, dropout_probability=0.0, use_batch_norm=False):
        super().__init__()
        self.hidden_features = hidden_features
        self.context_features = context_features
        self.initial_layer = nn.Linear(in_features + (context_features or 0), hidden_features)
        self.blocks = nn.ModuleList([
            ResidualBlock(hidden_features, context_features, activation, dropout_probability, use_batch_norm)
            for _ in range(num_blocks)])
        self.final_layer = nn.Linear(hidden_features, out_features)

    def forward(self, inputs, context=None):
        temps = self.initial_layer(inputs if context is None else torch.cat((inputs, context), dim=1))
        for block in self.blocks:
            temps = block(temps, context=context)
        return self.final_layer(temps)


class MaskedResidualBlock(nn.Module):
    """nflows' MaskedResidualBlock: a ResidualBlock of MaskedLinear layers
    (sequential degrees, equal in and out) whose context is added, not
    gated: t = linear_layers[0](act(bn0(h))) + context_layer(context), then
    bn1, act, dropout, linear_layers[1]; out = h + t."""

    def __init__(self, in_degrees, autoregressive_features, context_features=None, activation=F.relu,
                 dropout_probability=0.0, use_batch_norm=False, zero_initialization=True):
        super().__init__()
        features = len(in_degrees)
        if context_features is not None:
            self.context_layer = nn.Linear(context_features, features)
        self.use_batch_norm = use_batch_norm
        if use_batch_norm:
            self.batch_norm_layers = _batch_norms(features)
        linear_0 = MaskedLinear(in_degrees, features, autoregressive_features, False)
        linear_1 = MaskedLinear(linear_0.degrees, features, autoregressive_features, False)
        self.linear_layers = nn.ModuleList([linear_0, linear_1])
        self.degrees = linear_1.degrees
        if not torch.all(self.degrees >= in_degrees):
            raise RuntimeError("MaskedResidualBlock: the output degrees can't be less than the input degrees")
        self.activation = activation
        self.dropout = nn.Dropout(p=dropout_probability)
        if zero_initialization:
            _near_zero(self.linear_layers[-1])

    def forward(self, inputs, context=None):
        temps = self.batch_norm_layers[0](inputs) if self.use_batch_norm else inputs
        temps = self.linear_layers[0](self.activation(temps))
        if context is not None:
            temps = temps + self.context_layer(context)
        temps = self.batch_norm_layers[1](temps) if self.use_batch_norm else temps
        temps = self.linear_layers[1](self.dropout(self.activation(temps)))
        return inputs + temps


class ResidualMADE(nn.Module):
    """nflows' MADE as nflows computes it, with its default residual blocks:

        h = initial_layer(x) [+ act(context_layer(context))]
        residual (use_residual_blocks, the default): h = blocks[i](h, context), MaskedResidualBlock
        feedforward: h = act(h), then h = blocks[i](h), _MaskedFeedforwardBlock
        out = final_layer(h)

    Sequential degrees only (random_mask=True is refused here; nflows' own
    MADEs with random masks import). The layout is nflows' MADE's (`initial_layer`, `context_layer`, `blocks`,
    `final_layer`, `use_residual_blocks`, `activation`); it has no
    `context_activation` attribute, as nflows' MADE."""

    def __init__(self, features, hidden_features, context_features=None, num_blocks=2, output_multiplier=1,
                 use_residual_blocks=True, random_mask=False, activation=F.relu, dropout_probability=0.0,
                 use_batch_norm=False):
        super().__init__()
        if random_mask:
            raise ValueError("ResidualMADE: random masks are not supported by the look-alike")
        self.initial_layer = MaskedLinear(torch.arange(1, features + 1), hidden_features, features, False)
        if context_features is not None:
            self.context_layer = nn.Linear(context_features, hidden_features)
        self.use_residual_blocks = use_residual_blocks
        self.activation = _activation_function(activation)
        if use_residual_blocks:
            def block(d):
                return MaskedResidualBlock(d, features, context_features, self.activation, dropout_probability,
                                           use_batch_norm)
        else:
            def block(d):
                return _MaskedFeedforwardBlock(d, features, self.activation, dropout_probability, use_batch_norm)
        self.blocks, degrees = _masked_blocks(self.initial_layer.degrees, num_blocks, block)
        self.final_layer = MaskedLinear(degrees, features * output_multiplier, features, True)

    def forward(self, inputs, context=None):
        temps = self.initial_layer(inputs)
        if context is not None:
            temps = temps + self.activation(self.context_layer(context))
        if not self.use_residual_blocks:
            temps = self.activation(temps)
        for block in self.blocks:
            temps = block(temps, context)
        return self.final_layer(temps)


def _made(features, hidden_features, context_features, num_blocks, output_multiplier, activation,
          use_residual_blocks, dropout_probability, use_batch_norm):
    """The autoregressive net of the masked transforms: MADE, or ResidualMADE
    with residual blocks."""
    if use_residual_blocks:
        return ResidualMADE(features, hidden_features, context_features, num_blocks, output_multiplier,
                            activation=activation, dropout_probability=dropout_probability,
                            use_batch_norm=use_batch_norm)
    return MADE(features, hidden_features, context_features, num_blocks, output_multiplier, activation,
                dropout_probability=dropout_probability, use_batch_norm=use_batch_norm)


# -- transforms ----------------------------------------------------------------------


class Transform(nn.Module):
    """Base class: forward(inputs, context) -> (z, log|det dz/dx|), inverse
    (z, context) -> (x, log|det dx/dz|)."""

    def forward(self, inputs, context=None):
        raise NotImplementedError

    def inverse(self, inputs, context=None):
        raise NotImplementedError


class CompositeTransform(Transform):
    """Transforms applied in order (`_transforms`, an nn.ModuleList);
    logabsdets add up. The inverse runs them backwards."""

    def __init__(self, transforms):
        super().__init__()
        self._transforms = nn.ModuleList(transforms)

    def forward(self, inputs, context=None):
        total = inputs.new_zeros(inputs.shape[0])
        for transform in self._transforms:
            inputs, logabsdet = transform(inputs, context)
            total = total + logabsdet
        return inputs, total

    def inverse(self, inputs, context=None):
        total = inputs.new_zeros(inputs.shape[0])
        for transform in reversed(self._transforms):
            inputs, logabsdet = transform.inverse(inputs, context)
            total = total + logabsdet
        return inputs, total


class _CouplingTransform(Transform):
    """Coupling layers (nflows' CouplingTransform on 2-D data).

    `mask` has one entry per feature: features with mask > 0 are
    transformed (B), the others (mask <= 0, A) pass through and, in
    increasing order and followed by the context, are the input of
    `transform_net`, which gives `_transform_dim_multiplier()` values per
    feature of B. Buffers `identity_features` and `transform_features`
    hold A and B (increasing). `net` is a module, or as in nflows a
    function (in_features, out_features) -> module."""

    def __init__(self, mask, net):
        super().__init__()
        mask = torch.as_tensor(mask)
        if mask.dim() != 1 or mask.numel() == 0:
            raise ValueError(f"{type(self).__name__}: mask must be a non-empty 1-D tensor, not shape "
                             f"{tuple(mask.shape)}")
        self.features = mask.numel()
        index = torch.arange(self.features)
        self.register_buffer("identity_features", index[mask <= 0])
        self.register_buffer("transform_features", index[mask > 0])
        if self.num_transform_features == 0:
            raise ValueError(f"{type(self).__name__}: the mask transforms no feature (none is > 0)")
        outputs = self.num_transform_features * self._transform_dim_multiplier()
        if not isinstance(net, nn.Module):
            net = net(self.num_identity_features, outputs)
        out_features = getattr(net, "out_features", outputs)
        if out_features != outputs:
            raise ValueError(f"{type(self).__name__}: the net must give {outputs} outputs "
                             f"({self._transform_dim_multiplier()} per transformed feature), not {out_features}")
        self.transform_net = net

    @property
    def num_identity_features(self):
        return len(self.identity_features)

    @property
    def num_transform_features(self):
        return len(self.transform_features)

    def _transform_dim_multiplier(self):
        raise NotImplementedError

    def _coupling(self, inputs, params, inverse):
        raise NotImplementedError

    def _couple(self, inputs, context, inverse):
        _check_inputs(type(self).__name__, inputs, self.features)
        params = self.transform_net(inputs[:, self.identity_features], context)
        out, logabsdet = self._coupling(inputs[:, self.transform_features], params, inverse)
        return inputs.index_copy(1, self.transform_features, out), logabsdet

    def forward(self, inputs, context=None):
        return self._couple(inputs, context, False)

    def inverse(self, inputs, context=None):
        return self._couple(inputs, context, True)


class AffineCouplingTransform(_CouplingTransform):
    """RealNVP affine coupling (nflows' AffineCouplingTransform):
    z_B = x_B * scale + shift, logabsdet = sum log scale, with
    shift = the first |B| net outputs and the unconstrained scale h = the
    last |B|; `scale_fn` "sigmoid" (nflows' default):
    scale = sigmoid(h + 2) + 1e-3; "softplus": softplus(h) + 1e-3 (nflows'
    "general" activation also clamps to [0, 3]: not supported); "exp": exp(h).
    Duck-typed modules without `scale_fn` are probed through their
    `scale_activation` or taken as "sigmoid"."""

    def __init__(self, mask, net, scale_fn="sigmoid"):
        if scale_fn not in SCALE_FUNCTIONS:
            raise ValueError(f"AffineCouplingTransform: scale_fn must be one of {sorted(SCALE_FUNCTIONS)}, "
                             f"not {scale_fn!r}")
        self.scale_fn = scale_fn
        super().__init__(mask, net)

    def _transform_dim_multiplier(self):
        return 2

    def scale_activation(self, h):
        return SCALE_FUNCTIONS[self.scale_fn](h)

    def _coupling(self, inputs, params, inverse):
        b = self.num_transform_features
        shift, scale = params[:, :b], self.scale_activation(params[:, b:])
        log_scale = torch.log(scale)
        if inverse:
            return (inputs - shift) / scale, -_sum_rows(log_scale)
        return inputs * scale + shift, _sum_rows(log_scale)


class AdditiveCouplingTransform(_CouplingTransform):
    """NICE additive coupling: z_B = x_B + net(x_A); logabsdet 0."""

    def _transform_dim_multiplier(self):
        return 1

    def _coupling(self, inputs, params, inverse):
        zero = inputs.new_zeros(inputs.shape[0])
        return (inputs - params if inverse else inputs + params), zero


def _spline_params(params, features, num_bins, net):
    """(widths, heights, derivatives) from 3K - 1 raw values per feature
    (contiguous), widths and heights divided by sqrt(net.hidden_features)
    when the net has that attribute (nflows)."""
    params = params.reshape(params.shape[0], features, 3 * num_bins - 1)
    widths, heights = params[..., :num_bins], params[..., num_bins:2 * num_bins]
    derivatives = params[..., 2 * num_bins:]
    if hasattr(net, "hidden_features"):
        factor = math.sqrt(net.hidden_features)
        widths, heights = widths / factor, heights / factor
    return widths, heights, derivatives


def _check_spline(owner, num_bins, tail_bound):
    if num_bins < 2 or num_bins * DEFAULT_MIN_BIN_WIDTH > 1:
        raise ValueError(f"{owner}: needs 2 <= num_bins <= 1000, not {num_bins}")
    if not tail_bound > 0:
        raise ValueError(f"{owner}: tail_bound must be > 0, not {tail_bound!r}")


class PiecewiseRationalQuadraticCouplingTransform(_CouplingTransform):
    """Rational-quadratic spline coupling (RQ-NSF (C); nflows'
    PiecewiseRationalQuadraticCouplingTransform with tails="linear"): per
    transformed feature the net gives 3K - 1 contiguous raw values, K widths,
    K heights and K - 1 interior derivatives, of an elementwise spline on
    [-tail_bound, tail_bound], the identity outside (see
    unconstrained_rational_quadratic_spline). Widths and heights are divided
    by sqrt(transform_net.hidden_features) when the net has that attribute,
    as in nflows. Only linear tails; minimum bin width, height and derivative
    1e-3."""

    tails = "linear"
    min_bin_width = DEFAULT_MIN_BIN_WIDTH
    min_bin_height = DEFAULT_MIN_BIN_HEIGHT
    min_derivative = DEFAULT_MIN_DERIVATIVE

    def __init__(self, mask, net, num_bins=10, tail_bound=1.0):
        _check_spline(type(self).__name__, num_bins, tail_bound)
        self.num_bins, self.tail_bound = int(num_bins), float(tail_bound)
        super().__init__(mask, net)

    def _transform_dim_multiplier(self):
        return 3 * self.num_bins - 1

    def _coupling(self, inputs, params, inverse):
        w, h, d = _spline_params(params, inputs.shape[1], self.num_bins, self.transform_net)
        out, logabsdet = unconstrained_rational_quadratic_spline(inputs, w, h, d, inverse, self.tail_bound)
        return out, _sum_rows(logabsdet)


class _AutoregressiveTransform(Transform):
    """z = f(x; MADE(x)) elementwise; the inverse runs D MADE passes from
    zeros (nflows' AutoregressiveTransform)."""

    def __init__(self, features, autoregressive_net):
        super().__init__()
        self.features = int(features)
        self.autoregressive_net = autoregressive_net

    def forward(self, inputs, context=None):
        _check_inputs(type(self).__name__, inputs, self.features)
        return self._elementwise(inputs, self.autoregressive_net(inputs, context), False)

    def inverse(self, inputs, context=None):
        _check_inputs(type(self).__name__, inputs, self.features)
        outputs = torch.zeros_like(inputs)
        logabsdet = None
        for _ in range(self.features):
            outputs, logabsdet = self._elementwise(inputs, self.autoregressive_net(outputs, context), True)
        return outputs, logabsdet


class MaskedAffineAutoregressiveTransform(_AutoregressiveTransform):
    """MAF (nflows' MaskedAffineAutoregressiveTransform): `autoregressive_net`
    is a MADE (ResidualMADE with use_residual_blocks, nflows' default, which
    this class does not default to) with output multiplier 2, read as
    (batch, D, 2): [..., 0] the unconstrained scale h, [..., 1] the shift
    (interleaved per feature); z = scale * x + shift, scale = softplus(h) +
    1e-3 (`scale_fn`: also "sigmoid", sigmoid(h + 2) + 1e-3, older nflows,
    or "exp"); logabsdet = sum log scale."""

    def __init__(self, features, hidden_features, context_features=None, num_blocks=2, activation="relu",
                 scale_fn="softplus", use_residual_blocks=False, dropout_probability=0.0, use_batch_norm=False):
        if scale_fn not in SCALE_FUNCTIONS:
            raise ValueError(f"MaskedAffineAutoregressiveTransform: scale_fn must be one of "
                             f"{sorted(SCALE_FUNCTIONS)}, not {scale_fn!r}")
        self.scale_fn = scale_fn
        made = _made(features, hidden_features, context_features, num_blocks, 2, activation, use_residual_blocks,
                     dropout_probability, use_batch_norm)
        super().__init__(features, made)

    def _elementwise(self, inputs, params, inverse):
        params = params.view(-1, self.features, 2)
        scale, shift = SCALE_FUNCTIONS[self.scale_fn](params[..., 0]), params[..., 1]
        log_scale = torch.log(scale)
        if inverse:
            return (inputs - shift) / scale, -_sum_rows(log_scale)
        return scale * inputs + shift, _sum_rows(log_scale)


class MaskedPiecewiseRationalQuadraticAutoregressiveTransform(_AutoregressiveTransform):
    """RQ-NSF (AR) (nflows' MaskedPiecewiseRationalQuadraticAutoregressiveTransform
    with tails="linear"): the MADE (ResidualMADE with use_residual_blocks)
    gives 3K - 1 contiguous raw values per feature (K widths, K heights,
    K - 1 interior derivatives), as for the spline coupling. The MADEs have
    no `hidden_features`, so (as with nflows' MADE) no 1/sqrt scaling
    happens."""

    tails = "linear"
    min_bin_width = DEFAULT_MIN_BIN_WIDTH
    min_bin_height = DEFAULT_MIN_BIN_HEIGHT
    min_derivative = DEFAULT_MIN_DERIVATIVE

    def __init__(self, features, hidden_features, context_features=None, num_bins=10, tail_bound=1.0,
                 num_blocks=2, activation="relu", use_residual_blocks=False, dropout_probability=0.0,
                 use_batch_norm=False):
        _check_spline(type(self).__name__, num_bins, tail_bound)
        self.num_bins, self.tail_bound = int(num_bins), float(tail_bound)
        made = _made(features, hidden_features, context_features, num_blocks, 3 * num_bins - 1, activation,
                     use_residual_blocks, dropout_probability, use_batch_norm)
        super().__init__(features, made)

    def _elementwise(self, inputs, params, inverse):
        w, h, d = _spline_params(params, self.features, self.num_bins, self.autoregressive_net)
        out, logabsdet = unconstrained_rational_quadratic_spline(inputs, w, h, d, inverse, self.tail_bound)
        return out, _sum_rows(logabsdet)


class LULinear(Transform):
    """z = L U x + bias (nflows' LULinear): L unit lower triangular with the
    strictly lower entries `lower_entries` (row-major order of
    tril_indices(D, -1)), U upper triangular with strictly upper entries
    `upper_entries` (row-major triu_indices(D, 1)) and diagonal
    softplus(`unconstrained_upper_diag`) + eps (eps = 1e-3); `bias`.
    logabsdet = sum log diag(U). The identity at initialization by default."""

    def __init__(self, features, identity_init=True, eps=1e-3):
        super().__init__()
        self.features, self.eps = int(features), float(eps)
        n = self.features
        self.lower_entries = nn.Parameter(torch.zeros(n * (n - 1) // 2))
        self.upper_entries = nn.Parameter(torch.zeros(n * (n - 1) // 2))
        self.unconstrained_upper_diag = nn.Parameter(torch.zeros(n))
        self.bias = nn.Parameter(torch.zeros(n))
        with torch.no_grad():
            if identity_init:
                self.unconstrained_upper_diag.fill_(math.log(math.expm1(1 - self.eps)))
            else:
                bound = 1 / math.sqrt(n)
                for p in (self.lower_entries, self.upper_entries, self.unconstrained_upper_diag):
                    p.uniform_(-bound, bound)

    @property
    def upper_diag(self):
        return F.softplus(self.unconstrained_upper_diag) + self.eps

    def lower_upper(self):
        """(L, U) as dense matrices."""
        n = self.features
        lower = self.lower_entries.new_zeros(n, n)
        upper = self.upper_entries.new_zeros(n, n)
        rows, cols = torch.tril_indices(n, n, -1)
        lower = lower.index_put((rows, cols), self.lower_entries) + torch.eye(n, dtype=lower.dtype)
        rows, cols = torch.triu_indices(n, n, 1)
        upper = upper.index_put((rows, cols), self.upper_entries) + torch.diag(self.upper_diag)
        return lower, upper

    def logabsdet(self):
        return torch.log(self.upper_diag).sum()

    def forward(self, inputs, context=None):
        _check_inputs("LULinear", inputs, self.features)
        lower, upper = self.lower_upper()
        outputs = F.linear(F.linear(inputs, upper), lower, self.bias)
        return outputs, self.logabsdet() * inputs.new_ones(inputs.shape[0])

    def inverse(self, inputs, context=None):
        _check_inputs("LULinear", inputs, self.features)
        lower, upper = self.lower_upper()
        t = torch.linalg.solve_triangular(lower, (inputs - self.bias).T, upper=False, unitriangular=True)
        outputs = torch.linalg.solve_triangular(upper, t, upper=True).T
        return outputs, -self.logabsdet() * inputs.new_ones(inputs.shape[0])


class ActNorm(Transform):
    """z = exp(log_scale) * x + shift per feature (nflows' ActNorm, vectors);
    logabsdet = sum log_scale. The first forward call in training mode sets
    log_scale = -log(std(x)), shift = -mean(x / std(x)) from the batch."""

    def __init__(self, features):
        super().__init__()
        self.initialized = False
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.shift = nn.Parameter(torch.zeros(features))

    @property
    def scale(self):
        return torch.exp(self.log_scale)

    def forward(self, inputs, context=None):
        _check_inputs("ActNorm", inputs, self.log_scale.numel())
        if self.training and not self.initialized:
            with torch.no_grad():
                std = inputs.std(0)
                self.log_scale.data = -torch.log(std)
                self.shift.data = -(inputs / std).mean(0)
            self.initialized = True
        return self.scale * inputs + self.shift, self.log_scale.sum() * inputs.new_ones(inputs.shape[0])

    def inverse(self, inputs, context=None):
        _check_inputs("ActNorm", inputs, self.log_scale.numel())
        return (inputs - self.shift) / self.scale, -self.log_scale.sum() * inputs.new_ones(inputs.shape[0])


class BatchNorm(Transform):
    """Batch normalization as a flow (nflows' BatchNorm):
    z = weight * (x - mean) / sqrt(var + eps) + bias, weight =
    softplus(`unconstrained_weight`) + eps; logabsdet = sum (log weight -
    1/2 log(var + eps)). Training mode uses the batch mean and unbiased
    variance and updates the buffers `running_mean`, `running_var`
    (momentum 0.1; they start at 0, as in nflows); eval mode uses the
    buffers. The inverse (and the import) need eval mode."""

    def __init__(self, features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = float(eps), float(momentum)
        self.unconstrained_weight = nn.Parameter(torch.full((features,), math.log(math.expm1(1 - self.eps))))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.zeros(features))

    @property
    def weight(self):
        return F.softplus(self.unconstrained_weight) + self.eps

    def forward(self, inputs, context=None):
        _check_inputs("BatchNorm", inputs, self.bias.numel())
        if self.training:
            mean, var = inputs.mean(0), inputs.var(0)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(mean * self.momentum)
                self.running_var.mul_(1 - self.momentum).add_(var * self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        outputs = self.weight * ((inputs - mean) / torch.sqrt(var + self.eps)) + self.bias
        logabsdet = (torch.log(self.weight) - 0.5 * torch.log(var + self.eps)).sum()
        return outputs, logabsdet * inputs.new_ones(inputs.shape[0])

    def inverse(self, inputs, context=None):
        if self.training:
            raise RuntimeError("BatchNorm: the inverse is only available in eval mode (call .eval())")
        _check_inputs("BatchNorm", inputs, self.bias.numel())
        std = torch.sqrt(self.running_var + self.eps)
        outputs = std * ((inputs - self.bias) / self.weight) + self.running_mean
        logabsdet = (0.5 * torch.log(self.running_var + self.eps) - torch.log(self.weight)).sum()
        return outputs, logabsdet * inputs.new_ones(inputs.shape[0])


class Permutation(Transform):
    """z[:, i] = x[:, permutation[i]] (buffer `_permutation`); logabsdet 0."""

    def __init__(self, permutation):
        super().__init__()
        permutation = torch.as_tensor(permutation, dtype=torch.long)
        if permutation.dim() != 1 or not torch.equal(permutation.sort().values, torch.arange(permutation.numel())):
            raise ValueError(f"Permutation: {permutation.tolist()} is not a permutation")
        self.register_buffer("_permutation", permutation)
        self._dim = 1

    def forward(self, inputs, context=None):
        _check_inputs(type(self).__name__, inputs, self._permutation.numel())
        return inputs[:, self._permutation], inputs.new_zeros(inputs.shape[0])

    def inverse(self, inputs, context=None):
        _check_inputs(type(self).__name__, inputs, self._permutation.numel())
        return inputs[:, torch.argsort(self._permutation)], inputs.new_zeros(inputs.shape[0])


class RandomPermutation(Permutation):
    """A fixed random permutation (torch.randperm at construction)."""

    def __init__(self, features):
        super().__init__(torch.randperm(features))


class ReversePermutation(Permutation):
    """Reverses the features."""

    def __init__(self, features):
        super().__init__(torch.arange(features - 1, -1, -1))


# -- the rational-quadratic spline ---------------------------------------------------------


def _knots(raw, tail_bound, minimum):
    """Knots -B = k_0 < ... < k_K = B from raw widths (or heights) and the
    bin sizes k_{i+1} - k_i, as nflows: min + (1 - K min) softmax(raw),
    cumulated, scaled to [-B, B], both ends pinned exactly."""
    k = raw.shape[-1]
    sizes = minimum + (1 - minimum * k) * torch.softmax(raw, -1)
    inner = 2 * tail_bound * torch.cumsum(sizes, -1)[..., :-1] - tail_bound
    ends = raw.new_full(raw.shape[:-1] + (1,), tail_bound)
    knots = torch.cat([-ends, inner, ends], -1)
    return knots, knots[..., 1:] - knots[..., :-1]


def _take(values, index):
    return values.gather(-1, index[..., None])[..., 0]


def unconstrained_rational_quadratic_spline(inputs, unnormalized_widths, unnormalized_heights,
                                            unnormalized_derivatives, inverse=False, tail_bound=1.0,
                                            min_bin_width=DEFAULT_MIN_BIN_WIDTH,
                                            min_bin_height=DEFAULT_MIN_BIN_HEIGHT,
                                            min_derivative=DEFAULT_MIN_DERIVATIVE):
    """nflows' unconstrained rational-quadratic spline with linear tails
    (Durkan et al. 2019), elementwise: returns (outputs, logabsdet) of the
    same shape as `inputs` (the spline, or its inverse and -log g').

    Widths and heights (..., K) go through min + (1 - K min) softmax, the
    interior derivatives (..., K - 1) through min_derivative + softplus; the
    boundary derivatives are exactly 1 (nflows pads with
    log(exp(1 - min_d) - 1), which gives 1 up to rounding). Outside
    [-B, B] the map is the identity with logabsdet 0. The bin is nflows'
    searchsorted (sum(x >= knots) - 1, with 1e-6 added to the last knot).
    The inverse takes the root of the bin's quadratic in the form chosen by
    the sign of b, 2c / (-b - sqrt(b^2 - 4ac)) for b >= 0 (nflows' form)
    and (-b + sqrt(b^2 - 4ac)) / (2a) for b < 0, which avoids nflows'
    cancellation; b^2 - 4ac is clamped at 0. Branch-free (torch.where on
    clamped inputs), so tails and gradients stay finite."""
    bound = float(tail_bound)
    inside = (inputs >= -bound) & (inputs <= bound)
    x = inputs.clamp(-bound, bound)
    xk, widths = _knots(unnormalized_widths, bound, min_bin_width)
    yk, heights = _knots(unnormalized_heights, bound, min_bin_height)
    ones = unnormalized_derivatives.new_ones(unnormalized_derivatives.shape[:-1] + (1,))
    derivatives = torch.cat([ones, min_derivative + F.softplus(unnormalized_derivatives), ones], -1)
    edges = yk if inverse else xk
    edges = torch.cat([edges[..., :-1], edges[..., -1:] + 1e-6], -1)
    k = widths.shape[-1]
    index = ((x[..., None] >= edges).sum(-1) - 1).clamp(0, k - 1)
    x0, w, y0, h = _take(xk, index), _take(widths, index), _take(yk, index), _take(heights, index)
    d0, d1 = _take(derivatives, index), _take(derivatives[..., 1:], index)
    s = h / w
    curvature = d0 + d1 - 2 * s
    if inverse:
        r = x - y0
        a = h * (s - d0) + r * curvature
        b = h * d0 - r * curvature
        c = -s * r
        root = torch.sqrt(torch.clamp(b * b - 4 * a * c, min=0))
        positive = b >= 0
        theta = torch.where(positive, 2 * c / torch.where(positive, -b - root, -1.0),
                            (-b + root) / (2 * torch.where(positive, 1.0, a)))
        out = x0 + theta * w
    else:
        theta = (x - x0) / w
    t = theta * (1 - theta)
    denominator = s + curvature * t
    if not inverse:
        out = y0 + h * (s * theta**2 + d0 * t) / denominator
    log_derivative = (torch.log(s**2 * (d1 * theta**2 + 2 * s * t + d0 * (1 - theta) ** 2))
                      - 2 * torch.log(denominator))
    outputs = torch.where(inside, out, inputs)
    logabsdet = torch.where(inside, -log_derivative if inverse else log_derivative, torch.zeros_like(inputs))
    return outputs, logabsdet


# -- flows -----------------------------------------------------------------------------


class StandardNormal(nn.Module):
    """N(0, I) on `_shape` = [D] (nflows' StandardNormal)."""

    def __init__(self, shape):
        super().__init__()
        self._shape = torch.Size(shape)

    def log_prob(self, inputs, context=None):
        d = inputs.shape[1]
        return -0.5 * (inputs**2).sum(1) - 0.5 * d * math.log(2 * math.pi)

    def sample(self, num_samples, context=None, dtype=None):
        """(num_samples, D); with a context of B rows (only its size is
        used), (B, num_samples, D), as nflows."""
        rows = () if context is None else (context.shape[0],)
        return torch.randn(rows + (num_samples,) + tuple(self._shape), dtype=dtype)


def _identity(context):
    return context


class ConditionalDiagonalNormal(nn.Module):
    """N(means, diag(exp(log_stds))^2) on `_shape` = [D] given a context
    (nflows' ConditionalDiagonalNormal): `_context_encoder`(context) gives 2D
    values per row, the means (first half), then the log standard
    deviations; without an encoder the context holds them."""

    def __init__(self, shape, context_encoder=None):
        super().__init__()
        self._shape = torch.Size(shape)
        self._context_encoder = _identity if context_encoder is None else context_encoder

    def _compute_params(self, context):
        if context is None:
            raise ValueError("ConditionalDiagonalNormal: needs a context")
        params = self._context_encoder(context)
        if params.shape[-1] % 2:
            raise RuntimeError("ConditionalDiagonalNormal: the context encoder must give an even number of values")
        split = params.shape[-1] // 2
        return (params[..., :split].reshape(params.shape[0], *self._shape),
                params[..., split:].reshape(params.shape[0], *self._shape))

    def log_prob(self, inputs, context=None):
        means, log_stds = self._compute_params(context)
        norm = (inputs - means) * torch.exp(-log_stds)
        return -0.5 * _sum_rows(norm**2) - _sum_rows(log_stds) - 0.5 * inputs.shape[1] * math.log(2 * math.pi)

    def sample(self, num_samples, context=None, dtype=None):
        """(B, num_samples, D) for a context of B rows."""
        means, log_stds = self._compute_params(context)
        noise = torch.randn((context.shape[0], num_samples) + tuple(self._shape), dtype=means.dtype)
        return means[:, None] + torch.exp(log_stds)[:, None] * noise


class Flow(nn.Module):
    """A flow: `transforms` (a list or a Transform; the normalizing map
    x -> z) over a standard normal of `base_dim` features (or
    `distribution`, e.g. a ConditionalDiagonalNormal), optionally
    conditioned on a context of `context_dim` features.

    Layout read by the importer: `_transform` (a Transform; lists become a
    CompositeTransform), `_distribution` (a StandardNormal with `_shape`
    [base_dim], or a ConditionalDiagonalNormal), `context_dim`.
    """

    def __init__(self, transforms, base_dim, context_dim=0, distribution=None):
        super().__init__()
        if not isinstance(transforms, nn.Module):
            transforms = CompositeTransform(list(transforms))
        self._transform = transforms
        self._distribution = StandardNormal([int(base_dim)]) if distribution is None else distribution
        self.base_dim, self.context_dim = int(base_dim), int(context_dim)

    def _dtype(self):
        for p in self.parameters():
            return p.dtype
        return torch.get_default_dtype()

    def _context(self, context, rows):
        if self.context_dim == 0:
            if context is not None:
                raise ValueError("Flow: this flow takes no context")
            return None
        if context is None or context.dim() != 2 or context.shape[1] != self.context_dim:
            shape = None if context is None else tuple(context.shape)
            raise ValueError(f"Flow: needs a context of shape (batch, {self.context_dim}), not {shape}")
        if rows is not None and context.shape[0] != rows:
            raise ValueError(f"Flow: the context has {context.shape[0]} rows, the inputs {rows}")
        return context

    def log_prob(self, inputs, context=None):
        """log p(x | context) per row."""
        context = self._context(context, inputs.shape[0])
        noise, logabsdet = self._transform(inputs, context)
        return self._distribution.log_prob(noise, context) + logabsdet

    def transform_to_noise(self, inputs, context=None):
        """z = the normalizing map of x."""
        return self._transform(inputs, self._context(context, inputs.shape[0]))[0]

    def sample(self, num_samples, context=None):
        """num_samples rows, (num_samples, D); with a context of B rows, as
        nflows, (B, num_samples, D): num_samples per context row."""
        context = self._context(context, None)
        if context is None:
            noise = self._distribution.sample(num_samples, dtype=self._dtype())
            return self._transform.inverse(noise)[0]
        rows = context.shape[0]
        noise = self._distribution.sample(num_samples, context, dtype=self._dtype()).reshape(rows * num_samples, -1)
        samples, _ = self._transform.inverse(noise, context.repeat_interleave(num_samples, 0))
        return samples.reshape(rows, num_samples, -1)

    def sample_and_log_prob(self, num_samples, context=None):
        """(samples, log p(samples)) without a context: (n, D) and (n,)."""
        if self.context_dim:
            raise ValueError("Flow.sample_and_log_prob: only for flows without a context")
        noise = self._distribution.sample(num_samples, dtype=self._dtype())
        samples, logabsdet = self._transform.inverse(noise)
        return samples, self._distribution.log_prob(noise) - logabsdet


class SimpleRealNVP(Flow):
    """nflows' SimpleRealNVP: `num_layers` affine couplings (additive with
    use_volume_preserving) with alternating masks, the first transforming
    the odd features (mask[::2] = -1), each with a ResidualNet conditioner
    made by the coupling from (in_features, out_features) (nflows'
    transform_net_create_fn), optionally a BatchNorm after each; a
    StandardNormal base."""

    def __init__(self, features, hidden_features, num_layers, num_blocks_per_layer, use_volume_preserving=False,
                 activation=F.relu, dropout_probability=0.0, batch_norm_within_layers=False,
                 batch_norm_between_layers=False):
        coupling = AdditiveCouplingTransform if use_volume_preserving else AffineCouplingTransform
        mask = torch.ones(features)
        mask[::2] = -1

        def create_resnet(in_features, out_features):
            return ResidualNet(in_features, out_features, hidden_features, num_blocks=num_blocks_per_layer,
                               activation=activation, dropout_probability=dropout_probability,
                               use_batch_norm=batch_norm_within_layers)

        layers = []
        for _ in range(num_layers):
            layers.append(coupling(mask, create_resnet))
            mask = -mask
            if batch_norm_between_layers:
                layers.append(BatchNorm(features))
        super().__init__(CompositeTransform(layers), features)


class MaskedAutoregressiveFlow(Flow):
    """nflows' MaskedAutoregressiveFlow: `num_layers` times a permutation
    (reverse, or random with use_random_permutations), a MAF layer
    (ResidualMADE with use_residual_blocks, nflows' default) and optionally a
    BatchNorm; a StandardNormal base. use_random_masks is refused here
    (nflows' own flows with random masks import)."""

    def __init__(self, features, hidden_features, num_layers, num_blocks_per_layer, use_residual_blocks=True,
                 use_random_masks=False, use_random_permutations=False, activation=F.relu, dropout_probability=0.0,
                 batch_norm_within_layers=False, batch_norm_between_layers=False):
        if use_random_masks:
            raise ValueError("MaskedAutoregressiveFlow: random masks are not supported by the look-alike")
        permutation = RandomPermutation if use_random_permutations else ReversePermutation
        layers = []
        for _ in range(num_layers):
            layers.append(permutation(features))
            layers.append(MaskedAffineAutoregressiveTransform(
                features, hidden_features, num_blocks=num_blocks_per_layer, activation=activation,
                use_residual_blocks=use_residual_blocks, dropout_probability=dropout_probability,
                use_batch_norm=batch_norm_within_layers))
            if batch_norm_between_layers:
                layers.append(BatchNorm(features))
        super().__init__(CompositeTransform(layers), features)
