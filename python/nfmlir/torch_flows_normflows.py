"""Small PyTorch flows with normflows' (1.7) module layout and semantics.

normflows cannot be installed here, so the project ships these look-alikes, written from normflows' documented
maths (not copied), to test `nfmlir.from_torch` on flows laid out as normflows lays them out; normflows' own
modules import the same way (the importer reads the attributes named below, recognising classes by the names in
their MRO). Built from the same seed they hold the same parameters as normflows' modules.

normflows' conventions, which these modules keep:

* A flow layer's `forward(z)` is the generative map z -> x and returns (x, log|det dx/dz|); `inverse(x)` is the
  normalizing map x -> z with log|det dz/dx|. `NormalizingFlow(q0, flows).log_prob(x)` runs the layers' inverses
  from the last to the first and adds `q0.log_prob(z)`; `ConditionalNormalizingFlow` passes `context=` to them.
* `AffineCouplingBlock(param_map, scale=True, scale_map="exp", split_mode="channel")` is
  `flows` = [Split, AffineCoupling, Merge]: z1 (the conditioning half) and z2 from the split, param_map(z1) gives
  per feature of z2 the interleaved [shift, raw scale s] (param[:, 0::2], param[:, 1::2]); forward
  z2 -> z2 exp(s) + shift ("exp"), z2 / sigmoid(s + 2) + shift ("sigmoid", Glow), z2 sigmoid(s + 2) + shift
  ("sigmoid_inv"), z2 + param without `scale`. Splits: "channel" (first ceil(D / 2) features are z1),
  "channel_inv" (the last floor(D / 2)), "checkerboard" (odd features), "checkerboard_inv" (even features).
* `MaskedAffineAutoregressive`: x = (sigmoid(h + 2) + 1e-3) z + shift with [h, shift] per feature from a MADE of
  z (nflows' older MAF); its inverse, the density direction, takes D MADE passes.
* `CoupledRationalQuadraticSpline` and `AutoregressiveRationalQuadraticSpline` wrap nflows-style rational-quadratic
  transforms (`prqct`, `mprqat`) with forward and inverse swapped; the coupling also transforms its identity
  features by an unconditional spline (apply_unconditional_transform=True).
* normflows' MADE differs from nflows': the context is added linearly to the first layer and gates the residual
  blocks (F.glu) as in ResidualNet; feedforward MADEs have no activation after the first layer; `permute_mask`
  permutes the input degrees (the feature order).
* `Permute(num_channels, mode)`: "shuffle" (buffers `perm`, `inv_perm`) or "swap" (the halves exchanged).
* `ActNorm(shape)` / `AffineConstFlow(shape)`: x = z exp(s) + t (`s`, `t` of shape (1, D)); ActNorm sets them
  from its first batch (buffer `data_dep_init_done`).
* `DiagGaussian(shape)`: `loc`, `log_scale` of shape (1, D), `temperature`; `ConditionalDiagGaussian(shape,
  context_encoder)`: the encoder gives the means, then the log scales; `Uniform(shape, low, high)`.

Only vectors (batch, D); linear spline tails only.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import torch_flows as tf

__all__ = [
    "Flow",
    "Composite",
    "Split",
    "Merge",
    "AffineCoupling",
    "AffineCouplingBlock",
    "AffineConstFlow",
    "ActNorm",
    "Permute",
    "MLP",
    "ResidualNet",
    "MaskedLinear",
    "MaskedFeedforwardBlock",
    "MaskedResidualBlock",
    "MADE",
    "MaskedAffineAutoregressive",
    "PiecewiseRationalQuadraticCDF",
    "PiecewiseRationalQuadraticCoupling",
    "MaskedPiecewiseRationalQuadraticAutoregressive",
    "CoupledRationalQuadraticSpline",
    "AutoregressiveRationalQuadraticSpline",
    "DiagGaussian",
    "ConditionalDiagGaussian",
    "Uniform",
    "NormalizingFlow",
    "ConditionalNormalizingFlow",
]

# log(exp(1 - min_derivative) - 1): the raw derivative whose min_derivative + softplus is 1
_UNIT_DERIVATIVE = math.log(math.expm1(1 - tf.DEFAULT_MIN_DERIVATIVE))


class Flow(nn.Module):
    """A normflows layer: forward(z) -> (x, log|det dx/dz|), inverse(x) -> (z, log|det dz/dx|)."""

    def forward(self, z):
        raise NotImplementedError

    def inverse(self, z):
        raise NotImplementedError


class Composite(Flow):
    """`_flows` applied in order (forward), backwards for the inverse."""

    def __init__(self, flows):
        super().__init__()
        self._flows = nn.ModuleList(flows)

    def _run(self, inputs, maps):
        total = inputs.new_zeros(inputs.shape[0])
        for fn in maps:
            inputs, logdet = fn(inputs)
            total = total + logdet
        return inputs, total

    def forward(self, inputs):
        return self._run(inputs, self._flows)

    def inverse(self, inputs):
        return self._run(inputs, [flow.inverse for flow in reversed(self._flows)])


def _split_index(mode, features):
    """(z1, z2) feature indices of a split `mode` of vectors."""
    half = (features + 1) // 2
    first, second = list(range(half)), list(range(half, features))
    odd, even = list(range(1, features, 2)), list(range(0, features, 2))
    return {"channel": (first, second), "channel_inv": (second, first), "checkerboard": (odd, even),
            "checkerboard_inv": (even, odd)}[mode]


class Split(Flow):
    """z -> [z1, z2] by `mode` (module docstring); log|det| 0."""

    def __init__(self, mode="channel"):
        super().__init__()
        if mode not in ("channel", "channel_inv", "checkerboard", "checkerboard_inv"):
            raise NotImplementedError(f"Split: mode {mode!r}")
        self.mode = mode

    def _split(self, z):
        a, b = _split_index(self.mode, z.shape[1])
        return [z[:, a], z[:, b]], 0

    def _merge(self, parts):
        z1, z2 = parts
        if "checkerboard" in self.mode and z1.shape[1] != z2.shape[1]:
            raise ValueError("Split: checkerboard splits need an even number of features")
        a, b = _split_index(self.mode, z1.shape[1] + z2.shape[1])
        z = z1.new_empty(z1.shape[0], len(a) + len(b))
        z[:, a], z[:, b] = z1, z2
        return z, 0

    def forward(self, z):
        return self._split(z)

    def inverse(self, z):
        return self._merge(z)


class Merge(Split):
    """Split with forward and inverse exchanged."""

    def forward(self, z):
        return self._merge(z)

    def inverse(self, z):
        return self._split(z)


class AffineCoupling(Flow):
    """z2 -> affine map of z2 with parameters param_map(z1) (module docstring), on [z1, z2]."""

    def __init__(self, param_map, scale=True, scale_map="exp"):
        super().__init__()
        self.add_module("param_map", param_map)
        self.scale, self.scale_map = scale, scale_map

    def _couple(self, z, inverse):
        z1, z2 = z
        param = self.param_map(z1)
        if not self.scale:
            return [z1, z2 - param if inverse else z2 + param], z2.new_zeros(z2.shape[0])
        shift, s = param[:, 0::2], param[:, 1::2]
        if self.scale_map == "exp":
            log_scale = s  # x = z exp(s) + shift
        elif self.scale_map == "sigmoid":
            log_scale = -F.logsigmoid(s + 2)  # x = z / sigmoid(s + 2) + shift
        elif self.scale_map == "sigmoid_inv":
            log_scale = F.logsigmoid(s + 2)
        else:
            raise NotImplementedError(f"AffineCoupling: scale_map {self.scale_map!r}")
        if inverse:
            return [z1, (z2 - shift) * torch.exp(-log_scale)], -log_scale.sum(1)
        return [z1, z2 * torch.exp(log_scale) + shift], log_scale.sum(1)

    def forward(self, z):
        return self._couple(z, False)

    def inverse(self, z):
        return self._couple(z, True)


class AffineCouplingBlock(Flow):
    """`flows` = [Split(split_mode), AffineCoupling(param_map, scale, scale_map), Merge(split_mode)]."""

    def __init__(self, param_map, scale=True, scale_map="exp", split_mode="channel"):
        super().__init__()
        self.flows = nn.ModuleList([Split(split_mode), AffineCoupling(param_map, scale, scale_map), Merge(split_mode)])

    def _run(self, z, maps):
        total = 0
        for fn in maps:
            z, logdet = fn(z)
            total = total + logdet
        return z, total

    def forward(self, z):
        return self._run(z, self.flows)

    def inverse(self, z):
        return self._run(z, [flow.inverse for flow in reversed(self.flows)])


class AffineConstFlow(Flow):
    """x = z exp(s) + t with parameters (or zero buffers without `scale` / `shift`) `s`, `t` of shape (1, D)."""

    def __init__(self, shape, scale=True, shift=True):
        super().__init__()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        for name, trainable in (("s", scale), ("t", shift)):
            value = torch.zeros(shape)[None]
            if trainable:
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    def forward(self, z):
        return z * torch.exp(self.s) + self.t, self.s.sum().expand(z.shape[0])

    def inverse(self, z):
        return (z - self.t) * torch.exp(-self.s), -self.s.sum().expand(z.shape[0])


class ActNorm(AffineConstFlow):
    """AffineConstFlow whose first call (either direction) sets s and t so that that batch is standardized."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer("data_dep_init_done", torch.tensor(0.0))

    def _initialize(self, x, generative):
        if not self.data_dep_init_done > 0:
            std = x.std(0, keepdim=True)
            with torch.no_grad():
                if generative:  # the batch is z: x = (z - mean) / std
                    self.s.data = -torch.log(std + 1e-6)
                    self.t.data = -x.mean(0, keepdim=True) * torch.exp(self.s)
                else:  # the batch is x: z = (x - mean) / std
                    self.s.data = torch.log(std + 1e-6)
                    self.t.data = x.mean(0, keepdim=True)
            self.data_dep_init_done = torch.tensor(1.0)

    def forward(self, z):
        self._initialize(z, True)
        return super().forward(z)

    def inverse(self, z):
        self._initialize(z, False)
        return super().inverse(z)


class Permute(Flow):
    """forward: z[:, perm] ("shuffle", buffers `perm` and `inv_perm`) or the halves exchanged ("swap": the last
    D - D // 2 features first)."""

    def __init__(self, num_channels, mode="shuffle"):
        super().__init__()
        self.mode, self.num_channels = mode, num_channels
        if mode == "shuffle":
            perm = torch.randperm(num_channels)
            self.register_buffer("perm", perm)
            self.register_buffer("inv_perm", torch.argsort(perm))

    def _permute(self, z, inverse):
        if self.mode == "shuffle":
            index = self.inv_perm if inverse else self.perm
        elif self.mode == "swap":
            half = (self.num_channels + 1) // 2 if inverse else self.num_channels // 2
            index = torch.cat([torch.arange(half, self.num_channels), torch.arange(half)])
        else:
            raise NotImplementedError(f"Permute: mode {self.mode!r}")
        return z[:, index], z.new_zeros(len(z))

    def forward(self, z, context=None):
        return self._permute(z, False)

    def inverse(self, z, context=None):
        return self._permute(z, True)


# -- networks ----------------------------------------------------------------------------


class MLP(nn.Module):
    """normflows' nets.MLP: `net` = Linear and LeakyReLU(leaky) (ReLU for leaky = 0) modules over the sizes
    `layers`, optional Dropout before the last Linear, no output function (`output_fn` is not in the
    look-alike); init_zeros starts the last layer at zero."""

    def __init__(self, layers, leaky=0.0, init_zeros=False, dropout=None):
        super().__init__()
        modules = []
        for fan_in, fan_out in zip(layers[:-2], layers[1:-1]):
            modules += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(leaky)]
        if dropout is not None:
            modules.append(nn.Dropout(p=dropout))
        modules.append(nn.Linear(layers[-2], layers[-1]))
        if init_zeros:
            nn.init.zeros_(modules[-1].weight)
            nn.init.zeros_(modules[-1].bias)
        self.net = nn.Sequential(*modules)

    def forward(self, x):
        return self.net(x)


class ResidualNet(tf.ResidualNet):
    """normflows' ResidualNet: nflows' (torch_flows.ResidualNet), with `preprocessing` (None here)."""

    preprocessing = None


def _degrees(in_degrees, out_features, features, random_mask, is_output, out_degrees=None):
    """(mask (out, in), output degrees) of a masked layer: outputs the feature degrees `out_degrees` (default
    1..D) repeated per output block, connected where out > in; hidden units sequential degrees
    arange(H) % max(1, D - 1) + min(1, D - 1) or random ones in [min(min in, D - 1), D), connected where
    out >= in."""
    if is_output:
        out = torch.arange(1, features + 1) if out_degrees is None else out_degrees
        out = out.repeat_interleave(out_features // features)
        return (out[:, None] > in_degrees).float(), out
    if random_mask:
        low = min(int(in_degrees.min()), features - 1)
        out = torch.randint(low, features, (out_features,), dtype=torch.long)
    else:
        out = torch.arange(out_features) % max(1, features - 1) + min(1, features - 1)
    return (out[:, None] >= in_degrees).float(), out


class MaskedLinear(nn.Linear):
    """nn.Linear times the float buffer `mask`; buffer `degrees` (the output degrees)."""

    def __init__(self, in_degrees, out_features, autoregressive_features, random_mask, is_output,
                 out_degrees_=None):
        super().__init__(len(in_degrees), out_features)
        mask, degrees = _degrees(in_degrees, out_features, autoregressive_features, random_mask, is_output,
                                 out_degrees_)
        self.register_buffer("mask", mask)
        self.register_buffer("degrees", degrees)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MaskedFeedforwardBlock(nn.Module):
    """dropout(activation(linear(batch_norm(h)))), no context."""

    def __init__(self, in_degrees, autoregressive_features, context_features=None, random_mask=False,
                 activation=F.relu, dropout_probability=0.0, use_batch_norm=False):
        super().__init__()
        if context_features is not None:
            raise NotImplementedError("MaskedFeedforwardBlock: no context (as normflows)")
        self.batch_norm = nn.BatchNorm1d(len(in_degrees), eps=1e-3) if use_batch_norm else None
        self.linear = MaskedLinear(in_degrees, len(in_degrees), autoregressive_features, random_mask, False)
        self.degrees = self.linear.degrees
        self.activation = activation
        self.dropout = nn.Dropout(p=dropout_probability)

    def forward(self, inputs, context=None):
        h = self.batch_norm(inputs) if self.batch_norm is not None else inputs
        return self.dropout(self.activation(self.linear(h)))


class MaskedResidualBlock(tf.ResidualBlock):
    """torch_flows.ResidualBlock (pre-activation, context gating by F.glu) of MaskedLinear layers with
    sequential degrees (normflows' MaskedResidualBlock)."""

    def __init__(self, in_degrees, autoregressive_features, context_features=None, random_mask=False,
                 activation=F.relu, dropout_probability=0.0, use_batch_norm=False, zero_initialization=True):
        if random_mask:
            raise ValueError("MaskedResidualBlock: no random masks (as normflows)")
        nn.Module.__init__(self)
        features = len(in_degrees)
        if context_features is not None:
            self.context_layer = nn.Linear(context_features, features)
        self.use_batch_norm = use_batch_norm
        if use_batch_norm:
            self.batch_norm_layers = nn.ModuleList([nn.BatchNorm1d(features, eps=1e-3) for _ in range(2)])
        first = MaskedLinear(in_degrees, features, autoregressive_features, False, False)
        second = MaskedLinear(first.degrees, features, autoregressive_features, False, False)
        self.linear_layers = nn.ModuleList([first, second])
        self.degrees = second.degrees
        if not torch.all(self.degrees >= in_degrees):
            raise RuntimeError("MaskedResidualBlock: output degrees below the input degrees")
        self.activation = activation
        self.dropout = nn.Dropout(p=dropout_probability)
        if zero_initialization:
            nn.init.uniform_(second.weight, -1e-3, 1e-3)
            nn.init.uniform_(second.bias, -1e-3, 1e-3)


class MADE(nn.Module):
    """normflows' MADE (module docstring): `initial_layer`, `context_layer` (added linearly), `blocks`
    (MaskedResidualBlock, or MaskedFeedforwardBlock without a context), `final_layer`, `preprocessing`
    (nn.Identity). Input degrees 1..D, permuted with permute_mask."""

    def __init__(self, features, hidden_features, context_features=None, num_blocks=2, output_multiplier=1,
                 use_residual_blocks=True, random_mask=False, permute_mask=False, activation=F.relu,
                 dropout_probability=0.0, use_batch_norm=False):
        if use_residual_blocks and random_mask:
            raise ValueError("MADE: residual blocks can't be used with random masks")
        super().__init__()
        self.preprocessing = nn.Identity()
        degrees = torch.arange(1, features + 1)
        if permute_mask:
            degrees = degrees[torch.randperm(features)]
        self.initial_layer = MaskedLinear(degrees, hidden_features, features, random_mask, False)
        if context_features is not None:
            self.context_layer = nn.Linear(context_features, hidden_features)
        block = MaskedResidualBlock if use_residual_blocks else MaskedFeedforwardBlock
        blocks, previous = [], self.initial_layer.degrees
        for _ in range(num_blocks):
            blocks.append(block(previous, features, context_features, random_mask, activation, dropout_probability,
                                use_batch_norm))
            previous = blocks[-1].degrees
        self.blocks = nn.ModuleList(blocks)
        self.final_layer = MaskedLinear(previous, features * output_multiplier, features, random_mask, True, degrees)

    def forward(self, inputs, context=None):
        h = self.initial_layer(self.preprocessing(inputs))
        if context is not None:
            h = h + self.context_layer(context)
        for block in self.blocks:
            h = block(h, context)
        return self.final_layer(h)


# -- autoregressive and spline transforms ---------------------------------------------------


class _Autoregressive(Flow):
    """forward(x) = elementwise(x; net(x)) in one pass; the inverse from zeros in D passes."""

    def __init__(self, autoregressive_net):
        super().__init__()
        self.autoregressive_net = autoregressive_net

    def forward(self, inputs, context=None):
        return self._elementwise(inputs, self.autoregressive_net(inputs, context), False)

    def inverse(self, inputs, context=None):
        outputs, logdet = torch.zeros_like(inputs), None
        for _ in range(inputs.shape[1]):
            outputs, logdet = self._elementwise(inputs, self.autoregressive_net(outputs, context), True)
        return outputs, logdet


class MaskedAffineAutoregressive(_Autoregressive):
    """normflows' MAF: params viewed (batch, D, 2) = [h, shift]; forward x = (sigmoid(h + 2) + 1e-3) z + shift."""

    def __init__(self, features, hidden_features, context_features=None, num_blocks=2, use_residual_blocks=True,
                 random_mask=False, activation=F.relu, dropout_probability=0.0, use_batch_norm=False):
        self.features = features
        super().__init__(MADE(features, hidden_features, context_features, num_blocks, 2, use_residual_blocks,
                              random_mask, False, activation, dropout_probability, use_batch_norm))

    def _elementwise(self, inputs, params, inverse):
        params = params.view(-1, self.features, 2)
        scale = tf.SCALE_FUNCTIONS["sigmoid"](params[..., 0])
        if inverse:
            return (inputs - params[..., 1]) / scale, -torch.log(scale).sum(1)
        return scale * inputs + params[..., 1], torch.log(scale).sum(1)


def _check_linear_tails(owner, tails, tail_bound):
    if tails != "linear" or torch.is_tensor(tail_bound):
        raise ValueError(f"{owner}: the look-alike has linear tails with one tail_bound only")


class PiecewiseRationalQuadraticCDF(Flow):
    """An unconditional elementwise rational-quadratic spline of `shape` features: parameters
    `unnormalized_widths`, `unnormalized_heights` (shape + (K,)), `unnormalized_derivatives` (shape + (K - 1,)),
    the identity at initialization (identity_init)."""

    def __init__(self, shape, num_bins=10, tails="linear", tail_bound=1.0, identity_init=True,
                 min_bin_width=tf.DEFAULT_MIN_BIN_WIDTH, min_bin_height=tf.DEFAULT_MIN_BIN_HEIGHT,
                 min_derivative=tf.DEFAULT_MIN_DERIVATIVE):
        super().__init__()
        _check_linear_tails("PiecewiseRationalQuadraticCDF", tails, tail_bound)
        self.min_bin_width, self.min_bin_height, self.min_derivative = min_bin_width, min_bin_height, min_derivative
        self.tail_bound, self.tails = tail_bound, tails
        shape = tuple(shape)
        if identity_init:
            self.unnormalized_widths = nn.Parameter(torch.zeros(*shape, num_bins))
            self.unnormalized_heights = nn.Parameter(torch.zeros(*shape, num_bins))
            unit = math.log(math.expm1(1 - min_derivative))
            self.unnormalized_derivatives = nn.Parameter(torch.full((*shape, num_bins - 1), unit))
        else:
            self.unnormalized_widths = nn.Parameter(torch.rand(*shape, num_bins))
            self.unnormalized_heights = nn.Parameter(torch.rand(*shape, num_bins))
            self.unnormalized_derivatives = nn.Parameter(torch.rand(*shape, num_bins - 1))

    def _spline(self, inputs, inverse):
        rows = inputs.shape[0]
        params = [p[None].expand(rows, *p.shape) for p in
                  (self.unnormalized_widths, self.unnormalized_heights, self.unnormalized_derivatives)]
        out, logdet = tf.unconstrained_rational_quadratic_spline(
            inputs, *params, inverse, self.tail_bound, self.min_bin_width, self.min_bin_height, self.min_derivative)
        return out, logdet.sum(1)

    def forward(self, inputs, context=None):
        return self._spline(inputs, False)

    def inverse(self, inputs, context=None):
        return self._spline(inputs, True)


class PiecewiseRationalQuadraticCoupling(Flow):
    """nflows' spline coupling as normflows has it: buffers `identity_features` (mask <= 0) and
    `transform_features` (mask > 0), `transform_net` = transform_net_create_fn(|A|, |B| (3K - 1)) called
    net(x_A, context), 3K - 1 raw values per transformed feature (widths and heights divided by
    sqrt(transform_net.hidden_features) when it has that attribute), `unconditional_transform` (a
    PiecewiseRationalQuadraticCDF of the identity features, applied after the coupling in forward) with
    apply_unconditional_transform."""

    def __init__(self, mask, transform_net_create_fn, num_bins=10, tails="linear", tail_bound=1.0,
                 apply_unconditional_transform=False, min_bin_width=tf.DEFAULT_MIN_BIN_WIDTH,
                 min_bin_height=tf.DEFAULT_MIN_BIN_HEIGHT, min_derivative=tf.DEFAULT_MIN_DERIVATIVE):
        super().__init__()
        _check_linear_tails("PiecewiseRationalQuadraticCoupling", tails, tail_bound)
        self.num_bins, self.tails, self.tail_bound = num_bins, tails, tail_bound
        self.min_bin_width, self.min_bin_height, self.min_derivative = min_bin_width, min_bin_height, min_derivative
        mask = torch.as_tensor(mask)
        self.features = len(mask)
        index = torch.arange(self.features)
        self.register_buffer("identity_features", index[mask <= 0])
        self.register_buffer("transform_features", index[mask > 0])
        self.transform_net = transform_net_create_fn(len(self.identity_features),
                                                     len(self.transform_features) * (3 * num_bins - 1))
        self.unconditional_transform = None
        if apply_unconditional_transform:
            self.unconditional_transform = PiecewiseRationalQuadraticCDF(
                [len(self.identity_features)], num_bins, tails, tail_bound, min_bin_width=min_bin_width,
                min_bin_height=min_bin_height, min_derivative=min_derivative)

    def _coupling(self, inputs, context, inverse):
        a, b = inputs[:, self.identity_features], inputs[:, self.transform_features]
        logdet = inputs.new_zeros(inputs.shape[0])
        if inverse and self.unconditional_transform is not None:  # the identity part's spline first
            a, logdet = self.unconditional_transform.inverse(a, context)
        w, h, d = tf._spline_params(self.transform_net(a, context), b.shape[1], self.num_bins, self.transform_net)
        b, logdet_b = tf.unconstrained_rational_quadratic_spline(
            b, w, h, d, inverse, self.tail_bound, self.min_bin_width, self.min_bin_height, self.min_derivative)
        logdet = logdet + logdet_b.sum(1)
        if not inverse and self.unconditional_transform is not None:
            a, logdet_a = self.unconditional_transform(a, context)
            logdet = logdet + logdet_a
        outputs = torch.empty_like(inputs)
        outputs[:, self.identity_features], outputs[:, self.transform_features] = a, b
        return outputs, logdet

    def forward(self, inputs, context=None):
        return self._coupling(inputs, context, False)

    def inverse(self, inputs, context=None):
        return self._coupling(inputs, context, True)


class MaskedPiecewiseRationalQuadraticAutoregressive(_Autoregressive):
    """nflows' autoregressive spline as normflows has it: a normflows MADE giving 3K - 1 raw values per feature
    (no 1/sqrt scaling: the MADE has no hidden_features); init_identity starts at the identity."""

    def __init__(self, features, hidden_features, context_features=None, num_bins=10, tails="linear",
                 tail_bound=1.0, num_blocks=2, use_residual_blocks=True, random_mask=False, permute_mask=False,
                 activation=F.relu, dropout_probability=0.0, use_batch_norm=False, init_identity=True,
                 min_bin_width=tf.DEFAULT_MIN_BIN_WIDTH, min_bin_height=tf.DEFAULT_MIN_BIN_HEIGHT,
                 min_derivative=tf.DEFAULT_MIN_DERIVATIVE):
        _check_linear_tails("MaskedPiecewiseRationalQuadraticAutoregressive", tails, tail_bound)
        made = MADE(features, hidden_features, context_features, num_blocks, 3 * num_bins - 1, use_residual_blocks,
                    random_mask, permute_mask, activation, dropout_probability, use_batch_norm)
        if init_identity:
            nn.init.constant_(made.final_layer.weight, 0.0)
            nn.init.constant_(made.final_layer.bias, math.log(math.expm1(1 - min_derivative)))
        super().__init__(made)
        self.num_bins, self.tails, self.tail_bound = num_bins, tails, tail_bound
        self.min_bin_width, self.min_bin_height, self.min_derivative = min_bin_width, min_bin_height, min_derivative

    def _elementwise(self, inputs, params, inverse):
        w, h, d = tf._spline_params(params, inputs.shape[1], self.num_bins, self.autoregressive_net)
        out, logdet = tf.unconstrained_rational_quadratic_spline(
            inputs, w, h, d, inverse, self.tail_bound, self.min_bin_width, self.min_bin_height, self.min_derivative)
        return out, logdet.sum(1)


class CoupledRationalQuadraticSpline(Flow):
    """normflows' neural spline coupling: `prqct` = PiecewiseRationalQuadraticCoupling over the alternating mask
    (odd features transformed; even ones with reverse_mask), ResidualNet conditioners (activation(),
    init_identity: zero last layer, unit derivatives), apply_unconditional_transform=True; forward and inverse
    are prqct's inverse and forward."""

    def __init__(self, num_input_channels, num_blocks, num_hidden_channels, num_context_channels=None, num_bins=8,
                 tails="linear", tail_bound=3.0, activation=nn.ReLU, dropout_probability=0.0, reverse_mask=False,
                 init_identity=True):
        super().__init__()

        def create_net(in_features, out_features):
            net = ResidualNet(in_features, out_features, num_hidden_channels, num_context_channels, num_blocks,
                              activation(), dropout_probability)
            if init_identity:
                nn.init.constant_(net.final_layer.weight, 0.0)
                nn.init.constant_(net.final_layer.bias, _UNIT_DERIVATIVE)
            return net

        mask = torch.zeros(num_input_channels, dtype=torch.uint8)
        mask[(0 if reverse_mask else 1)::2] = 1
        self.prqct = PiecewiseRationalQuadraticCoupling(mask, create_net, num_bins, tails, tail_bound,
                                                        apply_unconditional_transform=True)

    def forward(self, z, context=None):
        return self.prqct.inverse(z, context)

    def inverse(self, z, context=None):
        return self.prqct(z, context)


class AutoregressiveRationalQuadraticSpline(Flow):
    """normflows' autoregressive neural spline: `mprqat` (residual MADE, linear tails); forward and inverse are
    mprqat's inverse and forward."""

    def __init__(self, num_input_channels, num_blocks, num_hidden_channels, num_context_channels=None, num_bins=8,
                 tail_bound=3, activation=nn.ReLU, dropout_probability=0.0, permute_mask=False, init_identity=True):
        super().__init__()
        self.mprqat = MaskedPiecewiseRationalQuadraticAutoregressive(
            num_input_channels, num_hidden_channels, num_context_channels, num_bins, "linear", tail_bound,
            num_blocks, True, False, permute_mask, activation(), dropout_probability, False, init_identity)

    def forward(self, z, context=None):
        return self.mprqat.inverse(z, context=context)

    def inverse(self, z, context=None):
        return self.mprqat(z, context=context)


# -- base distributions and the flow ----------------------------------------------------------


def _shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


class DiagGaussian(nn.Module):
    """N(loc, diag(exp(log_scale))^2), `loc` and `log_scale` of shape (1, D) (parameters, or buffers without
    `trainable`); `temperature` (None) multiplies the scale. forward(n) -> (z, log q(z))."""

    def __init__(self, shape, trainable=True):
        super().__init__()
        self.shape = _shape(shape)
        self.n_dim, self.d = len(self.shape), int(np.prod(self.shape))
        for name in ("loc", "log_scale"):
            if trainable:
                setattr(self, name, nn.Parameter(torch.zeros(1, *self.shape)))
            else:
                self.register_buffer(name, torch.zeros(1, *self.shape))
        self.temperature = None

    def _log_scale(self):
        return self.log_scale if self.temperature is None else self.log_scale + math.log(self.temperature)

    def forward(self, num_samples=1, context=None):
        eps = torch.randn((num_samples,) + self.shape, dtype=self.loc.dtype)
        log_scale = self._log_scale()
        log_p = -0.5 * self.d * math.log(2 * math.pi) - (log_scale + 0.5 * eps**2).sum(1)
        return self.loc + torch.exp(log_scale) * eps, log_p

    def log_prob(self, z, context=None):
        log_scale = self._log_scale()
        return -0.5 * self.d * math.log(2 * math.pi) - (log_scale + 0.5 * ((z - self.loc) / torch.exp(log_scale))
                                                         ** 2).sum(1)


class ConditionalDiagGaussian(nn.Module):
    """N(mean, diag(exp(log_scale))^2) with (mean, log_scale) = the halves of context_encoder(context)."""

    def __init__(self, shape, context_encoder):
        super().__init__()
        self.shape = _shape(shape)
        self.n_dim, self.d = len(self.shape), int(np.prod(self.shape))
        self.context_encoder = context_encoder

    def _params(self, context):
        out = self.context_encoder(context)
        half = out.shape[-1] // 2
        return out[..., :half], out[..., half:]

    def forward(self, num_samples=1, context=None):
        mean, log_scale = self._params(context)
        eps = torch.randn((num_samples,) + self.shape, dtype=mean.dtype)
        log_p = -0.5 * self.d * math.log(2 * math.pi) - (log_scale + 0.5 * eps**2).sum(1)
        return mean + torch.exp(log_scale) * eps, log_p

    def log_prob(self, z, context=None):
        mean, log_scale = self._params(context)
        return -0.5 * self.d * math.log(2 * math.pi) - (log_scale + 0.5 * ((z - mean) / torch.exp(log_scale))
                                                         ** 2).sum(1)


class Uniform(nn.Module):
    """Uniform on [low, high]^D (scalars `low`, `high`); log_prob -inf outside."""

    def __init__(self, shape, low=-1.0, high=1.0):
        super().__init__()
        self.shape = _shape(shape)
        self.d = int(np.prod(self.shape))
        self.low, self.high = torch.tensor(low), torch.tensor(high)
        self.log_prob_val = -self.d * np.log(self.high - self.low)

    def forward(self, num_samples=1, context=None):
        z = self.low + (self.high - self.low) * torch.rand((num_samples,) + self.shape, dtype=self.low.dtype)
        return z, self.log_prob_val * torch.ones(num_samples)

    def log_prob(self, z, context=None):
        outside = ((z < self.low) | (z > self.high)).reshape(len(z), -1).any(1)
        log_p = torch.full((len(z),), float(self.log_prob_val), dtype=z.dtype)
        return log_p.masked_fill(outside, -math.inf)


class NormalizingFlow(nn.Module):
    """normflows' NormalizingFlow: base `q0`, layers `flows` (generative order), target `p`."""

    def __init__(self, q0, flows, p=None):
        super().__init__()
        self.q0, self.flows, self.p = q0, nn.ModuleList(flows), p

    def _log_prob(self, x, **context):
        """log q(x): the layers' inverses from the last one, then q0."""
        log_q, z = torch.zeros(len(x), dtype=x.dtype), x
        for flow in reversed(self.flows):
            z, logdet = flow.inverse(z, **context)
            log_q = log_q + logdet
        return log_q + self.q0.log_prob(z, **context)

    def _sample(self, num_samples, **context):
        """(x, log q(x)) for num_samples draws."""
        z, log_q = self.q0(num_samples, **context)
        for flow in self.flows:
            z, logdet = flow(z, **context)
            log_q = log_q - logdet
        return z, log_q

    def log_prob(self, x):
        return self._log_prob(x)

    def sample(self, num_samples=1):
        return self._sample(num_samples)

    def forward_kld(self, x):
        return -self.log_prob(x).mean()


class ConditionalNormalizingFlow(NormalizingFlow):
    """NormalizingFlow whose layers and base take `context=`."""

    def log_prob(self, x, context=None):
        return self._log_prob(x, context=context)

    def sample(self, num_samples=1, context=None):
        return self._sample(num_samples, context=context)

    def forward_kld(self, x, context=None):
        return -self.log_prob(x, context).mean()
