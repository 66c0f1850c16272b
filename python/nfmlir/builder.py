"""Compose flows in Python and emit them as nf dialect text.

Every layer denotes the normalizing map x -> z (data to latent), as in the
nf dialect. Weights become `dense_resource` blobs, so large models stay
compact text.
"""

import struct

import numpy as np

_DTYPES = {"float32": ("f32", np.float32), "float64": ("f64", np.float64)}


def _tensor_type(shape, t, batch=False):
    dims = (["?"] if batch else []) + [str(int(d)) for d in shape]
    return "tensor<" + "x".join(dims + [t]) + ">"


def _float_literal(value):
    """A float as MLIR reads it (always with a decimal point)."""
    return f"{float(value):.17e}"


def _dense_literal(values, t, shape=None):
    """A dense literal of `values` with `shape` (default: flat)."""
    values = np.asarray(values, dtype=np.float64)
    shape = tuple(shape) if shape is not None else (values.size,)
    values = values.reshape(shape)

    def nested(v):
        if v.ndim == 0:
            return _float_literal(v)
        return "[" + ", ".join(nested(u) for u in v) + "]"

    return f"dense<{nested(values)}> : " + _tensor_type(shape, t)


def _event_array(owner, name, values, event_shape):
    """`values` as an array of the event shape: given in that shape or flat
    with as many entries."""
    values = np.asarray(values, np.float64)
    size = int(np.prod(event_shape))
    if values.shape != tuple(event_shape) and values.shape != (size,):
        raise ValueError(f"{owner}: {name} must have the event shape {tuple(event_shape)} or {size} entries, "
                         f"not shape {values.shape}")
    return values.reshape(event_shape)


class _Emitter:
    """Names, constants and conditioner functions of one model's text."""

    def __init__(self, model):
        self.model = model
        self.t, self.np_dtype = _DTYPES[model.dtype]
        self.event_shape = model.event_shape  # the current layer's input shape
        self.data_type = _tensor_type(self.event_shape, self.t, batch=True)
        self.body = []
        self.functions = []
        self.blobs = {}
        self.counter = 0

    @property
    def event_size(self):
        """Values per sample of the current layer's input."""
        return int(np.prod(self.event_shape))

    def fresh(self, prefix="v"):
        self.counter += 1
        return f"%{prefix}{self.counter}"

    def constant(self, array):
        """An arith.constant holding `array` as a dense_resource blob."""
        array = np.array(array, dtype=self.np_dtype, order="C")  # keeps 0-d shapes
        blob = f"{self.model.name}_blob{len(self.blobs)}"
        align = array.dtype.itemsize
        self.blobs[blob] = "0x" + struct.pack("<I", align).hex() + array.tobytes().hex()
        name = self.fresh("p")
        ttype = _tensor_type(array.shape, self.t)
        self.body.append(f"  {name} = arith.constant dense_resource<{blob}> : {ttype}")
        return name, ttype


class Layer:
    """Base class of layers: `emit` returns the SSA name of the output.

    `em.event_shape` is the shape that reaches the layer (after the layers
    before it) and `dim` its number of values; a layer that changes the shape
    updates `em.event_shape` and `em.data_type`."""

    def emit(self, em, x, dim):
        raise NotImplementedError


class Affine(Layer):
    """z = scale * x + shift; scale and shift are scalars or have one value
    per element of the event shape (given in that shape, or flat)."""

    def __init__(self, scale, shift):
        self.scale = np.asarray(scale, dtype=np.float64)
        self.shift = np.asarray(shift, dtype=np.float64)
        if np.any(self.scale == 0):
            raise ValueError("Affine: scale has a zero entry; the map is not invertible")

    def emit(self, em, x, dim):
        params = []
        for name, p in (("scale", self.scale), ("shift", self.shift)):
            if p.ndim != 0 and (p.size != dim or p.shape not in ((dim,), tuple(em.event_shape))):
                raise ValueError(f"Affine: {name} must be a scalar or have {dim} entries (event shape "
                                 f"{tuple(em.event_shape)}), not shape {p.shape}")
            params.append(em.constant(p if p.ndim == 0 else p.reshape(em.event_shape)))
        (s, st), (t, tt) = params
        out = em.fresh()
        xt = em.data_type
        em.body.append(f"  {out} = nf.affine {x} scale {s} shift {t} : {xt}, {st}, {tt}")
        return out


class Reverse(Layer):
    """Reverses the order of the features."""

    def emit(self, em, x, dim):
        out = em.fresh()
        em.body.append(f"  {out} = nf.reverse {x} : {em.data_type}")
        return out


class Squeeze(Layer):
    """Space-to-depth on images: (C, H, W) -> (4C, H/2, W/2); channel
    4c + 2i + j holds pixel (2h + i, 2w + j) of channel c (survae's order).
    Later layers see the squeezed shape."""

    def emit(self, em, x, dim):
        c, h, w = em.event_shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze: height and width must be even, not {h} x {w}")
        out = em.fresh()
        before = em.data_type
        em.event_shape = (4 * c, h // 2, w // 2)
        em.data_type = _tensor_type(em.event_shape, em.t, batch=True)
        em.body.append(f"  {out} = nf.squeeze {x} : {before} -> {em.data_type}")
        return out


class Permute(Layer):
    """z[:, i] = x[:, permutation[i]]."""

    def __init__(self, permutation):
        self.permutation = [int(p) for p in permutation]

    def emit(self, em, x, dim):
        features = em.event_shape[0]  # dimension 1: features, or image channels
        if sorted(self.permutation) != list(range(features)):
            raise ValueError(f"Permute: {self.permutation} is not a permutation of {features} features")
        out = em.fresh()
        perm = ", ".join(map(str, self.permutation))
        em.body.append(f"  {out} = nf.permute {x} [{perm}] : {em.data_type}")
        return out


class ActNorm(Layer):
    """Glow's activation normalization: z = scale * x + shift per channel
    (dimension 1 of the data)."""

    def __init__(self, scale, shift):
        self.scale = np.asarray(scale, np.float64).reshape(-1)
        self.shift = np.asarray(shift, np.float64).reshape(-1)

    def emit(self, em, x, dim):
        s, st = em.constant(self.scale)
        b, _ = em.constant(self.shift)
        out = em.fresh()
        em.body.append(f"  {out} = nf.actnorm {x} scale {s} shift {b} : {em.data_type}, {st}")
        return out


class Linear(Layer):
    """z = W x + bias over the features, or over the channels of an image at
    every pixel (Glow's invertible 1x1 convolution). W must be invertible;
    its inverse and log|det| are computed at compile time."""

    def __init__(self, weight, bias):
        self.weight = np.asarray(weight, np.float64)
        self.bias = np.asarray(bias, np.float64).reshape(-1)

    def emit(self, em, x, dim):
        w, wt = em.constant(self.weight)
        b, bt = em.constant(self.bias)
        out = em.fresh()
        em.body.append(f"  {out} = nf.linear {x} weight {w} bias {b} : {em.data_type}, {wt}, {bt}")
        return out


class LULinear(Layer):
    """z = P (L (U + diag(s)) x) + bias, over the features or over the
    channels of an image at every pixel (Glow's LU-decomposed 1x1
    convolution). L is unit lower triangular (only the strictly lower part
    of `lower` is used), U strictly upper triangular (only the strictly
    upper part of `upper` is used), s = `diag` has no zero entry, and
    (P v)[i] = v[permutation[i]] (no permutation when None).
    V = (pixels) * sum log|s|, the same for every sample."""

    def __init__(self, lower, upper, diag, bias, permutation=None):
        self.lower = np.asarray(lower, np.float64)
        self.upper = np.asarray(upper, np.float64)
        self.diag = np.asarray(diag, np.float64).reshape(-1)
        self.bias = np.asarray(bias, np.float64).reshape(-1)
        self.permutation = None if permutation is None else [int(p) for p in permutation]
        c = self.diag.size
        for name, p in (("lower", self.lower), ("upper", self.upper)):
            if p.shape != (c, c):
                raise ValueError(f"LULinear: {name} must have shape ({c}, {c}), not {p.shape}")
        if self.bias.size != c:
            raise ValueError(f"LULinear: bias must have {c} entries, not {self.bias.size}")
        if np.any(self.diag == 0):
            raise ValueError("LULinear: diag has a zero entry; the map is not invertible")
        if self.permutation is not None and sorted(self.permutation) != list(range(c)):
            raise ValueError(f"LULinear: {self.permutation} is not a permutation of {c} channels")

    @staticmethod
    def nflows_diag(unconstrained):
        """The diagonal of nflows' LULinear from its unconstrained parameters:
        softplus(theta) + 1e-3."""
        return np.logaddexp(0.0, np.asarray(unconstrained, np.float64)) + 1e-3

    def emit(self, em, x, dim):
        if em.event_shape[0] != self.diag.size:
            raise ValueError(f"LULinear: acts on {self.diag.size} channels, the data has {em.event_shape[0]}")
        lower, lt = em.constant(self.lower)
        upper, _ = em.constant(self.upper)
        diag, st = em.constant(self.diag)
        bias, _ = em.constant(self.bias)
        perm = "" if self.permutation is None else f" permutation [{', '.join(map(str, self.permutation))}]"
        out = em.fresh()
        em.body.append(f"  {out} = nf.lu_linear {x} lower {lower} upper {upper} diag {diag} bias {bias}{perm} : "
                       f"{em.data_type}, {lt}, {st}")
        return out


class Radial(Layer):
    """Radial flow: z = x + beta / (alpha + r) (x - center), r = |x - center|;
    alpha > 0, beta >= -alpha."""

    def __init__(self, center, alpha, beta):
        self.center = np.asarray(center, np.float64).reshape(-1)
        self.alpha, self.beta = float(alpha), float(beta)

    def emit(self, em, x, dim):
        c, ct = em.constant(self.center.reshape(em.event_shape))
        out = em.fresh()
        em.body.append(f"  {out} = nf.radial {x} center {c} {{alpha = {_float_literal(self.alpha)}, "
                       f"beta = {_float_literal(self.beta)}}} : {em.data_type}, {ct}")
        return out


class Planar(Layer):
    """Planar flow: z = x + u tanh(w . x + b), u and w with one entry per
    feature (the event shape), b a scalar. Invertible iff w . u > -1.
    V = log(1 + (1 - tanh^2(w . x + b)) w . u); the inverse solves a scalar
    monotone equation for w . x + b."""

    def __init__(self, u, w, b):
        self.u = np.asarray(u, np.float64).reshape(-1)
        self.w = np.asarray(w, np.float64).reshape(-1)
        self.b = float(b)
        if self.u.shape != self.w.shape:
            raise ValueError(f"Planar: u and w must have the same number of entries, not {self.u.size} and "
                             f"{self.w.size}")
        if not self.w @ self.u > -1:
            raise ValueError(f"Planar: needs w . u > -1 for invertibility, not {self.w @ self.u!r}; "
                             "see Planar.reparameterized")

    @classmethod
    def reparameterized(cls, u, w, b):
        """normflows' constraint: u is replaced by
        u + (m(w . u) - w . u) w / |w|^2, m(a) = -1 + softplus(a), so that
        w . u = m(w . u) > -1."""
        u = np.asarray(u, np.float64).reshape(-1)
        w = np.asarray(w, np.float64).reshape(-1)
        wu = w @ u
        m = -1.0 + np.logaddexp(0.0, wu)
        return cls(u + (m - wu) * w / (w @ w), w, b)

    def emit(self, em, x, dim):
        if self.u.size != dim:
            raise ValueError(f"Planar: u and w have {self.u.size} entries, the data has {dim} features")
        u, ut = em.constant(self.u.reshape(em.event_shape))
        w, _ = em.constant(self.w.reshape(em.event_shape))
        b, bt = em.constant(np.array(self.b))
        out = em.fresh()
        em.body.append(f"  {out} = nf.planar {x} u {u} w {w} bias {b} : {em.data_type}, {ut}, {bt}")
        return out


class BatchNorm(Layer):
    """Batch normalization in inference mode, per channel:
    z = exp(log_gamma) (x - mean) / sqrt(variance + epsilon) + beta."""

    def __init__(self, mean, variance, log_gamma, beta, epsilon=1e-5):
        self.mean, self.variance, self.log_gamma, self.beta = (
            np.asarray(p, np.float64).reshape(-1) for p in (mean, variance, log_gamma, beta))
        self.epsilon = float(epsilon)

    def emit(self, em, x, dim):
        names = []
        for p in (self.mean, self.variance, self.log_gamma, self.beta):
            name, ptype = em.constant(p)
            names.append(name)
        out = em.fresh()
        m, v, g, b = names
        em.body.append(f"  {out} = nf.batch_norm {x} mean {m} variance {v} log_gamma {g} beta {b} "
                       f"{{epsilon = {_float_literal(self.epsilon)}}} : {em.data_type}, {ptype}")
        return out


_SPLINE_MIN = 1e-3  # nflows' min_bin_width = min_bin_height = min_derivative


def _check_spline(owner, bins, tail_bound, minimums=(_SPLINE_MIN,) * 3):
    """bins >= 2, tail_bound > 0, minimum bin width, bin height and derivative > 0 (the bins' < 1 / bins)."""
    if bins < 2 or bins * max(minimums[:2]) >= 1:
        raise ValueError(f"{owner}: needs 2 <= bins < {1 / max(minimums[:2]):g}, not {bins}")
    if not tail_bound > 0:
        raise ValueError(f"{owner}: tail_bound must be > 0, not {tail_bound!r}")
    if not min(minimums) > 0:
        raise ValueError(f"{owner}: the minimum bin width, bin height and derivative must be > 0, not {minimums}")


def _spline_attributes(layer):
    """The spline layers' attribute text: bins, tail_bound, and minimums other than nflows' 1e-3."""
    attrs = [f"bins = {layer.bins}", f"tail_bound = {_float_literal(layer.tail_bound)}"]
    names = ("min_bin_width", "min_bin_height", "min_derivative")
    attrs += [f"{n} = {_float_literal(m)}" for n, m in zip(names, layer.minimums) if m != _SPLINE_MIN]
    return f" {{{', '.join(attrs)}}}"


class RQSpline(Layer):
    """Elementwise rational-quadratic spline with linear tails (Neural
    Spline Flows; nflows' unconstrained_rational_quadratic_spline): the
    identity outside [-tail_bound, tail_bound], K bins inside. The raw
    (unnormalized) parameters have the data's event shape plus a last axis:
    widths and heights (..., K), interior derivatives (..., K - 1); widths
    and heights go through a softmax, derivatives through softplus, with
    minimum bin width, bin height and derivative 1e-3."""

    def __init__(self, widths, heights, derivatives, tail_bound=3.0):
        self.widths = np.asarray(widths, np.float64)
        self.heights = np.asarray(heights, np.float64)
        self.derivatives = np.asarray(derivatives, np.float64)
        self.tail_bound = float(tail_bound)
        if self.widths.ndim < 1 or self.heights.shape != self.widths.shape:
            raise ValueError(f"RQSpline: widths and heights must have the same shape (..., K), not "
                             f"{self.widths.shape} and {self.heights.shape}")
        self.bins = self.widths.shape[-1]
        _check_spline("RQSpline", self.bins, self.tail_bound)
        if self.derivatives.shape != self.widths.shape[:-1] + (self.bins - 1,):
            raise ValueError(f"RQSpline: derivatives must have shape {self.widths.shape[:-1] + (self.bins - 1,)} "
                             f"(K - 1 interior knots), not {self.derivatives.shape}")
        if not all(np.isfinite(p).all() for p in (self.widths, self.heights, self.derivatives)):
            raise ValueError("RQSpline: the parameters must be finite")

    def emit(self, em, x, dim):
        if self.widths.shape[:-1] != tuple(em.event_shape):
            raise ValueError(f"RQSpline: the parameters must have shape {tuple(em.event_shape)} + (K,) "
                             f"(the data's event shape), not {self.widths.shape}")
        w, wt = em.constant(self.widths)
        h, _ = em.constant(self.heights)
        d, dt = em.constant(self.derivatives)
        out = em.fresh()
        em.body.append(f"  {out} = nf.rq_spline {x} widths {w} heights {h} derivatives {d} "
                       f"{{tail_bound = {_float_literal(self.tail_bound)}}} : {em.data_type}, {wt}, {dt}")
        return out


class _Elementwise(Layer):
    """An elementwise bijection `nf.<op>` with float attributes."""

    op = None

    def attributes(self):
        return {}

    def emit(self, em, x, dim):
        out = em.fresh()
        attrs = ", ".join(f"{k} = {_float_literal(v)}" for k, v in self.attributes().items())
        attrs = f" {{{attrs}}}" if attrs else ""
        em.body.append(f"  {out} = nf.{self.op} {x}{attrs} : {em.data_type}")
        return out


class Elementwise(Layer):
    """A user-defined elementwise bijection: `body` is MLIR arith/math text
    computing the forward map of one scalar `%v` of type `{T}` into
    `result`. The compiler derives the inverse (symbolically, or by a
    monotone root solve when `monotone` is 'increasing' or 'decreasing') and
    log|f'(x)|."""

    def __init__(self, body, result, monotone=None, tolerance=None):
        if monotone not in (None, "increasing", "decreasing"):
            raise ValueError(f"monotone must be None, 'increasing' or 'decreasing', not {monotone!r}")
        self.body, self.result, self.monotone, self.tolerance = body, result, monotone, tolerance

    def emit(self, em, x, dim):
        out = em.fresh()
        monotone = f" monotone {self.monotone}" if self.monotone else ""
        attrs = f" {{tolerance = {_float_literal(self.tolerance)}}}" if self.tolerance else ""
        lines = [f"  {out} = nf.elementwise {x}{monotone}{attrs} : {em.data_type} {{", f"  ^bb0(%v: {em.t}):"]
        lines += ["    " + line.strip() for line in self.body.replace("{T}", em.t).strip().splitlines()]
        lines += [f"    nf.scalar_yield {self.result} : {em.t}", "  }"]
        em.body.append("\n".join(lines))
        return out


class Sigmoid(_Elementwise):
    """z = sigmoid(temperature * x)."""

    op = "sigmoid"

    def __init__(self, temperature=1.0):
        self.temperature = float(temperature)

    def attributes(self):
        return {"temperature": self.temperature}


class Logit(_Elementwise):
    """z = logit(alpha + (1 - 2 alpha) x) / temperature, data in [0, 1]."""

    op = "logit"

    def __init__(self, alpha=0.0, temperature=1.0):
        self.alpha = float(alpha)
        self.temperature = float(temperature)

    def attributes(self):
        return {"alpha": self.alpha, "temperature": self.temperature}


class Tanh(_Elementwise):
    """z = tanh(x)."""

    op = "tanh"


class Softplus(_Elementwise):
    """z = log(1 + exp(x))."""

    op = "softplus"


class LeakyReLU(_Elementwise):
    """z = x for x >= 0, slope * x otherwise."""

    op = "leaky_relu"

    def __init__(self, slope=0.01):
        self.slope = float(slope)

    def attributes(self):
        return {"slope": self.slope}


class Exp(_Elementwise):
    """z = exp(x)."""

    op = "exp"


class Log(_Elementwise):
    """z = log(x), data in (0, inf)."""

    op = "log"


class MLP:
    """Dense layers y = x W + b with `activation` between them.

    `layers` is a list of (W, b) with W of shape (in, out) (PyTorch's
    Linear.weight transposed) and b of shape (out,).
    """

    ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")

    def __init__(self, layers, activation="relu"):
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {self.ACTIVATIONS}, not {activation!r}")
        self.layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers]
        self.activation = activation
        if not self.layers:
            raise ValueError("MLP: needs at least one layer")
        for k, (w, b) in enumerate(self.layers):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise ValueError(f"MLP: layer {k} has W {w.shape} and b {b.shape}; need (in, out) and (out,)")
            if k and w.shape[0] != self.layers[k - 1][0].shape[1]:
                raise ValueError(f"MLP: layer {k} takes {w.shape[0]} inputs, the previous one gives "
                                 f"{self.layers[k - 1][0].shape[1]}")

    @property
    def in_features(self):
        return self.layers[0][0].shape[0]

    @property
    def out_features(self):
        return self.layers[-1][0].shape[1]

    def __call__(self, inputs):
        """The net in numpy (float64) on rows of [inputs, context]."""
        return _dense_forward(self.layers, self.activation, np.asarray(inputs, np.float64))

    def reach(self, dim):
        """(dim, out) booleans: output j depends on input i < dim by the zero pattern of the weights."""
        return _dense_reach(self.layers, np.eye(dim, self.in_features, dtype=bool))

    def map_outputs(self, matrix):
        """The net whose outputs are this net's times `matrix` (out, new out), folded into the last layer."""
        w, b = self.layers[-1]
        return MLP(self.layers[:-1] + [(w @ matrix, b @ matrix)], self.activation)

    def permute_inputs(self, permutation):
        """The net of x[:, permutation] (then the context): net.permute_inputs(p)(x[:, p]) = net(x)."""
        p = np.asarray(permutation, int)
        w, b = self.layers[0]
        w = np.vstack([w[: p.size][p], w[p.size:]])
        return MLP([(w, b)] + self.layers[1:], self.activation)

    @classmethod
    def random(cls, sizes, activation="relu", rng=None, scale=1.0):
        """An MLP with Glorot-like random weights, for tests and demos."""
        rng = np.random.default_rng(rng)
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = scale * np.sqrt(6.0 / (fan_in + fan_out))
            layers.append((rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-0.1, 0.1, fan_out)))
        return cls(layers, activation)


class ConvNet:
    """Convolutions with "same" zero padding and `activation` between them,
    a conditioner for coupling layers on images.

    `layers` is a list of (W, b) with W of shape (out, in, kh, kw) (PyTorch's
    Conv2d.weight; odd kernel sizes) and b of shape (out,).
    """

    ACTIVATIONS = ("relu", "tanh", "elu")

    def __init__(self, layers, activation="relu"):
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"ConvNet: activation must be one of {self.ACTIVATIONS}, not {activation!r}")
        self.layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers]
        self.activation = activation
        if not self.layers:
            raise ValueError("ConvNet: needs at least one layer")
        for k, (w, b) in enumerate(self.layers):
            if w.ndim != 4 or b.shape != (w.shape[0],) or w.shape[2] % 2 == 0 or w.shape[3] % 2 == 0:
                raise ValueError(f"ConvNet: layer {k} has W {w.shape} and b {b.shape}; need (out, in, kh, kw) "
                                 f"with odd kh, kw and (out,)")
            if k and w.shape[1] != self.layers[k - 1][0].shape[0]:
                raise ValueError(f"ConvNet: layer {k} takes {w.shape[1]} channels, the previous one gives "
                                 f"{self.layers[k - 1][0].shape[0]}")

    @property
    def in_features(self):
        return self.layers[0][0].shape[1]

    @property
    def out_features(self):
        return self.layers[-1][0].shape[0]

    @classmethod
    def random(cls, channels, kernel=3, activation="relu", rng=None, scale=1.0):
        """A ConvNet with Glorot-like random weights, for tests and demos."""
        rng = np.random.default_rng(rng)
        layers = []
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            bound = scale * np.sqrt(6.0 / ((c_in + c_out) * kernel * kernel))
            layers.append((rng.uniform(-bound, bound, (c_out, c_in, kernel, kernel)), rng.uniform(-0.1, 0.1, c_out)))
        return cls(layers, activation)

    def emit_body(self, em, arg, spatial, names, types):
        """Lines computing the network on `arg` (channels x `spatial`
        images); returns (lines, result name)."""
        t = em.t
        h, w = spatial
        lines = [f"  %zero = arith.constant 0.0 : {t}", "  %c0 = arith.constant 0 : index",
                 f"  %n = tensor.dim {arg}, %c0 : {_tensor_type([self.in_features, h, w], t, batch=True)}"]
        value = arg
        for k, (weight, _) in enumerate(self.layers):
            c_out, c_in, kh, kw = weight.shape
            ph, pw = kh // 2, kw // 2
            in_t = _tensor_type([c_in, h, w], t, batch=True)
            pad_t = _tensor_type([c_in, h + 2 * ph, w + 2 * pw], t, batch=True)
            out_t = _tensor_type([c_out, h, w], t, batch=True)
            lines += [f"  %pad{k} = tensor.pad {value} low[0, 0, {ph}, {pw}] high[0, 0, {ph}, {pw}] {{",
                      "  ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):",
                      f"    tensor.yield %zero : {t}",
                      f"  }} : {in_t} to {pad_t}",
                      f"  %empty{k} = tensor.empty(%n) : {out_t}",
                      f"  %bias{k} = linalg.broadcast ins({names[2 * k + 1]} : {types[2 * k + 1]}) "
                      f"outs(%empty{k} : {out_t}) dimensions = [0, 2, 3]",
                      f"  %conv{k} = linalg.conv_2d_nchw_fchw ins(%pad{k}, {names[2 * k]} : {pad_t}, {types[2 * k]}) "
                      f"outs(%bias{k} : {out_t}) -> {out_t}"]
            value = f"%conv{k}"
            if k + 1 < len(self.layers):
                lines += [f"  %act{k} = linalg.generic {{indexing_maps = [affine_map<(d0, d1, d2, d3) -> "
                          f"(d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = "
                          f"[\"parallel\", \"parallel\", \"parallel\", \"parallel\"]}} ins({value} : {out_t}) "
                          f"outs(%empty{k} : {out_t}) {{",
                          f"  ^bb0(%a: {t}, %o: {t}):"] + [
                          "    " + line for line in _SCALAR_ACTIVATIONS[self.activation].replace("{T}", t).splitlines()
                ] + [f"    linalg.yield %r : {t}", f"  }} -> {out_t}"]
                value = f"%act{k}"
        return lines, value


_SCALAR_ACTIVATIONS = {
    "relu": "%zero_a = arith.constant 0.0 : {T}\n%r = arith.maximumf %a, %zero_a : {T}",
    "tanh": "%r = math.tanh %a : {T}",
    "elu": "%zero_a = arith.constant 0.0 : {T}\n%p = arith.cmpf ogt, %a, %zero_a : {T}\n%e = math.expm1 %a : {T}\n"
           "%r = arith.select %p, %a, %e : {T}",
    "leaky_relu": "%zero_a = arith.constant 0.0 : {T}\n%p = arith.cmpf ogt, %a, %zero_a : {T}\n"
                  "%slope = arith.constant 0.01 : {T}\n%m = arith.mulf %a, %slope : {T}\n"
                  "%r = arith.select %p, %a, %m : {T}",
    "sigmoid": "%neg = arith.negf %a : {T}\n%en = math.exp %neg : {T}\n%one = arith.constant 1.0 : {T}\n"
               "%den = arith.addf %one, %en : {T}\n%r = arith.divf %one, %den : {T}",
}

# The same activations in numpy (float64), for the conditioners' references.
_NUMPY_ACTIVATIONS = {
    "relu": lambda v: np.maximum(v, 0.0),
    "tanh": np.tanh,
    "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0.0))),
    "leaky_relu": lambda v: np.where(v > 0, v, 0.01 * v),
    "sigmoid": lambda v: np.exp(-np.logaddexp(0.0, -v)),
}


# Elementwise maps of a conditioner's outputs that the nf layers' own parameterizations lack (zuko's soft
# clipping, zuko's exp derivatives for nf's softplus, log sigmoid scales for an exp scale_fn): name ->
# (parameters per column, numpy f(a, *params), MLIR body computing %f from %a and %p0, %p1, ...).
_OUTPUT_MAPS = {
    # a / (1 + q |a|): zuko's bound on raw parameters (q = k / |log slope|); q = 0 is the identity.
    "soft_clip": (1, lambda a, q: a / (1 + q * np.abs(a)),
                  "%abs = math.absf %a : {T}\n%qa = arith.mulf %p0, %abs : {T}\n%one = arith.constant 1.0 : {T}\n"
                  "%den = arith.addf %one, %qa : {T}\n%f = arith.divf %a, %den : {T}"),
    # softplus^-1(exp(a)) = y + log(-expm1(-y)), y = exp(a): what makes min_derivative + softplus give exp(a).
    "exp_softplus_inverse": (0, lambda a: np.exp(a) + np.log(-np.expm1(-np.exp(a))),
                             "%y = math.exp %a : {T}\n%ny = arith.negf %y : {T}\n%em = math.expm1 %ny : {T}\n"
                             "%nem = arith.negf %em : {T}\n%l = math.log %nem : {T}\n%f = arith.addf %y, %l : {T}"),
    # sign * log sigmoid(a + offset) = -sign * softplus(-(a + offset)), stable for any a.
    "log_sigmoid": (2, lambda a, offset, sign: -sign * np.logaddexp(0.0, -(a + offset)),
                    "%u0 = arith.addf %a, %p0 : {T}\n%u = arith.negf %u0 : {T}\n%au = math.absf %u : {T}\n"
                    "%nau = arith.negf %au : {T}\n%e = math.exp %nau : {T}\n%l = math.log1p %e : {T}\n"
                    "%zero_u = arith.constant 0.0 : {T}\n%mx = arith.maximumf %u, %zero_u : {T}\n"
                    "%sp = arith.addf %mx, %l : {T}\n%nsp = arith.negf %sp : {T}\n%f = arith.mulf %p1, %nsp : {T}"),
}


def _dense_forward(layers, activation, h):
    """Dense layers [(W (in, out), b)] with `activation` between them (nf.mlp) in numpy."""
    for k, (w, b) in enumerate(layers):
        h = _NUMPY_ACTIVATIONS[activation](h) if k else h
        h = h @ w + b
    return h


def _dense_reach(layers, reach):
    """The inputs each output of dense layers depends on, from the inputs' `reach` (booleans, (inputs, in))."""
    for w, _ in layers:
        reach = (reach.astype(np.float64) @ (np.abs(w) > 0)) > 0
    return reach


class IResNet(Layer):
    """Invertible residual block (i-ResNet): z = x + g(x), g = `net` (an MLP
    from the D features to D values) with Lipschitz constant < 1: the
    compiler rejects nets whose product of spectral norms is >= 1 (every
    MLP activation is 1-Lipschitz).

    `logdet="exact"`: V = log det(I + J_g(x)), exactly (an LU factorization
    per sample). `"series"`: the power series sum_{k=1..terms} (-1)^(k+1)/k
    v^T J_g^k v, averaged over `probes` Rademacher vectors v drawn at
    compile time from `seed`: an estimate of V (the truncated Hutchinson
    estimator of Behrmann et al.). The inverse is the fixed point
    x <- z - g(x), stopped when the update is below `tolerance` (default
    1e-10 for f64, 1e-6 for f32) or after `max_iterations`."""

    LOGDETS = ("exact", "series")

    def __init__(self, net, logdet="exact", terms=10, probes=4, seed=0, tolerance=None, max_iterations=200):
        if logdet not in self.LOGDETS:
            raise ValueError(f"IResNet: logdet must be one of {self.LOGDETS}, not {logdet!r}")
        if net.in_features != net.out_features:
            raise ValueError(f"IResNet: the residual branch must map D values to D, not "
                             f"{net.in_features} -> {net.out_features}")
        for name, value in (("terms", terms), ("probes", probes), ("max_iterations", max_iterations)):
            if int(value) != value or value < 1:
                raise ValueError(f"IResNet: {name} must be a positive integer, not {value!r}")
        if int(seed) != seed or seed < 0:
            raise ValueError(f"IResNet: seed must be a non-negative integer, not {seed!r}")
        if tolerance is not None and not tolerance > 0:
            raise ValueError(f"IResNet: tolerance must be > 0, not {tolerance!r}")
        self.net, self.logdet = net, logdet
        self.terms, self.probes, self.seed = int(terms), int(probes), int(seed)
        self.tolerance, self.max_iterations = tolerance, int(max_iterations)

    @staticmethod
    def contractive(sizes, activation="elu", lipschitz=0.9, rng=None):
        """A random MLP with layer sizes `sizes` (D, ..., D) whose weights are
        each scaled to spectral norm lipschitz ** (1 / layers), so that the
        product of the spectral norms is `lipschitz`."""
        if sizes[0] != sizes[-1]:
            raise ValueError(f"IResNet.contractive: the branch must end with as many values as it takes, "
                             f"not {sizes[0]} -> {sizes[-1]}")
        if not lipschitz > 0:
            raise ValueError(f"IResNet.contractive: lipschitz must be > 0, not {lipschitz!r}")
        net = MLP.random(sizes, activation, rng)
        target = lipschitz ** (1.0 / len(net.layers))
        return MLP([(w * (target / np.linalg.norm(w, 2)), b) for w, b in net.layers], activation)

    def emit(self, em, x, dim):
        if self.net.in_features != dim:
            raise ValueError(f"IResNet: the residual branch takes {self.net.in_features} values, the data has "
                             f"{dim} features")
        params, types = [], []
        for w, bias in self.net.layers:
            for p in (w, bias):
                name, ttype = em.constant(p)
                params.append(name)
                types.append(ttype)
        tolerance = self.tolerance if self.tolerance is not None else (1e-10 if em.t == "f64" else 1e-6)
        attrs = (f'logdet = "{self.logdet}", terms = {self.terms}, probes = {self.probes}, seed = {self.seed}, '
                 f"tolerance = {_float_literal(tolerance)}, max_iterations = {self.max_iterations}")
        out = em.fresh()
        em.body.append(f"  {out} = nf.iresnet {x} ({', '.join(params)} : {', '.join(types)}) activation "
                       f"{self.net.activation} {{{attrs}}} : {em.data_type}")
        return out


def parity_mask(dim, even=True):
    """Identity features by parity: [0, 2, 4, ...] or [1, 3, 5, ...]."""
    return list(range(0 if even else 1, dim, 2))


def _weight_constants(em, net):
    """The weights and biases of `net` (its `arrays`, for a ResidualNet or
    ResidualMADE) as constants: (SSA names, types)."""
    params, types = [], []
    arrays = net.arrays if isinstance(net, _Net) else [p for layer in net.layers for p in layer]
    for p in arrays:
        name, ttype = em.constant(p)
        params.append(name)
        types.append(ttype)
    return params, types


def _conditioner_call(em, net, arg, label, width, outputs, owner, layout):
    """Emits the conditioner `net` as a private function taking `arg` (the
    layer's `width` conditioning features, named `label` in messages), the
    model's context if it has one, and the weights as arguments. Returns the
    op's `conditioner @f(params : types)[ context %c : type]` text."""
    model = em.model
    c = model.context_dim
    spatial = tuple(em.event_shape[1:])
    image = isinstance(net, ConvNet)
    if image and (len(spatial) != 2 or c):
        raise ValueError(f"{owner}: a ConvNet conditioner needs image data (C, H, W) and no context, not event "
                         f"shape {em.event_shape}{' with a context' if c else ''}")
    if not image and spatial:
        raise ValueError(f"{owner}: image data (event shape {em.event_shape}) needs a ConvNet conditioner")
    if net.in_features != width + c or net.out_features != outputs:
        raise ValueError(f"{owner}: the conditioner must map {width + c} inputs ({label}"
                         f"{' and context' if c else ''}) to {outputs} outputs ({layout}), not "
                         f"{net.in_features} -> {net.out_features}")
    t = em.t
    params, types = _weight_constants(em, net)
    fname = f"{model.name}_conditioner{len(em.functions)}"
    arg_t = _tensor_type([width, *spatial], t, batch=True)
    c_t = _tensor_type([c], t, batch=True)
    in_t = _tensor_type([width + c], t, batch=True)
    out_t = _tensor_type([outputs, *spatial], t, batch=True)
    args = [f"{arg}: {arg_t}"] + ([f"%c: {c_t}"] if c else [])
    args += [f"%w{i}: {ty}" for i, ty in enumerate(types)]
    fn = [f"func.func private @{fname}({', '.join(args)}) -> {out_t} {{"]
    context = f" context %c : {c_t}" if c else ""
    if image or isinstance(net, _Net):
        names = [f"%w{i}" for i in range(len(types))]
        if image:
            lines, result = net.emit_body(em, arg, spatial, names, types)
        else:
            lines, result = net.emit_body(em, arg, "%c" if c else None, names, types)
        em.functions.append("\n".join(fn + lines + [f"  return {result} : {out_t}", "}"]))
        return f"conditioner @{fname}({', '.join(params)} : {', '.join(types)}){context}"
    mlp_in = arg
    if c:
        fn.append(f"  %in = tensor.concat dim(1) {arg}, %c : ({arg_t}, {c_t}) -> {in_t}")
        mlp_in = "%in"
    ws = ", ".join(f"%w{i}" for i in range(len(types)))
    fn.append(f"  %h = nf.mlp {mlp_in} ({ws} : {', '.join(types)}) activation {net.activation} : {in_t} -> {out_t}")
    fn.append(f"  return %h : {out_t}")
    fn.append("}")
    em.functions.append("\n".join(fn))
    return f"conditioner @{fname}({', '.join(params)} : {', '.join(types)}){context}"


class _Coupling(Layer):
    """Shared emission of coupling layers: the conditioner becomes a private
    function taking x_A (and the context), its weights passed as arguments."""

    op = None
    params_per_feature = None
    layout = None

    def __init__(self, identity, conditioner):
        self.identity = sorted(int(i) for i in identity)
        self.conditioner = conditioner

    def suffix(self):
        return ""

    def emit(self, em, x, dim):
        a = len(self.identity)
        features = em.event_shape[0]  # dimension 1: features, or image channels
        call = _conditioner_call(em, self.conditioner, "%xa", "x_A", a, self.params_per_feature * (features - a),
                                 type(self).__name__, self.layout)
        out = em.fresh()
        identity = ", ".join(map(str, self.identity))
        em.body.append(f"  {out} = nf.{self.op} {x} identity [{identity}] {call}{self.suffix()} : {em.data_type}")
        return out


class AffineCoupling(_Coupling):
    """RealNVP affine coupling.

    `identity` lists the features that pass through and condition the
    transform of the others (B). The conditioner maps x_A (concatenated with
    the model's context, if any) to 2|B| values: shift, then unconstrained
    scale h; scale = exp(h), sigmoid(h + 2) + 1e-3 or softplus(h) + 1e-3.
    With shift_first (Glow), z_B = (x_B + shift) * scale.
    """

    op = "affine_coupling"
    params_per_feature = 2
    layout = "shift, then unconstrained scale"
    SCALE_FNS = ("exp", "sigmoid", "softplus")

    def __init__(self, identity, conditioner, scale_fn="exp", shift_first=False):
        super().__init__(identity, conditioner)
        if scale_fn not in self.SCALE_FNS:
            raise ValueError(f"AffineCoupling: scale_fn must be one of {self.SCALE_FNS}, not {scale_fn!r}")
        self.scale_fn = scale_fn
        self.shift_first = bool(shift_first)

    def suffix(self):
        return f" scale_fn {self.scale_fn}" + (" shift_first" if self.shift_first else "")


class AugmentedFlowStep(Layer):
    """One step of an augmented normalizing flow (ANF, Huang et al. 2020;
    VFlow): after an Augment that appended E features e to the D data
    features x, an "encode" coupling e <- e * scale(x) + shift(x) (`encode`:
    MLP D -> 2E) and a "decode" coupling x <- x * scale(e) + shift(e)
    (`decode`: MLP E -> 2D). Two affine couplings across the x / e split:
    the pattern, not a new op."""

    def __init__(self, features, encode, decode, scale_fn="exp"):
        self.features = int(features)
        self.encode, self.decode, self.scale_fn = encode, decode, scale_fn

    def emit(self, em, x, dim):
        total = em.event_shape[0]
        if len(em.event_shape) != 1 or not 1 <= self.features < total:
            raise ValueError(f"AugmentedFlowStep: needs {self.features} data features followed by augmented ones "
                             f"(after an Augment), not event shape {em.event_shape}")
        data, augmented = list(range(self.features)), list(range(self.features, total))
        x = AffineCoupling(data, self.encode, self.scale_fn).emit(em, x, dim)
        return AffineCoupling(augmented, self.decode, self.scale_fn).emit(em, x, dim)


class AdditiveCoupling(_Coupling):
    """NICE additive coupling: z_B = x_B + m(x_A); volume preserving."""

    op = "additive_coupling"
    params_per_feature = 1
    layout = "shift"


class SplineCoupling(_Coupling):
    """Rational-quadratic spline coupling (RQ-NSF (C)) with linear tails.

    The conditioner maps x_A (concatenated with the model's context, if any)
    to (3K - 1)|B| raw spline parameters, contiguous per transformed feature
    (nflows' layout): for the j-th feature of B (increasing order), outputs
    [j (3K - 1), (j + 1)(3K - 1)) are K widths, K heights and K - 1 interior
    derivatives, as in RQSpline (no 1/sqrt(hidden) scaling). `minimums`: the minimum bin width, bin height
    and derivative (nflows' 1e-3 each)."""

    op = "rq_spline_coupling"
    layout = "per transformed feature: K widths, K heights, K - 1 derivatives"

    def __init__(self, identity, conditioner, bins=8, tail_bound=3.0, minimums=(_SPLINE_MIN,) * 3):
        super().__init__(identity, conditioner)
        self.bins, self.tail_bound = int(bins), float(tail_bound)
        self.minimums = tuple(float(m) for m in minimums)
        _check_spline("SplineCoupling", self.bins, self.tail_bound, self.minimums)
        self.params_per_feature = 3 * self.bins - 1

    def suffix(self):
        return _spline_attributes(self)


def made_masks(features, hidden_sizes, output_multiplier, context_dim=0):
    """The 0/1 masks of a MADE (nflows' sequential degrees), one per layer,
    each of shape (in, out) like MLP weights. Input degrees are 1..D; hidden
    degrees arange(out) % max(1, D - 1) + min(1, D - 1), connected where
    out_degree >= in_degree; the output degrees repeat each input degree
    `output_multiplier` times ([1, 1, 2, 2, ...]), connected where
    out_degree > in_degree, so output j depends only on the features before
    feature j // output_multiplier. Context columns, appended to the first
    layer's inputs, are connected everywhere."""
    features, output_multiplier, context_dim = int(features), int(output_multiplier), int(context_dim)
    if features < 1 or output_multiplier < 1 or context_dim < 0:
        raise ValueError("made_masks: need features >= 1, output_multiplier >= 1 and context_dim >= 0")
    previous = np.arange(1, features + 1)
    masks = []
    for size in hidden_sizes:
        degrees = np.arange(int(size)) % max(1, features - 1) + min(1, features - 1)
        masks.append((degrees[None, :] >= previous[:, None]).astype(np.float64))
        previous = degrees
    degrees = np.repeat(np.arange(1, features + 1), output_multiplier)
    masks.append((degrees[None, :] > previous[:, None]).astype(np.float64))
    masks[0] = np.vstack([masks[0], np.ones((context_dim, masks[0].shape[1]))])
    return masks


class MADE(MLP):
    """A masked autoencoder (Germain et al. 2015) as an MLP: each weight is
    multiplied by its mask from made_masks, so output j depends only on the
    inputs before feature j // output_multiplier (and on the context)."""

    def __init__(self, layers, features, output_multiplier, context_dim=0, activation="relu"):
        layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers]
        self.features, self.output_multiplier = int(features), int(output_multiplier)
        self.context_dim = int(context_dim)
        self.masks = made_masks(self.features, [w.shape[1] for w, _ in layers[:-1]], self.output_multiplier,
                                self.context_dim)
        for k, ((w, _), mask) in enumerate(zip(layers, self.masks)):
            if w.shape != mask.shape:
                raise ValueError(f"MADE: layer {k} has W {w.shape}, its mask needs {mask.shape}")
        super().__init__([(w * mask, b) for (w, b), mask in zip(layers, self.masks)], activation)

    @classmethod
    def random(cls, features, hidden_sizes, output_multiplier, context_dim=0, activation="relu", rng=None,
               scale=1.0):
        """A MADE with MLP.random's weights, masked."""
        sizes = [features + context_dim] + list(hidden_sizes) + [features * output_multiplier]
        net = MLP.random(sizes, activation, rng, scale)
        return cls(net.layers, features, output_multiplier, context_dim, activation)


class _Net:
    """A conditioner network that is not a chain of dense layers (ResidualNet,
    ResidualMADE): `steps` on named values, emitted as one func.func body of
    nf.mlp (dense parts) and linalg.generic (elementwise parts) ops, with a
    numpy reference (`__call__`).

    A step is (kind, sources, arrays, activation); sources are "x" (the
    conditioned features), "c" (the context) or an earlier step's index, and
    the last step's value is the output:
      "dense": the sources concatenated, then the dense layers `arrays`
               [W0, b0, W1, b1, ...] (W (in, out)) with `activation` between them;
      "act":   activation(a * scale + shift), arrays [scale, shift] per feature
               (a batch norm in eval mode), or activation(a) without arrays;
      "add":   a + b;
      "gate":  a + b * sigmoid(g) (nflows' GLU-gated residual);
      "map":   per column, f(a; params) where arrays[0] (0/1 per column) selects the
               columns and a elsewhere; `activation` names f in _OUTPUT_MAPS and
               arrays[1:] are its per-column parameters (only after the last dense step).
    Like MLP, it takes `in_features` = conditioned features + `context_features`,
    the context last."""

    def __init__(self, steps, in_features, context_features=0):
        self.steps = [(kind, list(sources), [np.asarray(a, np.float64) for a in arrays], activation)
                      for kind, sources, arrays, activation in steps]
        self.in_features, self.context_features = int(in_features), int(context_features)
        for kind, _, _, activation in self.steps:
            if kind == "map":
                if activation not in _OUTPUT_MAPS:
                    raise ValueError(f"{type(self).__name__}: no output map {activation!r} (have "
                                     f"{sorted(_OUTPUT_MAPS)})")
            elif activation is not None and activation not in MLP.ACTIVATIONS:
                raise ValueError(f"{type(self).__name__}: activation must be one of {MLP.ACTIVATIONS}, not "
                                 f"{activation!r}")
        self.widths = self._check_widths()

    def _check_widths(self):
        """The width of every value: "x", "c" and each step's."""
        owner = type(self).__name__
        widths = {"x": self.in_features - self.context_features, "c": self.context_features}
        for k, (kind, sources, arrays, _) in enumerate(self.steps):
            if any(s not in widths for s in sources):
                raise ValueError(f"{owner}: step {k} uses a value not computed before it: {sources}")
            given = [widths[s] for s in sources]
            if kind == "dense":
                for i in range(0, len(arrays), 2):
                    w, b = arrays[i], arrays[i + 1]
                    want = sum(given) if i == 0 else arrays[i - 2].shape[1]
                    if w.ndim != 2 or w.shape[0] != want or b.shape != (w.shape[1],):
                        raise ValueError(f"{owner}: step {k} has W {w.shape} and b {b.shape}; need ({want}, out) "
                                         f"and (out,)")
                widths[k] = arrays[-2].shape[1]
                continue
            if len(set(given)) != 1 or len(given) != {"act": 1, "add": 2, "gate": 3, "map": 1}[kind]:
                raise ValueError(f"{owner}: step {k} ({kind}) needs values of one width, not {given}")
            if any(a.shape != (given[0],) for a in arrays):
                raise ValueError(f"{owner}: step {k} needs per-feature arrays of {given[0]} values")
            if kind == "map" and len(arrays) != 1 + _OUTPUT_MAPS[self.steps[k][3]][0]:
                raise ValueError(f"{owner}: step {k} (map {self.steps[k][3]}) needs a column selection and "
                                 f"{_OUTPUT_MAPS[self.steps[k][3]][0]} parameter arrays")
            widths[k] = given[0]
        tail = [kind for kind, _, _, _ in self.steps]
        while tail and tail[-1] == "map":
            tail.pop()
        if not tail or tail[-1] != "dense" or "map" in tail:
            raise ValueError(f"{owner}: the last step must be dense, followed only by output maps")
        return widths

    @property
    def out_features(self):
        return self.widths[len(self.steps) - 1]

    @property
    def arrays(self):
        """Every step's arrays in order: the conditioner function's parameters."""
        return [a for _, _, arrays, _ in self.steps for a in arrays]

    def __call__(self, inputs):
        """The net in numpy (float64) on rows of [inputs, context]."""
        inputs = np.asarray(inputs, np.float64)
        split = self.in_features - self.context_features
        values = {"x": inputs[:, :split], "c": inputs[:, split:]}
        for k, (kind, sources, arrays, activation) in enumerate(self.steps):
            args = [values[s] for s in sources]
            if kind == "dense":
                values[k] = _dense_forward(list(zip(arrays[::2], arrays[1::2])), activation, np.hstack(args))
            elif kind == "act":
                values[k] = _NUMPY_ACTIVATIONS[activation](args[0] * arrays[0] + arrays[1] if arrays else args[0])
            elif kind == "add":
                values[k] = args[0] + args[1]
            elif kind == "map":
                with np.errstate(all="ignore"):  # unselected columns may overflow; they are not used
                    mapped = _OUTPUT_MAPS[activation][1](args[0], *arrays[1:])
                values[k] = np.where(arrays[0] != 0, mapped, args[0])
            else:
                values[k] = args[0] + args[1] * _NUMPY_ACTIVATIONS["sigmoid"](args[2])
        return values[len(self.steps) - 1]

    def reach(self, dim):
        """(dim, out) booleans: output j depends on input i < dim by the zero pattern of the weights."""
        reach = {"x": np.eye(dim, self.widths["x"], dtype=bool), "c": np.zeros((dim, self.context_features), bool)}
        for k, (kind, sources, arrays, _) in enumerate(self.steps):
            if kind == "dense":
                reach[k] = _dense_reach(list(zip(arrays[::2], arrays[1::2])), np.hstack([reach[s] for s in sources]))
            else:
                reach[k] = np.logical_or.reduce([reach[s] for s in sources])
        return reach[len(self.steps) - 1]

    def map_outputs(self, matrix):
        """The net whose outputs are this net's times `matrix` (out, new out), folded into the last layer."""
        if self.steps[-1][0] != "dense":
            raise ValueError(f"{type(self).__name__}: its outputs are mapped elementwise; map them linearly first")
        kind, sources, arrays, activation = self.steps[-1]
        last = (kind, sources, arrays[:-2] + [arrays[-2] @ matrix, arrays[-1] @ matrix], activation)
        return _Net(self.steps[:-1] + [last], self.in_features, self.context_features)

    def permute_inputs(self, permutation):
        """The net of x[:, permutation] (then the context), as MLP.permute_inputs: the rows of every dense
        step that reads x."""
        p = np.asarray(permutation, int)
        if p.size != self.widths["x"]:
            raise ValueError(f"{type(self).__name__}: a permutation of {self.widths['x']} inputs, not {p.size}")
        steps = []
        for kind, sources, arrays, activation in self.steps:
            if kind == "dense" and "x" in sources:
                at = sum(self.widths[s] for s in sources[: sources.index("x")])
                rows = np.arange(arrays[0].shape[0])
                rows[at:at + p.size] = at + p
                arrays = [arrays[0][rows]] + arrays[1:]
            steps.append((kind, sources, arrays, activation))
        return _Net(steps, self.in_features, self.context_features)

    def emit_body(self, em, x, c, names, types):
        """Lines computing the net on `x` (and the context `c`) with the
        parameters `names` of `types`; returns (lines, result name)."""
        t = em.t
        vector = {key: _tensor_type([width], t, batch=True) for key, width in self.widths.items()}
        values = {"x": x, "c": c}
        lines = ["  %c0 = arith.constant 0 : index", f"  %n = tensor.dim {x}, %c0 : {vector['x']}"]
        used = 0
        for k, (kind, sources, arrays, activation) in enumerate(self.steps):
            params, ptypes = names[used:used + len(arrays)], types[used:used + len(arrays)]
            used += len(arrays)
            ins, in_types = [values[s] for s in sources], [vector[s] for s in sources]
            out, out_t = f"%s{k}", vector[k]
            values[k] = out
            if kind == "dense":
                if len(ins) > 1:
                    cat_t = _tensor_type([sum(self.widths[s] for s in sources)], t, batch=True)
                    lines.append(f"  %in{k} = tensor.concat dim(1) {', '.join(ins)} : ({', '.join(in_types)}) -> "
                                 f"{cat_t}")
                    ins, in_types = [f"%in{k}"], [cat_t]
                lines.append(f"  {out} = nf.mlp {ins[0]} ({', '.join(params)} : {', '.join(ptypes)}) activation "
                             f"{activation} : {in_types[0]} -> {out_t}")
                continue
            # Elementwise: the sources row by row, per-feature arrays by column.
            if kind == "act":
                args, body = ["%a"], _SCALAR_ACTIVATIONS[activation].replace("{T}", t).splitlines()
                if arrays:
                    args, body = ["%a0", "%p0", "%p1"], [f"%am = arith.mulf %a0, %p0 : {t}",
                                                         f"%a = arith.addf %am, %p1 : {t}"] + body
            elif kind == "add":
                args, body = ["%a0", "%a1"], [f"%r = arith.addf %a0, %a1 : {t}"]
            elif kind == "map":  # f(a) where the column is selected, a elsewhere
                args = ["%a", "%sel"] + [f"%p{i}" for i in range(len(arrays) - 1)]
                body = _OUTPUT_MAPS[activation][2].replace("{T}", t).splitlines() + [
                    f"%zero_m = arith.constant 0.0 : {t}", f"%on = arith.cmpf one, %sel, %zero_m : {t}",
                    f"%r = arith.select %on, %f, %a : {t}"]
            else:  # a + b / (1 + exp(-g))
                args, body = ["%a0", "%a1", "%a2"], [
                    f"%gn = arith.negf %a2 : {t}", f"%ge = math.exp %gn : {t}", f"%one = arith.constant 1.0 : {t}",
                    f"%gd = arith.addf %one, %ge : {t}", f"%gt = arith.divf %a1, %gd : {t}",
                    f"%r = arith.addf %a0, %gt : {t}"]
            row, column = "affine_map<(d0, d1) -> (d0, d1)>", "affine_map<(d0, d1) -> (d1)>"
            maps = [row] * len(ins) + [column] * len(params) + [row]
            lines += [f"  %e{k} = tensor.empty(%n) : {out_t}",
                      f"  {out} = linalg.generic {{indexing_maps = [{', '.join(maps)}], iterator_types = "
                      f"[\"parallel\", \"parallel\"]}} ins({', '.join(ins + params)} : "
                      f"{', '.join(in_types + ptypes)}) outs(%e{k} : {out_t}) {{",
                      f"  ^bb0({', '.join(f'{a}: {t}' for a in args)}, %o: {t}):"]
            lines += ["    " + line for line in body] + [f"    linalg.yield %r : {t}", f"  }} -> {out_t}"]
        return lines, values[len(self.steps) - 1]


def _pair(value):
    """(W, b) or (scale, shift) as float64 arrays."""
    return tuple(np.asarray(v, np.float64) for v in value)


class ResidualBlock:
    """One pre-activation residual block of ResidualNet and ResidualMADE
    (nflows' ResidualBlock, MaskedResidualBlock):

        t = act(norm0(h));  t = t W0 + b0 [+ c Wc + bc];  t = norm1(t)
        t = act(t);  t = t W1 + b1;  [t = t * sigmoid(c Wc + bc)];  h + t

    `linear0`, `linear1`: (W (H, H), b); `context`: (W (C, H), b) of the
    block's context layer, added after linear0 in a ResidualMADE, a GLU gate
    after linear1 in a ResidualNet; `norm0`, `norm1`: batch norms in eval
    mode as per-feature (scale, shift) = (weight / sqrt(running_var + eps),
    bias - running_mean * scale), or None. Dropout is the identity (eval)."""

    def __init__(self, linear0, linear1, context=None, norm0=None, norm1=None):
        self.linear0, self.linear1 = _pair(linear0), _pair(linear1)
        self.context = None if context is None else _pair(context)
        self.norm0 = None if norm0 is None else _pair(norm0)
        self.norm1 = None if norm1 is None else _pair(norm1)


def _norm_before(linear, norm):
    """(W, b) of linear(norm(h)): the batch norm folded into the layer."""
    w, b = linear
    return (w, b) if norm is None else (norm[0][:, None] * w, norm[1] @ w + b)


def _norm_after(linear, norm):
    """(W, b) of norm(linear(h))."""
    w, b = linear
    return (w, b) if norm is None else (w * norm[0], b * norm[0] + norm[1])


def _residual_steps(steps, blocks, activation, context_added):
    """Appends the residual blocks' steps after the last step (h); the
    block's context is added after linear0 (`context_added`) or gates."""
    for block in blocks:
        h = len(steps) - 1
        steps.append(("act", [h], [] if block.norm0 is None else list(block.norm0), activation))
        w0, b0 = block.linear0
        sources = [h + 1]
        if block.context is not None and context_added:
            w0, b0, sources = np.vstack([w0, block.context[0]]), b0 + block.context[1], [h + 1, "c"]
        steps.append(("dense", sources, [*_norm_after((w0, b0), block.norm1), *block.linear1], activation))
        if block.context is not None and not context_added:
            steps.append(("dense", ["c"], list(block.context), activation))
            steps.append(("gate", [h, h + 2, h + 3], [], None))
        else:
            steps.append(("add", [h, h + 2], [], None))


class ResidualNet(_Net):
    """nflows' ResidualNet as a conditioner (pre-activation residual blocks,
    see ResidualBlock):

        h = [x, c] W_in + b_in;  h = block(h) for each block;  out = h W_out + b_out

    `initial` (W (in + C, H), b) takes the inputs with the context appended,
    `final` (W (H, out), b); with a context (`context_features` C > 0) each
    block gates its residual by sigmoid(c Wc + bc) (F.glu). One activation
    (MLP's) throughout."""

    def __init__(self, initial, blocks, final, activation="relu", context_features=0):
        initial, final = _pair(initial), _pair(final)
        steps = [("dense", ["x", "c"] if context_features else ["x"], list(initial), activation)]
        _residual_steps(steps, blocks, activation, context_added=False)
        steps.append(("dense", [len(steps) - 1], list(final), activation))
        super().__init__(steps, initial[0].shape[0], context_features)
        self.hidden_features = initial[0].shape[1]


class ResidualMADE(_Net):
    """nflows' MADE as a conditioner: masked layers (the weights are
    multiplied by `masks`, by default made_masks: nflows' sequential
    degrees, like MADE), the context entering as in nflows:

        h = x W_in + b_in [+ act(c W_c + b_c)]
        residual:     h = block(h) for each ResidualBlock (context added after linear0)
        feedforward:  h = act(h), then h = act(norm(h) W + b) for each block (W, b[, norm])
        out = h W_out + b_out

    `initial` (W (D, H), b), `context` (W (C, H), b) or None, `final`
    (W (H, D * output_multiplier), b); `masks`, 0/1 arrays shaped like the
    weights of the masked layers in order (initial, the blocks' linear
    layers, final; nflows' random masks, say). Output j must depend only on
    the features before feature j // output_multiplier (checked when
    emitted) and on the context. With residual=False and no context this is
    MADE (an MLP)."""

    def __init__(self, initial, blocks, final, features, output_multiplier, activation="relu", context=None,
                 residual=True, masks=None):
        initial, final = _pair(initial), _pair(final)
        self.features, self.output_multiplier, self.residual = int(features), int(output_multiplier), bool(residual)
        blocks = list(blocks)
        if masks is None:
            layers = 1 + (2 if self.residual else 1) * len(blocks)
            masks = made_masks(self.features, [initial[0].shape[1]] * layers, self.output_multiplier)
        masks = iter(masks)

        def masked(linear):
            w, b = linear
            mask = next(masks)
            if w.shape != mask.shape:
                raise ValueError(f"ResidualMADE: a layer has W {w.shape}, its mask needs {mask.shape}")
            return w * mask, b

        steps = [("dense", ["x"], list(masked(initial)), activation)]
        if context is not None:
            steps += [("dense", ["c"], list(_pair(context)), activation), ("act", [1], [], activation),
                      ("add", [0, 2], [], None)]
        if self.residual:
            blocks = [ResidualBlock(masked(b.linear0), masked(b.linear1), b.context, b.norm0, b.norm1)
                      for b in blocks]
            _residual_steps(steps, blocks, activation, context_added=True)
            steps.append(("dense", [len(steps) - 1], list(masked(final)), activation))
        else:
            steps.append(("act", [len(steps) - 1], [], activation))
            dense = []
            for block in blocks:
                norm = block[2] if len(block) > 2 else None
                dense += _norm_before(masked(_pair(block[:2])), None if norm is None else _pair(norm))
            steps.append(("dense", [len(steps) - 1], dense + list(masked(final)), activation))
        c = 0 if context is None else np.shape(context[0])[0]
        super().__init__(steps, self.features + c, c)


def _steps_of(net, context_features):
    """The _Net steps of an MLP (taking [x, context], `context_features` of them context) or of a _Net."""
    if isinstance(net, _Net):
        if net.context_features != context_features:
            raise ValueError(f"{type(net).__name__} takes {net.context_features} context values, not "
                             f"{context_features}")
        return list(net.steps)
    return [("dense", ["x", "c"] if context_features else ["x"], [p for layer in net.layers for p in layer],
             net.activation)]


class MappedNet(_Net):
    """A conditioner `net` (an MLP, ResidualNet, ResidualMADE or _Net) whose outputs then go through elementwise
    maps, for parameterizations the nf layers do not have themselves (zuko's soft-clipped parameters, exp
    spline derivatives, normflows' sigmoid scales):

        out = net(inputs);  out[:, j] = f(out[:, j]; params[j]) for each map (name, columns, *params), j in columns

    `name` is one of _OUTPUT_MAPS: "soft_clip" (params q: a / (1 + q |a|)), "exp_softplus_inverse"
    (softplus^-1(exp(a)), so that min_derivative + softplus(.) of a spline gives exp(a) when min_derivative
    is negligible), "log_sigmoid" (params offset, sign: sign * log sigmoid(a + offset), an exp scale_fn then
    gives sigmoid(a + offset)^sign). Params are scalars or have one value per output column.
    `context_features`: the context values among an MLP's inputs (last); a _Net knows its own."""

    def __init__(self, net, maps, context_features=0):
        steps = _steps_of(net, int(context_features))
        out = net.out_features
        for name, columns, *params in maps:
            if name not in _OUTPUT_MAPS:
                raise ValueError(f"MappedNet: no output map {name!r} (have {sorted(_OUTPUT_MAPS)})")
            select = np.zeros(out)
            select[np.asarray(columns, int)] = 1.0
            arrays = [select] + [np.broadcast_to(np.asarray(p, np.float64), (out,)).copy() for p in params]
            steps.append(("map", [len(steps) - 1], arrays, name))
        super().__init__(steps, net.in_features, context_features)


def _context_net(net, ignored):
    """`net` (an MLP or a _Net without context) applied to the context alone,
    as a conditioner that takes `ignored` conditioned features first."""
    if isinstance(net, _Net):
        if net.context_features:
            raise ValueError("a net of the context alone must not take a context itself")
        steps = [(kind, ["c" if s == "x" else s for s in sources], arrays, activation)
                 for kind, sources, arrays, activation in net.steps]
        return _Net(steps, ignored + net.in_features, net.in_features)
    return _Net([("dense", ["c"], [p for layer in net.layers for p in layer], net.activation)],
                ignored + net.in_features, net.in_features)


class ConditionalStandardize(Layer):
    """z = (x - mean(c)) * exp(-log_std(c)) with (means, log_stds) = net(c):
    `net` (an MLP or a ResidualNet of the context) gives the D means, then
    the D log standard deviations (nflows' ConditionalDiagonalNormal
    layout); V = -sum log_std. As the last layer before a StandardNormal
    base it makes the base nflows' ConditionalDiagonalNormal. Emitted as two
    affine couplings (shift first, exp scale) over the even and the odd
    features whose conditioners evaluate `net` on the context alone, so it
    needs flat data with D >= 2 features and a context."""

    def __init__(self, net):
        self.net = net

    def emit(self, em, x, dim):
        d, c = em.event_shape[0], em.model.context_dim
        if len(em.event_shape) != 1 or d < 2 or not c:
            raise ValueError(f"ConditionalStandardize: needs flat data with at least 2 features and a context, not "
                             f"event shape {em.event_shape} with {c} context features")
        if self.net.in_features != c or self.net.out_features != 2 * d:
            raise ValueError(f"ConditionalStandardize: the net must map the {c} context features to {2 * d} values "
                             f"(means, then log standard deviations), not {self.net.in_features} -> "
                             f"{self.net.out_features}")
        for identity in (parity_mask(d, True), parity_mask(d, False)):
            other = [i for i in range(d) if i not in identity]
            # shift = -mean, raw scale = -log_std of the transformed features.
            select = np.zeros((2 * d, 2 * len(other)))
            select[other, np.arange(len(other))] = -1.0
            select[np.add(other, d), len(other) + np.arange(len(other))] = -1.0
            net = _context_net(self.net.map_outputs(select), len(identity))
            x = AffineCoupling(identity, net, scale_fn="exp", shift_first=True).emit(em, x, dim)
        return x


def _check_autoregressive(owner, net, dim, per_feature):
    """Raises unless output j of `net` is structurally independent (exact
    zero weights on every path) of the inputs i >= j // per_feature."""
    reach = net.reach(dim)
    feature = np.arange(reach.shape[1]) // per_feature
    bad = np.argwhere(reach & (np.arange(dim)[:, None] >= feature[None, :]))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"{owner}: the conditioner is not autoregressive: output {j} (feature {feature[j]}) "
                         f"depends on input {i}; use a MADE")


class _Autoregressive(Layer):
    """Shared emission of masked autoregressive layers: the conditioner (a
    MADE, or any MLP with its zero pattern) becomes a private function
    taking all of x (and the context), its weights passed as arguments."""

    op = None
    params_per_feature = None
    layout = None

    def __init__(self, conditioner, inverted):
        self.conditioner = conditioner
        self.inverted = bool(inverted)

    def suffix(self):
        return ""

    def emit(self, em, x, dim):
        owner = type(self).__name__
        if len(em.event_shape) != 1:
            raise ValueError(f"{owner}: needs flat data, not event shape {em.event_shape}")
        call = _conditioner_call(em, self.conditioner, "%x", "x", dim, self.params_per_feature * dim, owner,
                                 self.layout)
        _check_autoregressive(owner, self.conditioner, dim, self.params_per_feature)
        out = em.fresh()
        em.body.append(f"  {out} = nf.{self.op} {x} {call}{self.suffix()} : {em.data_type}")
        return out


class MaskedAffineAutoregressive(_Autoregressive):
    """Masked affine autoregressive flow (MAF; nflows'
    MaskedAffineAutoregressiveTransform): the conditioner maps x (then the
    context) to 2D values, per feature i: [2i] the unconstrained scale h_i,
    [2i + 1] the shift, and z_i = scale(h_i) x_i + shift_i with scale
    exp(h), sigmoid(h + 2) + 1e-3 or softplus(h) + 1e-3; V = sum log scale.
    Density in one pass, sampling in D passes.

    With `inverted` (IAF) the layer's normalizing map is the inverse of
    that map: z solves x = scale(h(z)) z + shift(z) (D passes), and
    V = -sum log scale(h(z)); sampling takes one pass."""

    op = "affine_autoregressive"
    params_per_feature = 2
    layout = "per feature: unconstrained scale, shift"

    def __init__(self, conditioner, scale_fn="softplus", inverted=False):
        super().__init__(conditioner, inverted)
        if scale_fn not in AffineCoupling.SCALE_FNS:
            raise ValueError(f"MaskedAffineAutoregressive: scale_fn must be one of {AffineCoupling.SCALE_FNS}, "
                             f"not {scale_fn!r}")
        self.scale_fn = scale_fn

    def suffix(self):
        return f" scale_fn {self.scale_fn}" + (" inverted" if self.inverted else "")


class MaskedSplineAutoregressive(_Autoregressive):
    """Rational-quadratic spline autoregressive flow (RQ-NSF (AR); nflows'
    MaskedPiecewiseRationalQuadraticAutoregressiveTransform with linear
    tails): the conditioner maps x (then the context) to (3K - 1) D raw
    spline parameters, contiguous per feature: K widths, K heights, K - 1
    interior derivatives (no 1/sqrt(hidden) scaling). With `inverted`, the
    normalizing map is the inverse of that map (D passes). `minimums` as for
    SplineCoupling."""

    op = "rq_spline_autoregressive"
    layout = "per feature: K widths, K heights, K - 1 derivatives"

    def __init__(self, conditioner, bins=8, tail_bound=3.0, inverted=False, minimums=(_SPLINE_MIN,) * 3):
        super().__init__(conditioner, inverted)
        self.bins, self.tail_bound = int(bins), float(tail_bound)
        self.minimums = tuple(float(m) for m in minimums)
        _check_spline("MaskedSplineAutoregressive", self.bins, self.tail_bound, self.minimums)
        self.params_per_feature = 3 * self.bins - 1

    def suffix(self):
        return (" inverted" if self.inverted else "") + _spline_attributes(self)


class Abs(Layer):
    """Absolute-value surjection z = |x| (SurVAE): an inference surjection
    with exact likelihood. Sampling draws each sign, positive with
    probability sigmoid(logits) (per element; 1/2 without logits)."""

    def __init__(self, logits=None):
        self.logits = None if logits is None else np.asarray(logits, np.float64)

    def emit(self, em, x, dim):
        logits = ""
        if self.logits is not None:
            if self.logits.shape != tuple(em.event_shape):
                raise ValueError(f"Abs: logits must have the event shape {tuple(em.event_shape)}, "
                                 f"not {self.logits.shape}")
            name, ltype = em.constant(self.logits)
            logits = f" logits {name} : {ltype}"
        out = em.fresh()
        em.body.append(f"  {out} = nf.abs {x}{logits} : {em.data_type}")
        return out


class Sort(Layer):
    """Sort surjection (SurVAE): z = the features in increasing order, or,
    with `key`, the points of point clouds (event shape (N, K)) ordered by
    their coordinate `key`; sampling applies a uniformly random permutation.
    V = -log D! (-log N!)."""

    def __init__(self, key=None):
        self.key = None if key is None else int(key)

    def emit(self, em, x, dim):
        if self.key is None and len(em.event_shape) != 1:
            raise ValueError(f"Sort: needs flat data, or point clouds (N, K) with a key, not {em.event_shape}")
        if self.key is not None and not (len(em.event_shape) == 2 and 0 <= self.key < em.event_shape[1]):
            raise ValueError(f"Sort: key {self.key} needs point clouds (N, K) with K > key, not {em.event_shape}")
        attrs = "" if self.key is None else f" {{key = {self.key} : i64}}"
        out = em.fresh()
        em.body.append(f"  {out} = nf.sort {x}{attrs} : {em.data_type}")
        return out


class Slice(Layer):
    """Slice surjection (factor-out): z = the first `keep` features (or
    channels of an image). The dropped part has the decoder density
    N(mean, exp(log_std)^2) with (means, log_stds) = decoder(z [, context])
    (an MLP or ConvNet with 2 (C - keep) outputs), or N(0, I) without a
    decoder. Later layers see the kept shape."""

    def __init__(self, keep, decoder=None):
        self.keep = int(keep)
        self.decoder = decoder

    def emit(self, em, x, dim):
        features, spatial = em.event_shape[0], tuple(em.event_shape[1:])
        if not 1 <= self.keep < features:
            raise ValueError(f"Slice: keep must be in [1, {features - 1}], not {self.keep}")
        call = ""
        if self.decoder is not None:
            call = " " + _conditioner_call(em, self.decoder, "%z", "z", self.keep, 2 * (features - self.keep),
                                           "Slice", "means, then log standard deviations").replace(
                                               "conditioner", "decoder", 1)
        out = em.fresh()
        before = em.data_type
        em.event_shape = (self.keep, *spatial)
        em.data_type = _tensor_type(em.event_shape, em.t, batch=True)
        em.body.append(f"  {out} = nf.slice {x}{call} : {before} -> {em.data_type}")
        return out


class MaxPool2d(Layer):
    """2x2 max-pooling surjection (SurVAE) on images (C, H, W): z = the
    maximum of each window; the position of the maximum has probability
    1/4 and the three gaps to it a half-normal density, scale 1 or
    exp(log_scale) from `decoder` (a ConvNet from C to 3C channels on z).
    Exact likelihood; sampling draws positions and gaps."""

    def __init__(self, decoder=None):
        self.decoder = decoder

    def emit(self, em, x, dim):
        if len(em.event_shape) != 3 or em.event_shape[1] % 2 or em.event_shape[2] % 2:
            raise ValueError(f"MaxPool2d: needs images (C, H, W) with even H and W, not {em.event_shape}")
        c, h, w = em.event_shape
        before = em.data_type
        em.event_shape = (c, h // 2, w // 2)
        em.data_type = _tensor_type(em.event_shape, em.t, batch=True)
        call = ""
        if self.decoder is not None:
            call = " " + _conditioner_call(em, self.decoder, "%z", "z", c, 3 * c, "MaxPool2d",
                                           "log scales of the gaps").replace("conditioner", "decoder", 1)
        out = em.fresh()
        em.body.append(f"  {out} = nf.max_pool {x}{call} : {before} -> {em.data_type}")
        return out


class Augment(Layer):
    """Augment surjection (generative; ANF/VFlow): z = concat(x, e) with
    `features` drawn values e ~ q(e | x): N(0, I) without an encoder, else
    N(mean, exp(log_std)^2) with (means, log_stds) = encoder(x [, context])
    (an MLP with 2 * features outputs). V = -log q(e | x), a lower bound;
    the model's log_prob becomes an importance-weighted estimate."""

    def __init__(self, features, encoder=None):
        self.features = int(features)
        self.encoder = encoder
        if self.features < 1:
            raise ValueError("Augment: features must be >= 1")

    def emit(self, em, x, dim):
        features, spatial = em.event_shape[0], tuple(em.event_shape[1:])
        call = ""
        if self.encoder is not None:
            call = " " + _conditioner_call(em, self.encoder, "%x", "x", features, 2 * self.features, "Augment",
                                           "means, then log standard deviations").replace("conditioner", "encoder", 1)
        out = em.fresh()
        before = em.data_type
        em.event_shape = (features + self.features, *spatial)
        em.data_type = _tensor_type(em.event_shape, em.t, batch=True)
        em.body.append(f"  {out} = nf.augment {x}{call} : {before} -> {em.data_type}")
        return out


class UniformDequantize(Layer):
    """Uniform dequantization of data on the levels 0..levels-1:
    z = (x + u) / levels, u ~ U[0, 1); V = -D log(levels), a lower bound on
    the discrete log-probability. Sampling rounds back down."""

    def __init__(self, levels):
        self.levels = int(levels)
        if self.levels < 2:
            raise ValueError("UniformDequantize: levels must be >= 2")

    def emit(self, em, x, dim):
        out = em.fresh()
        em.body.append(f"  {out} = nf.uniform_dequantize {x} {{levels = {self.levels}}} : {em.data_type}")
        return out


class VariationalDequantize(Layer):
    """Variational dequantization (Flow++) of data on the levels
    0..levels-1: z = (x + u) / levels with u = sigmoid(v), v ~ q(v | x):
    `encoder` is an MLP giving (means, log_stds) of a diagonal normal from
    x [and context] (2 D outputs: one conditional affine step), or a Model:
    any exact conditional flow on D features with a D-feature context (it
    gets x) and a normal base. V = -D log(levels) - log q(u | x), a lower
    bound; sampling rounds back down."""

    def __init__(self, levels, encoder):
        self.levels = int(levels)
        self.encoder = encoder
        if self.levels < 2:
            raise ValueError("VariationalDequantize: levels must be >= 2")

    def emit(self, em, x, dim):
        if len(em.event_shape) != 1:
            raise ValueError(f"VariationalDequantize: needs flat data, not event shape {em.event_shape}")
        d = em.event_shape[0]
        if isinstance(self.encoder, Model):
            flow = self.encoder
            if (flow.dim, flow.context_dim, flow.dtype) != (d, d, em.model.dtype):
                raise ValueError(f"VariationalDequantize: the encoder flow must have {d} features, a {d}-feature "
                                 f"context and dtype {em.model.dtype}, not {flow.dim}, {flow.context_dim}, "
                                 f"{flow.dtype}")
            if flow.name == em.model.name:
                raise ValueError("VariationalDequantize: the encoder flow needs a name of its own")
            lines, blobs = flow.emit_parts()
            text = "\n".join(lines)
            if text not in em.functions:
                em.functions.append(text)
            em.blobs.update(blobs)
            call = f"encoder @{flow.name}"
        else:
            call = _conditioner_call(em, self.encoder, "%x", "x", d, 2 * d, "VariationalDequantize",
                                     "means, then log standard deviations").replace("conditioner", "encoder", 1)
        out = em.fresh()
        em.body.append(f"  {out} = nf.variational_dequantize {x} {call} {{levels = {self.levels} : i64}} : "
                       f"{em.data_type}")
        return out


class VAE(Layer):
    """VAE layer (stochastic): z ~ q(z | x) = N(mean, exp(log_std)^2) with
    (means, log_stds) = encoder(x [, context]) (2 * latent outputs), and
    x ~ p(x | z) likewise from decoder(z [, context]) (2 * D outputs).
    V = log p(x | z) - log q(z | x), a lower bound; with flow layers after
    it, the model is a VAE with a flow prior."""

    def __init__(self, latent, encoder, decoder):
        self.latent, self.encoder, self.decoder = int(latent), encoder, decoder

    def emit(self, em, x, dim):
        if len(em.event_shape) != 1:
            raise ValueError(f"VAE: needs flat data, not event shape {em.event_shape}")
        d = em.event_shape[0]
        context = f" context %c : {_tensor_type([em.model.context_dim], em.t, batch=True)}" \
            if em.model.context_dim else ""
        enc = _conditioner_call(em, self.encoder, "%x", "x", d, 2 * self.latent, "VAE encoder",
                                "means, then log standard deviations of z")
        dec = _conditioner_call(em, self.decoder, "%z", "z", self.latent, 2 * d, "VAE decoder",
                                "means, then log standard deviations of x")
        enc = enc.replace("conditioner", "encoder", 1).replace(context, "")
        dec = dec.replace("conditioner", "decoder", 1).replace(context, "")
        out = em.fresh()
        before = em.data_type
        em.event_shape = (self.latent,)
        em.data_type = _tensor_type(em.event_shape, em.t, batch=True)
        em.body.append(f"  {out} = nf.vae {x} {enc} {dec}{context} : {before} -> {em.data_type}")
        return out


class CIF(Layer):
    """Continuously indexed flow step (Cornish et al. 2020): an index u of
    `index_features` values, u ~ q(u | x) from `encoder` (MLP D -> 2U:
    means, log stds), z = (x + shift(u)) * exp(log_scale(u)) with
    (shifts, log scales) = transform(u) (MLP U -> 2D), and p(u | z) from
    `decoder` (MLP D -> 2U). V = sum log_scale + log p(u | z) - log q(u | x),
    a lower bound; put it after any bijection for that bijection's CIF."""

    def __init__(self, index_features, encoder, decoder, transform):
        self.index_features = int(index_features)
        self.encoder, self.decoder, self.transform = encoder, decoder, transform
        if self.index_features < 1:
            raise ValueError("CIF: index_features must be >= 1")

    def emit(self, em, x, dim):
        if len(em.event_shape) != 1:
            raise ValueError(f"CIF: needs flat data, not event shape {em.event_shape}")
        d, u = em.event_shape[0], self.index_features
        context = f" context %c : {_tensor_type([em.model.context_dim], em.t, batch=True)}" \
            if em.model.context_dim else ""
        parts = []
        for role, net, arg, width, outputs, layout in (
                ("encoder", self.encoder, "%x", d, 2 * u, "means, then log standard deviations of u"),
                ("decoder", self.decoder, "%z", d, 2 * u, "means, then log standard deviations of u"),
                ("transform", self.transform, "%u", u, 2 * d, "shifts, then log scales of x")):
            call = _conditioner_call(em, net, arg, arg[1:], width, outputs, f"CIF {role}", layout)
            parts.append(call.replace("conditioner", role, 1).replace(context, ""))
        out = em.fresh()
        em.body.append(f"  {out} = nf.cif {x} {' '.join(parts)}{context} {{index_features = {u} : i64}} : "
                       f"{em.data_type}")
        return out


class DiffusionStep(Layer):
    """One DiffFlow step (Zhang and Chen 2021) from time t0 (data side) to
    t1: z = x + f(x, t0) dt + g0 sqrt(dt) eps; sampling runs the backward
    SDE with drift f - g1^2 s. `drift` f and `score` s are MLPs from
    (y, t) (D + 1 inputs, t appended) to D outputs. V is the exact Gaussian
    kernel ratio log p_B(x | z) - log p_F(z | x), a lower bound."""

    def __init__(self, drift, score, t0, t1, g0, g1):
        self.drift, self.score = drift, score
        self.t0, self.t1, self.g0, self.g1 = float(t0), float(t1), float(g0), float(g1)
        if not self.t1 > self.t0:
            raise ValueError("DiffusionStep: needs t1 > t0")
        if not (self.g0 > 0 and self.g1 > 0):
            raise ValueError("DiffusionStep: g0 and g1 must be positive")

    def _field(self, em, net, role, d):
        """A func (y, t, weights...) -> tensor<?xDxT> running `net` on [y, t]."""
        if net.in_features != d + 1 or net.out_features != d:
            raise ValueError(f"DiffusionStep: the {role} must map {d + 1} inputs (y and t) to {d} outputs, not "
                             f"{net.in_features} -> {net.out_features}")
        t = em.t
        params, types = _weight_constants(em, net)
        fname = f"{em.model.name}_{role}{len(em.functions)}"
        y_t = _tensor_type([d], t, batch=True)
        col_t = _tensor_type([1], t, batch=True)
        in_t = _tensor_type([d + 1], t, batch=True)
        ws = ", ".join(f"%w{i}" for i in range(len(types)))
        args = ", ".join([f"%y: {y_t}", f"%t: {t}"] + [f"%w{i}: {ty}" for i, ty in enumerate(types)])
        em.functions.append("\n".join([
            f"func.func private @{fname}({args}) -> {y_t} {{",
            "  %c0 = arith.constant 0 : index",
            f"  %n = tensor.dim %y, %c0 : {y_t}",
            f"  %e = tensor.empty(%n) : {col_t}",
            f"  %tc = linalg.fill ins(%t : {t}) outs(%e : {col_t}) -> {col_t}",
            f"  %in = tensor.concat dim(1) %y, %tc : ({y_t}, {col_t}) -> {in_t}",
            f"  %h = nf.mlp %in ({ws} : {', '.join(types)}) activation {net.activation} : {in_t} -> {y_t}",
            f"  return %h : {y_t}",
            "}"]))
        return f"@{fname}({', '.join(params)} : {', '.join(types)})"

    def emit(self, em, x, dim):
        if len(em.event_shape) != 1 or em.model.context_dim:
            raise ValueError("DiffusionStep: needs flat data and no context")
        d = em.event_shape[0]
        drift = self._field(em, self.drift, "drift", d)
        score = self._field(em, self.score, "score", d)
        attrs = ", ".join(f"{k} = {_float_literal(v)}" for k, v in
                          (("t0", self.t0), ("t1", self.t1), ("g0", self.g0), ("g1", self.g1)))
        out = em.fresh()
        em.body.append(f"  {out} = nf.diffusion_step {x} drift {drift} score {score} {{{attrs}}} : {em.data_type}")
        return out


class RandomPermutation(Layer):
    """Stochastic permutation (SurVAE): both directions order the features
    uniformly at random; V = 0."""

    def emit(self, em, x, dim):
        out = em.fresh()
        em.body.append(f"  {out} = nf.random_permutation {x} : {em.data_type}")
        return out


class Energy:
    """An energy u(y), one value per row, for SNF blocks: the MLIR text of a
    `func.func @<name>(%y: tensor<?xDxT>) -> tensor<?xT>` written with the
    placeholders `{t}` (element type) and `{d}` (D), using linalg, tensor,
    arith and math ops (the compiler derives its gradient). `gradient`, if
    given, is the text of `@<gradient_name>(%y) -> tensor<?xDxT>` instead."""

    def __init__(self, name, template, gradient_name=None, gradient_template=None):
        if not name.isidentifier():
            raise ValueError(f"Energy: name must be an identifier, not {name!r}")
        if (gradient_name is None) != (gradient_template is None):
            raise ValueError("Energy: give both gradient_name and gradient_template, or neither")
        self.name, self.template = name, template
        self.gradient_name, self.gradient_template = gradient_name, gradient_template

    def emit(self, em, d):
        """Adds the function(s) once per model; returns the symbol names."""
        for template in (self.template, self.gradient_template):
            if template is None:
                continue
            text = template.replace("{t}", em.t).replace("{d}", str(d))
            if text not in em.functions:
                em.functions.append(text)
        return self.name, self.gradient_name


def double_well(a=-0.5, b=-6.0, c=1.0, name="double_well"):
    """The SNF paper's double well u(y) = a y1 + b y1^2 + c y1^4 + y2^2 / 2
    (bgtorch DoubleWellEnergy(2, a, b, c); the defaults give
    y1^4 - 6 y1^2 - 0.5 y1 + 0.5 y2^2)."""
    lit = _float_literal
    template = f"""func.func @{name}(%y: tensor<?x2x{{t}}>) -> tensor<?x{{t}}> {{{{
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2x{{t}}>
  %y1 = tensor.extract_slice %y[0, 0] [%n, 1] [1, 1] : tensor<?x2x{{t}}> to tensor<?x{{t}}>
  %y2 = tensor.extract_slice %y[0, 1] [%n, 1] [1, 1] : tensor<?x2x{{t}}> to tensor<?x{{t}}>
  %init = tensor.empty(%n) : tensor<?x{{t}}>
  %u = linalg.generic {{{{indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                       iterator_types = ["parallel"]}}}}
      ins(%y1, %y2 : tensor<?x{{t}}>, tensor<?x{{t}}>) outs(%init : tensor<?x{{t}}>) {{{{
  ^bb0(%p: {{t}}, %q: {{t}}, %out: {{t}}):
    %a = arith.constant {lit(a)} : {{t}}
    %b = arith.constant {lit(b)} : {{t}}
    %c = arith.constant {lit(c)} : {{t}}
    %half = arith.constant 0.5 : {{t}}
    %p2 = arith.mulf %p, %p : {{t}}
    %p4 = arith.mulf %p2, %p2 : {{t}}
    %q2 = arith.mulf %q, %q : {{t}}
    %t1 = arith.mulf %a, %p : {{t}}
    %t2 = arith.mulf %b, %p2 : {{t}}
    %t3 = arith.mulf %c, %p4 : {{t}}
    %t4 = arith.mulf %half, %q2 : {{t}}
    %s1 = arith.addf %t1, %t2 : {{t}}
    %s2 = arith.addf %s1, %t3 : {{t}}
    %s3 = arith.addf %s2, %t4 : {{t}}
    linalg.yield %s3 : {{t}}
  }}}} -> tensor<?x{{t}}>
  return %u : tensor<?x{{t}}>
}}}}"""
    return Energy(name, template.replace("{{", "{").replace("}}", "}"))


class _SNFBlock(Layer):
    """An MCMC block of a stochastic normalizing flow on the interpolated
    energy u_lambda = (1 - lam) |y|^2 / 2 + lam u(y); V is the path term."""

    op = None

    def __init__(self, energy, steps=1, lam=1.0):
        if not isinstance(energy, Energy):
            raise TypeError(f"{type(self).__name__}: energy must be an nfmlir.Energy")
        self.energy, self.steps, self.lam = energy, int(steps), float(lam)
        if self.steps < 1:
            raise ValueError(f"{type(self).__name__}: steps must be >= 1")
        if not 0.0 <= self.lam <= 1.0:
            raise ValueError(f"{type(self).__name__}: lam must be in [0, 1]")

    def attributes(self, gradient):
        raise NotImplementedError

    def emit(self, em, x, dim):
        if len(em.event_shape) != 1:
            raise ValueError(f"{type(self).__name__}: needs flat data, not event shape {em.event_shape}")
        name, gradient = self.energy.emit(em, em.event_shape[0])
        attrs = [f"lambda = {_float_literal(self.lam)}", f"steps = {self.steps} : i64"] + self.attributes(gradient)
        out = em.fresh()
        em.body.append(f"  {out} = nf.{self.op} {x} energy @{name} {{{', '.join(attrs)}}} : {em.data_type}")
        return out


class Langevin(_SNFBlock):
    """Overdamped Langevin (Brownian) SNF block: `steps` steps of
    y' = y - step_size grad u_lambda(y) + sqrt(2 step_size) eta. The energy
    gradient is derived by the compiler unless the Energy gives one."""

    op = "langevin"

    def __init__(self, energy, step_size, steps=1, lam=1.0):
        super().__init__(energy, steps, lam)
        self.step_size = float(step_size)
        if not self.step_size > 0:
            raise ValueError("Langevin: step_size must be positive")

    def attributes(self, gradient):
        attrs = [f"step_size = {_float_literal(self.step_size)}"]
        return attrs + ([f"gradient = @{gradient}"] if gradient else [])


class Metropolis(_SNFBlock):
    """Random-walk Metropolis SNF block: `steps` steps proposing
    y + proposal_scale * xi, accepted with probability
    min(1, exp(u_lambda(y) - u_lambda(y'))); V = u_lambda(z) - u_lambda(x)."""

    op = "metropolis"

    def __init__(self, energy, proposal_scale, steps=1, lam=1.0):
        super().__init__(energy, steps, lam)
        self.proposal_scale = float(proposal_scale)
        if not self.proposal_scale > 0:
            raise ValueError("Metropolis: proposal_scale must be positive")

    def attributes(self, gradient):
        return [f"proposal_scale = {_float_literal(self.proposal_scale)}"]


class StandardNormal:
    """N(0, I) on `dim` features."""

    def __init__(self, dim):
        self.dim = int(dim)

    def attribute(self, t, event_shape):
        return "#nf.std_normal"


class DiagNormal:
    """N(mean, diag(exp(log_std))^2) on the latent: `mean` and `log_std` have
    the latent's event shape (e.g. (C, H, W)) or are flat with as many
    values."""

    def __init__(self, mean, log_std):
        self.mean = np.asarray(mean, np.float64)
        self.log_std = np.asarray(log_std, np.float64)
        if self.mean.shape != self.log_std.shape:
            raise ValueError("DiagNormal: mean and log_std must have the same shape")
        self.dim = self.mean.size

    def attribute(self, t, event_shape):
        mean = _event_array("DiagNormal", "mean", self.mean, event_shape)
        log_std = _event_array("DiagNormal", "log_std", self.log_std, event_shape)
        return (f"#nf.diag_normal<mean = {_dense_literal(mean, t, event_shape)}, "
                f"log_std = {_dense_literal(log_std, t, event_shape)}>")


class Uniform:
    """Uniform on the box [low, high) of the latent: `low` and `high` have the
    latent's event shape or are flat with as many values."""

    def __init__(self, low, high):
        self.low = np.asarray(low, np.float64)
        self.high = np.asarray(high, np.float64)
        if self.low.shape != self.high.shape or np.any(self.low >= self.high):
            raise ValueError("Uniform: need low < high elementwise, with equal shapes")
        self.dim = self.low.size

    def attribute(self, t, event_shape):
        low = _event_array("Uniform", "low", self.low, event_shape)
        high = _event_array("Uniform", "high", self.high, event_shape)
        return (f"#nf.uniform<low = {_dense_literal(low, t, event_shape)}, "
                f"high = {_dense_literal(high, t, event_shape)}>")


class Model:
    """A flow: `layers` (normalizing direction, data to latent) over `base`."""

    def __init__(self, layers, base, context_dim=0, dtype="float32", name="model", event_shape=None,
                 iwae_paths=None):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
        if not name.isidentifier():
            raise ValueError(f"model name must be an identifier, not {name!r}")
        self.layers = list(layers)
        self.base = base
        # The data's shape without the batch dimension, e.g. (C, H, W); the
        # C ABI flattens it to dim = C * H * W values per row. Without
        # surjections it holds as many values as the base (the compiler
        # checks the latent against the base).
        self.event_shape = tuple(int(d) for d in (event_shape or (base.dim,)))
        self.dim = int(np.prod(self.event_shape))
        self.context_dim = int(context_dim)
        self.dtype = dtype
        self.name = name
        # Importance samples of log_prob when a layer's V is a bound.
        self.iwae_paths = None if iwae_paths is None else int(iwae_paths)

    def emit_parts(self):
        """(module-level text: its functions and the nf.model, blobs)."""
        em = _Emitter(self)
        x = "%x"
        data_type = em.data_type
        for layer in self.layers:
            # Each layer is checked and emitted against the shape that
            # reaches it.
            x = layer.emit(em, x, em.event_size)
        t = em.t
        args = f"%x: {data_type}" + (f", %c: {_tensor_type([self.context_dim], t, batch=True)}" if self.context_dim else "")
        attrs = f" attributes {{iwae_paths = {self.iwae_paths}}}" if self.iwae_paths else ""
        base = self.base.attribute(t, em.event_shape)
        lines = em.functions + [f"nf.model @{self.name}({args}) base {base}{attrs} {{"]
        lines += em.body + [f"  nf.yield {x} : {em.data_type}", "}"]
        return lines, em.blobs

    def to_mlir(self):
        """The model as nf dialect text."""
        lines, blobs = self.emit_parts()
        if blobs:
            lines.append("{-#\n  dialect_resources: {\n    builtin: {")
            lines.append(",\n".join(f'      {k}: "{v}"' for k, v in blobs.items()))
            lines.append("    }\n  }\n#-}")
        return "\n".join(lines) + "\n"

    def compile(self, opt=3, out_dir=None, target="cpu"):
        """Compiles with nf-compile and loads the model.

        `target` is "cpu", "cuda" (log_prob, forward and inverse run on the
        GPU; numpy arrays are copied, CUDA arrays passed as they are) or
        "cuda,cpu" (the CPU entries plus cuda_log_prob, ...)."""
        from .compiler import compile_mlir
        from .runtime import load

        targets = target.split(",") if isinstance(target, str) else list(target)
        if not targets or any(t not in ("cpu", "cuda") for t in targets):
            raise ValueError(f"target must be 'cpu', 'cuda' or 'cuda,cpu', not {target!r}")
        path = compile_mlir(self.to_mlir(), name=self.name, opt=opt, out_dir=out_dir,
                            extra_args=[f"--target={','.join(targets)}"])
        return load(path)[self.name]
