"""Shared fixtures of the end-to-end tests: build models with nfmlir,
compile them with nf-compile, and compare with references written here in
numpy (independent of the compiler).

nfmlir is imported from python/ through pytest's `pythonpath` option
(pytest.ini at the repository root)."""

from pathlib import Path

import numpy as np
import pytest

import nfmlir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def compile_model(tmp_path):
    """Compiles an nfmlir.Model into tmp_path and returns the loaded model."""

    def build(model, opt=3):
        return model.compile(opt=opt, out_dir=tmp_path / model.name)

    return build


# -- numpy references of the layers (normalizing direction x -> z) ---------


# (activation, its derivative) of the MLP activations.
ACTIVATIONS = {
    "relu": (lambda v: np.maximum(v, 0), lambda v: (v > 0).astype(np.float64)),
    "leaky_relu": (lambda v: np.where(v > 0, v, 0.01 * v), lambda v: np.where(v > 0, 1.0, 0.01)),
    "elu": (lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))), lambda v: np.exp(np.minimum(v, 0))),
    "tanh": (np.tanh, lambda v: 1 - np.tanh(v) ** 2),
    "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), lambda v: 1 / (1 + np.exp(-v)) * (1 - 1 / (1 + np.exp(-v)))),
}


def ref_convnet(net, h):
    """A ConvNet on images (n, C, H, W): "same" zero padding."""
    act = ACTIVATIONS[net.activation][0]
    for k, (w, b) in enumerate(net.layers):
        ph, pw = w.shape[2] // 2, w.shape[3] // 2
        padded = np.pad(h, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, w.shape[2:], axis=(2, 3))
        h = np.einsum("nchwij,ocij->nohw", windows, w) + b[None, :, None, None]
        if k + 1 < len(net.layers):
            h = act(h)
    return h


def ref_mlp(net, h):
    if isinstance(net, nfmlir.ConvNet):
        return ref_convnet(net, h)
    act = ACTIVATIONS[net.activation][0]
    for k, (w, b) in enumerate(net.layers):
        h = h @ w + b
        if k + 1 < len(net.layers):
            h = act(h)
    return h


def ref_mlp_jacobian(net, h):
    """d out / d in of the MLP at each row of h: shape (n, out, in). With
    y = x W + b, the Jacobian is W_L^T diag(act'(a_{L-1})) ... W_1^T."""
    act, deriv = ACTIVATIONS[net.activation]
    m = np.broadcast_to(net.layers[0][0], (h.shape[0],) + net.layers[0][0].shape)  # (n, in, out): J^T
    for k, (w, b) in enumerate(net.layers):
        h = h @ w + b
        if k + 1 < len(net.layers):
            m = (m * deriv(h)[:, None, :]) @ net.layers[k + 1][0]
            h = act(h)
    return np.swapaxes(m, 1, 2)


def ref_scale(fn, h):
    """(scale, log scale) of an affine coupling."""
    if fn == "exp":
        return np.exp(h), h
    if fn == "sigmoid":
        s = 1 / (1 + np.exp(-(h + 2))) + 1e-3
    else:
        s = np.logaddexp(0, h) + 1e-3
    return s, np.log(s)


def ref_forward(model, x, context=None):
    """(z, V) of the model on float64 data (flat rows, as the C ABI)."""
    x = np.asarray(x, np.float64).reshape((-1,) + model.event_shape)
    v = np.zeros(x.shape[0])
    for layer in model.layers:
        if isinstance(layer, nfmlir.Affine):
            x = layer.scale * x + layer.shift
            v = v + np.broadcast_to(np.log(np.abs(layer.scale)), x.shape[1:]).sum()
        elif isinstance(layer, (nfmlir.ActNorm, nfmlir.BatchNorm)):
            if isinstance(layer, nfmlir.ActNorm):
                scale, shift = layer.scale, layer.shift
            else:
                scale = np.exp(layer.log_gamma) / np.sqrt(layer.variance + layer.epsilon)
                shift = layer.beta - layer.mean * scale
            shape = (1, -1) + (1,) * (x.ndim - 2)  # per channel
            x = x * scale.reshape(shape) + shift.reshape(shape)
            v = v + np.log(np.abs(scale)).sum() * int(np.prod(x.shape[2:]))
        elif isinstance(layer, nfmlir.Linear):
            x = _channel_matmul(layer.weight, x) + layer.bias.reshape((1, -1) + (1,) * (x.ndim - 2))
            _, logabsdet = np.linalg.slogdet(layer.weight)
            v = v + logabsdet * int(np.prod(x.shape[2:]))
        elif isinstance(layer, nfmlir.Radial):
            flat = x.reshape(x.shape[0], -1)
            diff = flat - layer.center
            r = np.sqrt((diff**2).sum(1))
            h = 1 / (layer.alpha + r)
            dh = -h**2
            d = flat.shape[1]
            x = (flat + (layer.beta * h)[:, None] * diff).reshape(x.shape)
            v = v + (d - 1) * np.log1p(layer.beta * h) + np.log1p(layer.beta * h + layer.beta * dh * r)
        elif isinstance(layer, nfmlir.Squeeze):
            n, c, h, w = x.shape
            x = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
        elif isinstance(layer, nfmlir.Reverse):
            x = x[:, ::-1]
        elif isinstance(layer, nfmlir.Permute):
            x = x[:, layer.permutation]
        elif isinstance(layer, (nfmlir.AffineCoupling, nfmlir.AdditiveCoupling, nfmlir.SplineCoupling)):
            a = layer.identity
            b = [i for i in range(x.shape[1]) if i not in a]
            inp = x[:, a] if context is None else np.concatenate([x[:, a], context], 1)
            h = ref_mlp(layer.conditioner, inp)
            x = x.copy()
            if isinstance(layer, nfmlir.AdditiveCoupling):
                x[:, b] = x[:, b] + h
                continue
            if isinstance(layer, nfmlir.SplineCoupling):
                x[:, b], lad = ref_rq_spline(x[:, b], *_spline_params(h, len(b), layer.bins), layer.tail_bound)
                v = v + lad.reshape(len(lad), -1).sum(1)
                continue
            shift, raw = h[:, : len(b)], h[:, len(b):]
            s, log_s = ref_scale(layer.scale_fn, raw)
            x[:, b] = (x[:, b] + shift) * s if layer.shift_first else x[:, b] * s + shift
            v = v + log_s.reshape(len(log_s), -1).sum(1)
        elif isinstance(layer, nfmlir.RQSpline):
            x, lad = ref_rq_spline(x, layer.widths, layer.heights, layer.derivatives, layer.tail_bound)
            v = v + lad.reshape(x.shape[0], -1).sum(1)
        elif isinstance(layer, (nfmlir.MaskedAffineAutoregressive, nfmlir.MaskedSplineAutoregressive)):
            x, lad = ref_autoregressive(layer, x, context)
            v = v + lad.sum(1)
        elif isinstance(layer, nfmlir.LULinear):
            x = _channel_matmul(ref_lu_weight(layer), x) + layer.bias.reshape((1, -1) + (1,) * (x.ndim - 2))
            v = v + np.log(np.abs(layer.diag)).sum() * int(np.prod(x.shape[2:]))
        elif isinstance(layer, nfmlir.Planar):
            flat = x.reshape(x.shape[0], -1)
            t = np.tanh(flat @ layer.w + layer.b)
            x = (flat + t[:, None] * layer.u).reshape(x.shape)
            v = v + np.log1p((1 - t**2) * (layer.w @ layer.u))
        elif isinstance(layer, nfmlir.IResNet):
            # The exact V for both logdet modes: the series mode's probe
            # vectors are drawn inside the compiler, so its estimate has no
            # numpy twin; the tests compare it statistically (see
            # ref_iresnet_series).
            flat = x.reshape(x.shape[0], -1)
            jac = ref_mlp_jacobian(layer.net, flat)
            x = (flat + ref_mlp(layer.net, flat)).reshape(x.shape)
            v = v + np.linalg.slogdet(np.eye(flat.shape[1]) + jac)[1]
        elif isinstance(layer, tuple(ELEMENTWISE_REFERENCES)):
            forward, log_derivative = ELEMENTWISE_REFERENCES[type(layer)]
            v = v + log_derivative(layer, x).reshape(x.shape[0], -1).sum(1)
            x = forward(layer, x)
        else:
            raise NotImplementedError(type(layer))
    return x.reshape(x.shape[0], -1), v


SPLINE_MIN = 1e-3  # min_bin_width = min_bin_height = min_derivative (nflows' defaults)


def ref_spline_knots(theta, tail_bound):
    """Knots -B = k_0 < ... < k_K = B (last axis) from raw widths or heights."""
    k = theta.shape[-1]
    p = np.exp(theta - theta.max(-1, keepdims=True))
    p = SPLINE_MIN + (1 - SPLINE_MIN * k) * p / p.sum(-1, keepdims=True)
    knots = 2 * tail_bound * np.concatenate([np.zeros(p.shape[:-1] + (1,)), np.cumsum(p, -1)], -1) - tail_bound
    knots[..., 0], knots[..., -1] = -tail_bound, tail_bound  # exactly, as nflows
    return knots


def ref_rq_spline(x, w, h, d, tail_bound, inverse=False, nflows_root=False):
    """nflows' unconstrained_rational_quadratic_spline with linear tails,
    written from the math of LAYERS.md 2.12, elementwise in float64.

    x has any shape; w and h broadcast to x.shape + (K,), d to
    x.shape + (K - 1,). Returns (out, log|d out / d in|) elementwise: the
    spline and log g' (forward), or its inverse and -log g'(out)
    (inverse). Identity with log-derivative 0 outside [-B, B]. The inverse
    takes the root of the bin's quadratic in the form chosen by the sign of
    b (nflows_root: always nflows' 2c / (-b - sqrt(b^2 - 4ac)), which loses
    precision for b < 0; only to show that)."""
    x = np.asarray(x, np.float64)
    k = np.shape(w)[-1]
    w = np.broadcast_to(np.asarray(w, np.float64), x.shape + (k,))
    h = np.broadcast_to(np.asarray(h, np.float64), x.shape + (k,))
    d = np.broadcast_to(np.asarray(d, np.float64), x.shape + (k - 1,))
    xk, yk = ref_spline_knots(w, tail_bound), ref_spline_knots(h, tail_bound)
    ones = np.ones(x.shape + (1,))
    deriv = np.concatenate([ones, SPLINE_MIN + _softplus(d), ones], -1)  # boundary derivatives exactly 1
    # nflows' searchsorted: sum(x >= knots) - 1, with 1e-6 added to the last knot.
    edges = (yk if inverse else xk).copy()
    edges[..., -1] += 1e-6
    bin_ = np.clip(np.sum(x[..., None] >= edges, -1) - 1, 0, k - 1)[..., None]

    def take(a, offset=0):
        return np.take_along_axis(a, bin_ + offset, -1)[..., 0]

    x0, y0, d0, d1 = take(xk), take(yk), take(deriv), take(deriv, 1)
    dx, dy = take(xk, 1) - x0, take(yk, 1) - y0
    s = dy / dx
    with np.errstate(all="ignore"):  # the values outside [-B, B] are discarded
        if inverse:
            r = x - y0
            a = dy * (s - d0) + r * (d1 + d0 - 2 * s)
            b = dy * d0 - r * (d1 + d0 - 2 * s)
            c = -s * r
            sq = np.sqrt(np.maximum(b * b - 4 * a * c, 0))  # >= 0 exactly; clip rounding
            # nflows' 2c / (-b - sqrt) cancels for b < 0; there a = dy s - b > 0 and the
            # other form of the root has no cancellation.
            xi = np.where((b >= 0) | nflows_root, 2 * c / (-b - sq), (-b + sq) / (2 * a))
            out = x0 + xi * dx
        else:
            xi = (x - x0) / dx
        t = xi * (1 - xi)
        denominator = s + (d1 + d0 - 2 * s) * t
        if not inverse:
            out = y0 + dy * (s * xi**2 + d0 * t) / denominator
        log_deriv = np.log(s**2 * (d1 * xi**2 + 2 * s * t + d0 * (1 - xi) ** 2)) - 2 * np.log(denominator)
    inside = (x >= -tail_bound) & (x <= tail_bound)
    out = np.where(inside, out, x)
    log_deriv = np.where(inside, -log_deriv if inverse else log_deriv, 0.0)
    return out, log_deriv


def _spline_params(raw, features, bins):
    """(widths, heights, derivatives) from a conditioner's output: 3K - 1
    raw values per feature (channel), contiguous (nflows' layout)."""
    raw = np.moveaxis(raw.reshape((raw.shape[0], features, 3 * bins - 1) + raw.shape[2:]), 2, -1)
    return raw[..., :bins], raw[..., bins:2 * bins], raw[..., 2 * bins:]


def ref_autoregressive(layer, x, context=None, inverse=False):
    """(out, elementwise log|d out / d in|) of a masked autoregressive layer
    in its normalizing direction (inverse=False) or its generative one.
    One pass where the conditioner sees the input (MAF forward, IAF
    inverse); a D-step loop where it sees the output (MAF inverse, IAF
    forward)."""
    n, dim = x.shape

    def params(v):
        inp = v if context is None else np.concatenate([v, context], 1)
        return ref_mlp(layer.conditioner, inp)

    def transform(raw, v, backward):
        """The elementwise map (or its inverse) given the conditioner's output."""
        if isinstance(layer, nfmlir.MaskedSplineAutoregressive):
            return ref_rq_spline(v, *_spline_params(raw, dim, layer.bins), layer.tail_bound, inverse=backward)
        raw = raw.reshape(n, dim, 2)
        scale, log_scale = ref_scale(layer.scale_fn, raw[..., 0])
        if backward:
            return (v - raw[..., 1]) / scale, -log_scale
        return scale * v + raw[..., 1], log_scale

    backward = layer.inverted != inverse  # the map applied is the inverse of the MADE-conditioned one
    if not backward:
        return transform(params(x), x, False)
    out = np.zeros_like(x)
    for i in range(dim):  # output i needs outputs < i only
        out[:, i] = transform(params(out), x, True)[0][:, i]
    return transform(params(out), x, True)


def ref_lu_weight(layer):
    """W = P L (U + diag(s)) of an LULinear, formed explicitly."""
    c = layer.diag.size
    w = (np.tril(layer.lower, -1) + np.eye(c)) @ (np.triu(layer.upper, 1) + np.diag(layer.diag))
    return w if layer.permutation is None else w[layer.permutation]


def _channel_matmul(w, x):
    """W applied along dimension 1 at every other position."""
    return np.moveaxis(np.tensordot(w, x, axes=([1], [1])), 0, 1)


def ref_iresnet_series(net, x, terms, probes):
    """The truncated power-series estimate of log det(I + J_g) with the
    given probe vectors (rows of `probes`): the mean over probes v of
    sum_{k=1..terms} (-1)^(k+1)/k v^T J^k v."""
    jac = ref_mlp_jacobian(net, x)
    total = np.zeros(x.shape[0])
    for probe in probes:
        v = np.broadcast_to(probe, x.shape)
        power = v
        for k in range(1, terms + 1):
            power = np.einsum("nij,nj->ni", jac, power)
            total += (-1) ** (k + 1) / k * (v * power).sum(1)
    return total / len(probes)


def ref_inverse(model, z, context=None):
    """x from z (flat rows) for models built of the layers below, in float64:
    the generative direction of ref_forward. Root solves (planar) and fixed
    points (i-ResNet) run to float64 precision."""
    x = np.asarray(z, np.float64).reshape((-1,) + model.event_shape)
    for layer in reversed(model.layers):
        if isinstance(layer, nfmlir.Affine):
            x = (x - layer.shift) / layer.scale
        elif isinstance(layer, nfmlir.Reverse):
            x = x[:, ::-1]
        elif isinstance(layer, nfmlir.Permute):
            x = x[:, np.argsort(layer.permutation)]
        elif isinstance(layer, nfmlir.RQSpline):
            x = ref_rq_spline(x, layer.widths, layer.heights, layer.derivatives, layer.tail_bound, inverse=True)[0]
        elif isinstance(layer, (nfmlir.AffineCoupling, nfmlir.SplineCoupling)):
            a = layer.identity
            b = [i for i in range(x.shape[1]) if i not in a]
            inp = x[:, a] if context is None else np.concatenate([x[:, a], context], 1)
            h = ref_mlp(layer.conditioner, inp)
            x = x.copy()
            if isinstance(layer, nfmlir.SplineCoupling):
                x[:, b] = ref_rq_spline(x[:, b], *_spline_params(h, len(b), layer.bins), layer.tail_bound,
                                        inverse=True)[0]
            else:
                scale = ref_scale(layer.scale_fn, h[:, len(b):])[0]
                shift = h[:, : len(b)]
                x[:, b] = x[:, b] / scale - shift if layer.shift_first else (x[:, b] - shift) / scale
        elif isinstance(layer, (nfmlir.MaskedAffineAutoregressive, nfmlir.MaskedSplineAutoregressive)):
            x = ref_autoregressive(layer, x, context, inverse=True)[0]
        elif isinstance(layer, nfmlir.LULinear):
            shift = x - layer.bias.reshape((1, -1) + (1,) * (x.ndim - 2))
            x = _channel_matmul(np.linalg.inv(ref_lu_weight(layer)), shift)
        elif isinstance(layer, nfmlir.Planar):
            flat = x.reshape(x.shape[0], -1)
            wu = layer.w @ layer.u
            y = flat @ layer.w + layer.b
            # alpha = w.x + b solves alpha + wu tanh(alpha) = y (increasing in
            # alpha for wu > -1), and |alpha - y| <= |wu|: bisect.
            lo, hi = y - abs(wu) - 1, y + abs(wu) + 1
            for _ in range(200):
                mid = (lo + hi) / 2
                above = mid + wu * np.tanh(mid) > y
                lo, hi = np.where(above, lo, mid), np.where(above, mid, hi)
            x = (flat - np.tanh((lo + hi) / 2)[:, None] * layer.u).reshape(x.shape)
        elif isinstance(layer, tuple(ELEMENTWISE_INVERSES)):
            x = ELEMENTWISE_INVERSES[type(layer)](layer, x)
        elif isinstance(layer, nfmlir.IResNet):
            flat = x.reshape(x.shape[0], -1)
            guess = flat - ref_mlp(layer.net, flat)
            for _ in range(10000):
                previous, guess = guess, flat - ref_mlp(layer.net, guess)
                if np.abs(guess - previous).max() <= 1e-15 * max(1.0, np.abs(guess).max()):
                    break
            x = guess.reshape(x.shape)
        else:
            raise NotImplementedError(type(layer))
    return x.reshape(x.shape[0], -1)


def _softplus(v):
    return np.logaddexp(0, v)


def _logit_input(layer, x):
    return np.clip(layer.alpha + (1 - 2 * layer.alpha) * x, 1e-6, 1 - 1e-6)


def _in_support(layer, x):
    rescaled = layer.alpha + (1 - 2 * layer.alpha) * x
    return (rescaled >= 0) & (rescaled <= 1)


# (z = f(x), log|f'(x)|) of each elementwise layer, in plain numpy.
ELEMENTWISE_REFERENCES = {
    nfmlir.Sigmoid: (
        lambda l, x: 1 / (1 + np.exp(-l.temperature * x)),
        lambda l, x: np.log(l.temperature) - _softplus(-l.temperature * x) - _softplus(l.temperature * x),
    ),
    nfmlir.Logit: (
        lambda l, x: np.where(_in_support(l, x), np.log(_logit_input(l, x) / (1 - _logit_input(l, x))) / l.temperature, 0.0),
        lambda l, x: np.where(
            _in_support(l, x),
            np.log(1 - 2 * l.alpha) - np.log(l.temperature) - np.log(_logit_input(l, x)) - np.log1p(-_logit_input(l, x)),
            -np.inf,
        ),
    ),
    nfmlir.Tanh: (lambda l, x: np.tanh(x), lambda l, x: np.log1p(-np.tanh(x) ** 2)),
    nfmlir.Softplus: (lambda l, x: _softplus(x), lambda l, x: -_softplus(-x)),
    nfmlir.LeakyReLU: (
        lambda l, x: np.where(x < 0, l.slope * x, x),
        lambda l, x: np.where(x < 0, np.log(l.slope), 0.0),
    ),
    nfmlir.Exp: (lambda l, x: np.exp(x), lambda l, x: x),
    nfmlir.Log: (
        lambda l, x: np.where(x > 0, np.log(np.where(x > 0, x, 1)), 0.0),
        lambda l, x: np.where(x > 0, -np.log(np.where(x > 0, x, 1)), -np.inf),
    ),
}


# x = f^-1(z) of each elementwise layer.
ELEMENTWISE_INVERSES = {
    nfmlir.Sigmoid: lambda l, z: (np.log(z) - np.log1p(-z)) / l.temperature,
    nfmlir.Logit: lambda l, z: (1 / (1 + np.exp(-l.temperature * z)) - l.alpha) / (1 - 2 * l.alpha),
    nfmlir.Tanh: lambda l, z: np.arctanh(z),
    nfmlir.Softplus: lambda l, z: z + np.log(-np.expm1(-z)),
    nfmlir.LeakyReLU: lambda l, z: np.where(z < 0, z / l.slope, z),
    nfmlir.Exp: lambda l, z: np.log(z),
    nfmlir.Log: lambda l, z: np.exp(z),
}


def ref_base_log_prob(base, z):
    if isinstance(base, nfmlir.StandardNormal):
        return -0.5 * (z**2).sum(1) - 0.5 * z.shape[1] * np.log(2 * np.pi)
    if isinstance(base, nfmlir.DiagNormal):
        u = (z - base.mean) * np.exp(-base.log_std)
        return -0.5 * (u**2).sum(1) - base.log_std.sum() - 0.5 * z.shape[1] * np.log(2 * np.pi)
    if isinstance(base, nfmlir.Uniform):
        inside = np.all((z >= base.low) & (z < base.high), axis=1)
        return np.where(inside, -np.log(base.high - base.low).sum(), -np.inf)
    raise NotImplementedError(type(base))


def ref_log_prob(model, x, context=None):
    z, v = ref_forward(model, x, context)
    return ref_base_log_prob(model.base, z) + v


def fd_log_abs_det(fn, x, eps=1e-5):
    """log|det J| of fn at each row of x by central differences (float64)."""
    n, d = x.shape
    jac = np.empty((n, d, d))
    for j in range(d):
        step = np.zeros(d)
        step[j] = eps
        jac[:, :, j] = (fn(x + step) - fn(x - step)) / (2 * eps)
    return np.linalg.slogdet(jac)[1]


def check_sampling(lib, n=300, seed=2, context=None):
    """sample_with_log_prob's log p agrees with log_prob on its samples."""
    xs, logp = lib.sample_with_log_prob(n, seed=seed, context=context)
    assert np.isfinite(xs).all() and np.isfinite(logp).all()
    tol = 1e-3 if lib.dtype == np.float32 else 1e-9
    assert np.abs(lib.log_prob(xs, context) - logp).max() <= tol * max(1.0, np.abs(logp).max())


def check_bijection(lib, model, x, round_trip, rel, fd_rows):
    """The compiled model on rows x: inverse(forward(x)) within `round_trip`,
    z and V against ref_forward within `rel`, and, for float64 models, V
    against finite differences within 1e-6 on the first `fd_rows` rows."""
    z, ldj = lib.forward(x)
    assert np.abs(lib.inverse(z) - x).max() <= round_trip
    z_ref, v_ref = ref_forward(model, x.astype(np.float64))
    assert np.allclose(z, z_ref, rtol=rel, atol=rel)
    assert np.allclose(ldj, v_ref, rtol=rel, atol=rel)
    if x.dtype == np.float64:
        fd = fd_log_abs_det(lambda v: lib.forward(v)[0], x[:fd_rows])
        assert np.abs(ldj[:fd_rows] - fd).max() <= 1e-6


@pytest.fixture
def torch_one_thread():
    """PyTorch on one thread for the test (the importer tests compare against
    it; more threads only add noise on a small machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
