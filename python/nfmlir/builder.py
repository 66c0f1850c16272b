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


def _dense_literal(values, t):
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return "dense<[" + ", ".join(_float_literal(v) for v in values) + "]> : " + _tensor_type([values.size], t)


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
    """Base class of layers: `emit` returns the SSA name of the output."""

    def emit(self, em, x, dim):
        raise NotImplementedError


class Affine(Layer):
    """z = scale * x + shift; scale and shift are scalars or per feature."""

    def __init__(self, scale, shift):
        self.scale = np.asarray(scale, dtype=np.float64)
        self.shift = np.asarray(shift, dtype=np.float64)
        if np.any(self.scale == 0):
            raise ValueError("Affine: scale has a zero entry; the map is not invertible")

    def emit(self, em, x, dim):
        for name, p in (("scale", self.scale), ("shift", self.shift)):
            if p.ndim not in (0, 1) or (p.ndim == 1 and p.shape[0] != dim):
                raise ValueError(f"Affine: {name} must be a scalar or have {dim} entries, not shape {p.shape}")
        s, st = em.constant(self.scale)
        t, tt = em.constant(self.shift)
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
        if sorted(self.permutation) != list(range(dim)):
            raise ValueError(f"Permute: {self.permutation} is not a permutation of {dim} features")
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

    @classmethod
    def random(cls, sizes, activation="relu", rng=None, scale=1.0):
        """An MLP with Glorot-like random weights, for tests and demos."""
        rng = np.random.default_rng(rng)
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = scale * np.sqrt(6.0 / (fan_in + fan_out))
            layers.append((rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-0.1, 0.1, fan_out)))
        return cls(layers, activation)


def parity_mask(dim, even=True):
    """Identity features by parity: [0, 2, 4, ...] or [1, 3, 5, ...]."""
    return list(range(0 if even else 1, dim, 2))


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
        model = em.model
        a = len(self.identity)
        b = dim - a
        c = model.context_dim
        net = self.conditioner
        k = self.params_per_feature
        if net.in_features != a + c or net.out_features != k * b:
            raise ValueError(f"{type(self).__name__}: the conditioner must map {a + c} inputs (x_A"
                             f"{' and context' if c else ''}) to {k * b} outputs ({self.layout}), not "
                             f"{net.in_features} -> {net.out_features}")
        t = em.t
        params, types = [], []
        for w, bias in net.layers:
            for p in (w, bias):
                name, ttype = em.constant(p)
                params.append(name)
                types.append(ttype)
        fname = f"{model.name}_conditioner{len(em.functions)}"
        xa_t = _tensor_type([a], t, batch=True)
        c_t = _tensor_type([c], t, batch=True)
        in_t = _tensor_type([a + c], t, batch=True)
        out_t = _tensor_type([k * b], t, batch=True)
        args = [f"%xa: {xa_t}"] + ([f"%c: {c_t}"] if c else [])
        args += [f"%w{i}: {ty}" for i, ty in enumerate(types)]
        fn = [f"func.func private @{fname}({', '.join(args)}) -> {out_t} {{"]
        mlp_in = "%xa"
        if c:
            fn.append(f"  %in = tensor.concat dim(1) %xa, %c : ({xa_t}, {c_t}) -> {in_t}")
            mlp_in = "%in"
        ws = ", ".join(f"%w{i}" for i in range(len(types)))
        fn.append(f"  %h = nf.mlp {mlp_in} ({ws} : {', '.join(types)}) activation {net.activation} : {in_t} -> {out_t}")
        fn.append(f"  return %h : {out_t}")
        fn.append("}")
        em.functions.append("\n".join(fn))
        out = em.fresh()
        identity = ", ".join(map(str, self.identity))
        context = f" context %c : {c_t}" if c else ""
        em.body.append(f"  {out} = nf.{self.op} {x} identity [{identity}] conditioner @{fname}"
                       f"({', '.join(params)} : {', '.join(types)}){context}{self.suffix()} : {em.data_type}")
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


class AdditiveCoupling(_Coupling):
    """NICE additive coupling: z_B = x_B + m(x_A); volume preserving."""

    op = "additive_coupling"
    params_per_feature = 1
    layout = "shift"


class StandardNormal:
    """N(0, I) on `dim` features."""

    def __init__(self, dim):
        self.dim = int(dim)

    def attribute(self, t):
        return "#nf.std_normal"


class DiagNormal:
    """N(mean, diag(exp(log_std))^2)."""

    def __init__(self, mean, log_std):
        self.mean = np.asarray(mean, np.float64).reshape(-1)
        self.log_std = np.asarray(log_std, np.float64).reshape(-1)
        if self.mean.shape != self.log_std.shape:
            raise ValueError("DiagNormal: mean and log_std must have the same shape")
        self.dim = self.mean.size

    def attribute(self, t):
        return f"#nf.diag_normal<mean = {_dense_literal(self.mean, t)}, log_std = {_dense_literal(self.log_std, t)}>"


class Uniform:
    """Uniform on the box [low, high)."""

    def __init__(self, low, high):
        self.low = np.asarray(low, np.float64).reshape(-1)
        self.high = np.asarray(high, np.float64).reshape(-1)
        if self.low.shape != self.high.shape or np.any(self.low >= self.high):
            raise ValueError("Uniform: need low < high elementwise, with equal shapes")
        self.dim = self.low.size

    def attribute(self, t):
        return f"#nf.uniform<low = {_dense_literal(self.low, t)}, high = {_dense_literal(self.high, t)}>"


class Model:
    """A flow: `layers` (normalizing direction, data to latent) over `base`."""

    def __init__(self, layers, base, context_dim=0, dtype="float32", name="model", event_shape=None):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
        if not name.isidentifier():
            raise ValueError(f"model name must be an identifier, not {name!r}")
        self.layers = list(layers)
        self.base = base
        self.dim = base.dim
        # The data's shape without the batch dimension, e.g. (C, H, W); the
        # C ABI flattens it to dim = C * H * W values per row.
        self.event_shape = tuple(int(d) for d in (event_shape or (self.dim,)))
        if int(np.prod(self.event_shape)) != self.dim:
            raise ValueError(f"event_shape {self.event_shape} does not hold {self.dim} values")
        self.context_dim = int(context_dim)
        self.dtype = dtype
        self.name = name

    def to_mlir(self):
        """The model as nf dialect text."""
        em = _Emitter(self)
        x = "%x"
        data_type = em.data_type
        for layer in self.layers:
            x = layer.emit(em, x, self.dim)
        t = em.t
        args = f"%x: {data_type}" + (f", %c: {_tensor_type([self.context_dim], t, batch=True)}" if self.context_dim else "")
        lines = em.functions + [f"nf.model @{self.name}({args}) base {self.base.attribute(t)} {{"]
        lines += em.body + [f"  nf.yield {x} : {em.data_type}", "}"]
        if em.blobs:
            lines.append("{-#\n  dialect_resources: {\n    builtin: {")
            lines.append(",\n".join(f'      {k}: "{v}"' for k, v in em.blobs.items()))
            lines.append("    }\n  }\n#-}")
        return "\n".join(lines) + "\n"

    def compile(self, opt=3, out_dir=None):
        """Compiles with nf-compile and loads the model."""
        from .compiler import compile_mlir
        from .runtime import load

        path = compile_mlir(self.to_mlir(), name=self.name, opt=opt, out_dir=out_dir)
        return load(path)[self.name]
