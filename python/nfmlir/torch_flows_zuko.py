"""Small PyTorch flows with zuko's (1.x) module layout and semantics.

zuko cannot be installed here, so the project ships these look-alikes, written from zuko's documented maths (not
copied), to test `nfmlir.from_torch` on flows laid out as zuko lays them out; zuko's own modules import the same
way (the importer reads the attributes named below, recognising classes by the names in their MRO).

zuko's conventions, which these modules keep:

* A flow is a lazy distribution: `flow(c)` (or `flow()` without a context) builds a distribution whose
  `log_prob(x) = base.log_prob(z) + log|det dz/dx|`, z = transform(x). Transforms map data x to the latent z
  (the normalizing direction); sampling runs their inverses.
* `MaskedAutoregressiveTransform(features, context, passes, order, univariate, shapes, hidden_features=...)`:
  a `MaskedMLP` hyper-network of [x, c] gives `total` raw parameters per feature, contiguous per feature
  (feature i owns outputs [i total, (i + 1) total)), unpacked in the order of `shapes` into the univariate
  transform. Feature i depends on feature j iff order[i] > order[j], order = `order` // ceil(D / passes)
  (the buffer `order` holds the quotient); passes = 2 is a coupling of the two halves of `order`, and both
  halves are transformed (the first by parameters of the context alone). The context reaches every output.
* `MonotonicAffineTransform(shift, scale, slope=1e-3)`: y = exp(s) x + shift with the soft-clipped log scale
  s = a / (1 + |a / log(slope)|), a = the raw `scale`; log|det| = s.
* `MonotonicRQSTransform(widths, heights, derivatives, bound=5.0, slope=1e-3)`: the raw widths and heights are
  soft-clipped as w / (1 + |2 w / log(slope)|), the derivatives as d / (1 + |d / log(slope)|); bin widths and
  heights are softmax of them (no minimum), knot derivatives exp(d) inside and 1 at -bound and bound; the
  identity outside [-bound, bound].
* `MaskedMLP(adjacency, hidden_features, activation, residual)`: zuko's masks (rows of the adjacency with the
  same support are merged; hidden unit h of a layer stands for the h-th reachable merged row, cyclically, and
  reads the units whose support its support contains).
* Bases: `UnconditionalDistribution(DiagNormal, loc=zeros, scale=ones, buffer=True)` (or `BoxUniform`), zuko's
  `Partial` layout: `f`, positional tensors as `_0`, `_1`, ..., keyword ones under their names.

Differences from zuko: no `adjacency` argument (use `order`), no one-feature `ElementWiseTransform` (zuko's
`MaskedAutoregressiveTransform(1, ...)` becomes one), no stacked `Linear`, no `LayerNorm` (`normalize`); the
distributions are plain objects with `log_prob`, `sample`, `rsample` and `rsample_and_log_prob`.
"""

import math
from functools import partial

import torch
from torch import nn
from torch.distributions import Independent, Normal, Uniform

__all__ = [
    "Linear",
    "MLP",
    "MaskedLinear",
    "MaskedMLP",
    "Residual",
    "MonotonicAffineTransform",
    "MonotonicRQSTransform",
    "PermutationTransform",
    "DiagNormal",
    "BoxUniform",
    "NormalizingFlow",
    "LazyTransform",
    "LazyInverse",
    "LazyComposedTransform",
    "LazyDistribution",
    "UnconditionalDistribution",
    "UnconditionalTransform",
    "MaskedAutoregressiveTransform",
    "GeneralCouplingTransform",
    "Flow",
    "MAF",
    "NSF",
    "NICE",
    "RealNVP",
]


# -- networks --------------------------------------------------------------------------


class Linear(nn.Module):
    """zuko's Linear: y = x W^T + b with `weight` (out, in), `bias` (out,), both U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return nn.functional.linear(x, self.weight, self.bias)


class MLP(nn.Sequential):
    """zuko's MLP: Linear and `activation()` (default nn.ReLU) modules, in_features -> hidden_features ... ->
    out_features, no activation after the last layer (the hyper-network of coupling transforms)."""

    def __init__(self, in_features, out_features, hidden_features=(64, 64), activation=None, normalize=False):
        if normalize:
            raise ValueError("MLP: normalize (zuko's LayerNorm between layers) is not in the look-alike")
        activation = activation or nn.ReLU
        sizes = [in_features, *hidden_features, out_features]
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [Linear(fan_in, fan_out), activation()]
        super().__init__(*layers[:-1])
        self.in_features, self.out_features = in_features, out_features


class MaskedLinear(nn.Linear):
    """nn.Linear whose weight is multiplied by the boolean buffer `mask` (the adjacency, shape (out, in))."""

    def __init__(self, adjacency):
        super().__init__(adjacency.shape[1], adjacency.shape[0])
        self.register_buffer("mask", adjacency.bool())

    def forward(self, x):
        return nn.functional.linear(x, self.mask * self.weight, self.bias)


class Residual(nn.Sequential):
    """x + the modules applied in turn to x (zuko's residual block of MaskedMLP)."""

    def forward(self, x):
        return x + super().forward(x)


class MaskedMLP(nn.Sequential):
    """zuko's MaskedMLP: output i depends on input j only if adjacency[i, j] (shape (out, in)).

    The adjacency rows are merged into their distinct supports R_0 < R_1 < ... (lexicographic order, as
    torch.unique(dim=0)); R_u "contains" R_v when R_v is a subset of R_u. The first layer's unit h stands for
    the h-th (cyclically) support that is non-empty and reads the inputs of that support; a later layer's unit
    h stands for the h-th support that contains some unit of the layer before and reads the units whose
    supports its support contains; an output reads the last layer's units whose supports its row contains.
    Between layers `activation()` (nn.ReLU by default); with `residual`, every hidden layer is followed by
    Residual(MaskedLinear, activation(), MaskedLinear) on its own supports instead, and a hidden layer as wide as
    the one before is replaced by that block (no activation outside the blocks)."""

    def __init__(self, adjacency, hidden_features=(64, 64), activation=None, residual=False):
        activation = activation or nn.ReLU
        adjacency = torch.as_tensor(adjacency, dtype=torch.bool)
        supports, row_of = torch.unique(adjacency, dim=0, return_inverse=True)
        sizes = supports.sum(-1)
        contains = (supports.double() @ supports.double().T) == sizes  # [u, v]: R_v is a subset of R_u
        layers, units = [], None
        for i, width in enumerate((*hidden_features, adjacency.shape[0])):
            reads = supports if units is None else contains[:, units]
            if not reads.any():
                raise ValueError("MaskedMLP: the adjacency matrix leads to a null Jacobian")
            output = i == len(hidden_features)
            if output:
                mask = reads[row_of]
            else:
                reachable = torch.nonzero(reads.any(-1)).squeeze(-1)
                units = reachable[torch.arange(width) % len(reachable)]
                mask = reads[units]
            layers.append(MaskedLinear(mask))  # made even when a block replaces it: zuko's random stream
            if residual and 0 < i and not output and mask.shape[0] == mask.shape[1]:
                layers.pop()
            if residual and units is not None:
                own = contains[units][:, units]
                layers.append(Residual(MaskedLinear(own), activation(), MaskedLinear(own)))
            else:
                layers.append(activation())
        layers.pop()  # what follows the output layer (made all the same: zuko's random stream)
        super().__init__(*layers)
        self.in_features, self.out_features = adjacency.shape[1], adjacency.shape[0]


# -- transformations (runtime objects, data -> latent) ----------------------------------------


class _Bijection:
    """y = self(x); call_and_ladj(x) -> (y, log|det dy/dx|) per element (DependentTransform sums them);
    `inv` the inverse map."""

    def __call__(self, x):
        return self.call_and_ladj(x)[0]

    @property
    def inv(self):
        return _Inverse(self)


class _Inverse(_Bijection):
    def __init__(self, base):
        self.base = base

    def call_and_ladj(self, y):
        x = self.base.inverse(y)
        return x, -self.base.call_and_ladj(x)[1]

    @property
    def inv(self):
        return self.base


class MonotonicAffineTransform(_Bijection):
    """y = exp(s) x + shift, s = scale / (1 + |scale / log(slope)|) (bounded by |log slope|)."""

    def __init__(self, shift, scale, slope=1e-3):
        self.shift = shift
        self.log_scale = scale / (1 + (scale / math.log(slope)).abs())

    def call_and_ladj(self, x):
        return x * self.log_scale.exp() + self.shift, self.log_scale.expand(x.shape)

    def inverse(self, y):
        return (y - self.shift) * torch.exp(-self.log_scale)


class MonotonicRQSTransform(_Bijection):
    """Rational-quadratic spline on [-bound, bound] with zuko's parameterization (module docstring); the
    identity outside."""

    def __init__(self, widths, heights, derivatives, bound=5.0, slope=1e-3):
        clip = -math.log(slope)
        widths = widths / (1 + (2 * widths / clip).abs())
        heights = heights / (1 + (2 * heights / clip).abs())
        derivatives = derivatives / (1 + (derivatives / clip).abs())
        zero = widths.new_zeros(widths.shape[:-1] + (1,))
        # knots: -bound, then bound (2 cumsum(softmax) - 1); the derivatives exp(0) = 1 at both ends
        self.horizontal = bound * (2 * torch.cat([zero, torch.softmax(widths, -1).cumsum(-1)], -1) - 1)
        self.vertical = bound * (2 * torch.cat([zero, torch.softmax(heights, -1).cumsum(-1)], -1) - 1)
        self.derivatives = torch.cat([zero, derivatives, zero], -1).exp()
        self.bins = widths.shape[-1]

    def _bin(self, knots, v):
        """The bin of v (the knots below v, minus one; outside [0, bins): not inside) and its quantities."""
        k = (knots < v[..., None]).sum(-1) - 1
        inside = (k >= 0) & (k < self.bins)
        k = k.clamp(0, self.bins - 1)[..., None]
        take = [t.expand(v.shape + t.shape[-1:]) for t in (self.horizontal, self.vertical, self.derivatives)]
        x0, x1 = take[0].gather(-1, k)[..., 0], take[0].gather(-1, k + 1)[..., 0]
        y0, y1 = take[1].gather(-1, k)[..., 0], take[1].gather(-1, k + 1)[..., 0]
        d0, d1 = take[2].gather(-1, k)[..., 0], take[2].gather(-1, k + 1)[..., 0]
        return inside, x0, x1, y0, y1, d0, d1, (y1 - y0) / (x1 - x0)

    def call_and_ladj(self, x):
        inside, x0, x1, y0, y1, d0, d1, s = self._bin(self.horizontal, x)
        t = inside * (x - x0) / (x1 - x0)
        mixed = t * (1 - t)
        denominator = s + (d0 + d1 - 2 * s) * mixed
        y = y0 + (y1 - y0) * (s * t**2 + d0 * mixed) / denominator
        slope = s**2 * (2 * s * mixed + d0 * (1 - t) ** 2 + d1 * t**2) / denominator**2
        return torch.where(inside, y, x), inside * slope.log()

    def inverse(self, y):
        inside, x0, x1, y0, y1, d0, d1, s = self._bin(self.vertical, y)
        r = inside * (y - y0)
        curvature = d0 + d1 - 2 * s
        a = (y1 - y0) * (s - d0) + r * curvature
        b = (y1 - y0) * d0 - r * curvature
        c = -s * r
        t = 2 * c / (-b - (b**2 - 4 * a * c).sqrt())
        return torch.where(inside, x0 + t * (x1 - x0), y)


class PermutationTransform(_Bijection):
    """y = x[..., order]."""

    def __init__(self, order):
        self.order = order

    def call_and_ladj(self, x):
        return x[..., self.order], x.new_zeros(x.shape[:-1])

    def inverse(self, y):
        return y[..., torch.argsort(self.order)]


class _Dependent(_Bijection):
    """An elementwise transformation with its log|det| summed over the last dimension."""

    def __init__(self, base):
        self.base = base

    def call_and_ladj(self, x):
        y, ladj = self.base.call_and_ladj(x)
        return y, ladj.sum(-1)

    def inverse(self, y):
        return self.base.inverse(y)


class _Autoregressive(_Bijection):
    """y = f(x; meta(x)); the inverse runs `passes` fixed-point passes from zeros (zuko's)."""

    def __init__(self, meta, passes):
        self.meta, self.passes = meta, passes

    def call_and_ladj(self, x):
        return self.meta(x).call_and_ladj(x)

    def inverse(self, y):
        x = torch.zeros_like(y)
        for _ in range(self.passes):
            x = self.meta(x).inverse(y)
        return x


class _Coupling(_Bijection):
    """x_a (mask True) unchanged, x_b -> f(x_b; meta(x_a))."""

    def __init__(self, meta, mask):
        self.meta, self.a, self.b = meta, mask.nonzero().squeeze(-1), (~mask).nonzero().squeeze(-1)

    def _merge(self, like, a, b):
        out = like.clone()
        out[..., self.a], out[..., self.b] = a, b
        return out

    def call_and_ladj(self, x):
        y_b, ladj = self.meta(x[..., self.a]).call_and_ladj(x[..., self.b])
        return self._merge(x, x[..., self.a], y_b), ladj

    def inverse(self, y):
        return self._merge(y, y[..., self.a], self.meta(y[..., self.a]).inverse(y[..., self.b]))


class _Composed(_Bijection):
    def __init__(self, *transforms):
        self.transforms = transforms

    def call_and_ladj(self, x):
        total = 0
        for t in self.transforms:
            x, ladj = t.call_and_ladj(x)
            total = total + ladj
        return x, total

    def inverse(self, y):
        for t in reversed(self.transforms):
            y = t.inv(y)
        return y


# -- distributions ----------------------------------------------------------------------


class _Independent(Independent):
    def expand(self, batch_shape, _instance=None):
        # torch needs a blank instance for subclasses with their own __init__
        return super().expand(batch_shape, _instance or type(self).__new__(type(self)))


class DiagNormal(_Independent):
    """N(loc, diag(scale)^2) over the last dimension (zuko's DiagNormal: Independent(Normal))."""

    def __init__(self, loc, scale, ndims=1):
        super().__init__(Normal(torch.as_tensor(loc), torch.as_tensor(scale), validate_args=False), ndims,
                         validate_args=False)


class BoxUniform(_Independent):
    """Uniform on [lower, upper) per feature (zuko's BoxUniform); log_prob -inf outside."""

    def __init__(self, lower, upper, ndims=1):
        super().__init__(Uniform(torch.as_tensor(lower), torch.as_tensor(upper), validate_args=False), ndims,
                         validate_args=False)


class NormalizingFlow:
    """The distribution of x with z = transform(x) ~ base: log_prob(x) = base.log_prob(z) + log|det dz/dx|."""

    def __init__(self, transform, base):
        self.transform, self.base = transform, base

    def log_prob(self, x):
        z, ladj = self.transform.call_and_ladj(x)
        return self.base.log_prob(z) + ladj

    def rsample(self, shape=()):
        return self.transform.inv(self.base.rsample(shape) if self.base.has_rsample else self.base.sample(shape))

    def sample(self, shape=()):
        with torch.no_grad():
            return self.rsample(shape)

    def rsample_and_log_prob(self, shape=()):
        z = self.base.rsample(shape) if self.base.has_rsample else self.base.sample(shape)
        x, ladj = self.transform.inv.call_and_ladj(z)
        return x, self.base.log_prob(z) - ladj


# -- lazy modules ------------------------------------------------------------------------


class LazyTransform(nn.Module):
    """A module whose forward(c=None) builds a transformation of x given the context c."""

    def forward(self, c=None):
        raise NotImplementedError

    @property
    def inv(self):
        return LazyInverse(self)


class LazyInverse(LazyTransform):
    """The inverse of the lazy transformation `transform`."""

    def __init__(self, transform):
        super().__init__()
        self.transform = transform

    def forward(self, c=None):
        return self.transform(c).inv

    @property
    def inv(self):
        return self.transform


class LazyComposedTransform(LazyTransform):
    """`transforms` (an nn.ModuleList) applied in order."""

    def __init__(self, *transforms):
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, c=None):
        return _Composed(*(t(c) for t in self.transforms))


class LazyDistribution(nn.Module):
    """A module whose forward(c=None) builds a distribution given the context c."""

    def forward(self, c=None):
        raise NotImplementedError


class _Partial(nn.Module):
    """zuko's Partial layout: `f`, positional arguments as `_0`, `_1`, ... and keyword arguments under their
    names, tensors registered as buffers (`buffer`) or parameters; forward() = f(*args, **kwargs)."""

    def __init__(self, f, *args, buffer=False, **kwargs):
        super().__init__()
        self.f = f
        named = [(f"_{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
        for name, value in named:
            if not torch.is_tensor(value):
                setattr(self, name, value)
            elif buffer:
                self.register_buffer(name, value)
            else:
                self.register_parameter(name, nn.Parameter(value))
        self._nargs, self._keys = len(args), list(kwargs)

    @property
    def args(self):
        return [getattr(self, f"_{i}") for i in range(self._nargs)]

    @property
    def kwargs(self):
        return {key: getattr(self, key) for key in self._keys}

    def forward(self, c=None):
        return self.f(*self.args, **self.kwargs)


class UnconditionalDistribution(_Partial, LazyDistribution):
    """The distribution f(*args, **kwargs), whatever the context (zuko's base of MAF and NSF)."""


class UnconditionalTransform(_Partial, LazyTransform):
    """The transformation f(*args, **kwargs), whatever the context (e.g. PermutationTransform)."""


def _unpack(phi, shapes):
    """The parameters (..., total) split in the order of `shapes`, each reshaped to (..., *shape)."""
    sizes = [math.prod(s) for s in shapes]
    return [p.reshape(p.shape[:-1] + tuple(s)) for p, s in zip(phi.split(sizes, -1), shapes)]


def _with_context(x, c):
    """[x, c] along the last dimension, c broadcast over x's batch dimensions."""
    if c is None:
        return x
    shape = torch.broadcast_shapes(x.shape[:-1], c.shape[:-1])
    return torch.cat([x.expand(shape + x.shape[-1:]), c.expand(shape + c.shape[-1:])], -1)


class MaskedAutoregressiveTransform(LazyTransform):
    """zuko's masked autoregressive transformation (module docstring): `univariate` (MonotonicAffineTransform
    by default, or e.g. partial(MonotonicRQSTransform, bound=5.0, slope=1e-3)) with parameters of `shapes`,
    `total` per feature, from `hyper` = MaskedMLP(adjacency repeated `total` times per feature, plus the
    context columns, **kwargs); buffer `order` (the given order // ceil(D / passes)), `passes`."""

    def __init__(self, features, context=0, passes=None, order=None, univariate=MonotonicAffineTransform,
                 shapes=((), ()), **kwargs):
        super().__init__()
        if features < 2:
            raise ValueError("MaskedAutoregressiveTransform: one feature is zuko's ElementWiseTransform, not in the "
                             "look-alike")
        self.univariate, self.shapes = univariate, shapes
        self.total = sum(math.prod(s) for s in shapes)
        order = torch.arange(features) if order is None else torch.as_tensor(order, dtype=torch.long)
        self.passes = min(max(features if passes is None else passes, 1), features)
        self.register_buffer("order", torch.div(order, math.ceil(features / self.passes), rounding_mode="floor"))
        adjacency = self.order[:, None] > self.order[None, :]
        adjacency = torch.cat([adjacency, torch.ones(features, context, dtype=torch.bool)], 1)
        self.hyper = MaskedMLP(adjacency.repeat_interleave(self.total, 0), **kwargs)

    def meta(self, c, x):
        phi = self.hyper(_with_context(x, c))
        phi = phi.reshape(phi.shape[:-1] + (-1, self.total))
        return _Dependent(self.univariate(*_unpack(phi, self.shapes)))

    def forward(self, c=None):
        return _Autoregressive(partial(self.meta, c), self.passes)


class GeneralCouplingTransform(LazyTransform):
    """zuko's coupling transformation: buffer `mask` (True: the constant part x_a; default the odd features),
    x_b -> univariate(x_b; hyper([x_a, c])), `hyper` = MLP(|a| + context, |b| total, **kwargs), parameters
    contiguous per feature of b as in MaskedAutoregressiveTransform."""

    def __init__(self, features, context=0, mask=None, univariate=MonotonicAffineTransform, shapes=((), ()),
                 **kwargs):
        super().__init__()
        self.univariate, self.shapes = univariate, shapes
        self.total = sum(math.prod(s) for s in shapes)
        mask = torch.arange(features) % 2 == 1 if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        self.register_buffer("mask", mask)
        a = int(mask.sum())
        self.hyper = MLP(a + context, (features - a) * self.total, **kwargs)

    def meta(self, c, x_a):
        phi = self.hyper(_with_context(x_a, c))
        phi = phi.reshape(phi.shape[:-1] + (-1, self.total))
        return _Dependent(self.univariate(*_unpack(phi, self.shapes)))

    def forward(self, c=None):
        return _Coupling(partial(self.meta, c), self.mask)


class Flow(LazyDistribution):
    """`transform` (a lazy transformation, or a list of them: a LazyComposedTransform) over `base` (a lazy
    distribution); flow(c) is the distribution of x given c."""

    def __init__(self, transform, base):
        super().__init__()
        self.transform = transform if isinstance(transform, LazyTransform) else LazyComposedTransform(*transform)
        self.base = base

    def forward(self, c=None):
        base = self.base(c)
        if c is not None:
            base = base.expand(c.shape[:-1])
        return NormalizingFlow(self.transform(c), base)


def _standard_normal(features):
    return UnconditionalDistribution(DiagNormal, loc=torch.zeros(features), scale=torch.ones(features), buffer=True)


class MAF(Flow):
    """zuko's MAF: `transforms` MaskedAutoregressiveTransforms whose orders alternate between ascending and
    descending (random with `randperm`), over DiagNormal(0, 1)."""

    def __init__(self, features, context=0, transforms=3, randperm=False, **kwargs):
        orders = [torch.arange(features), torch.arange(features - 1, -1, -1)]
        layers = [MaskedAutoregressiveTransform(features, context, order=torch.randperm(features) if randperm
                                                else orders[i % 2], **kwargs) for i in range(transforms)]
        super().__init__(layers, _standard_normal(features))


class NSF(MAF):
    """zuko's NSF: a MAF of MonotonicRQSTransforms with `bins` bins (bound 5, minimum slope `slope`);
    passes=2 makes coupling transformations."""

    def __init__(self, features, context=0, bins=8, slope=1e-3, **kwargs):
        super().__init__(features, context, univariate=partial(MonotonicRQSTransform, slope=slope),
                         shapes=[(bins,), (bins,), (bins - 1,)], **kwargs)


class NICE(Flow):
    """zuko's NICE / RealNVP: `transforms` GeneralCouplingTransforms with alternating masks (the even features
    constant first; random with `randmask`), over DiagNormal(0, 1)."""

    def __init__(self, features, context=0, transforms=3, randmask=False, **kwargs):
        layers = []
        for i in range(transforms):
            index = torch.randperm(features) if randmask else torch.arange(features)
            layers.append(GeneralCouplingTransform(features, context, index % 2 == i % 2, **kwargs))
        super().__init__(layers, _standard_normal(features))


class RealNVP(NICE):
    pass
