"""Shared fixtures of the end-to-end tests: build models with nfmlir,
compile them with nf-compile, and compare with references written here in
numpy (independent of the compiler)."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

import nfmlir  # noqa: E402


@pytest.fixture
def compile_model(tmp_path):
    """Compiles an nfmlir.Model into tmp_path and returns the loaded model."""

    def build(model, opt=3):
        return model.compile(opt=opt, out_dir=tmp_path / model.name)

    return build


# -- numpy references of the layers (normalizing direction x -> z) ---------


def ref_mlp(net, h):
    act = {
        "relu": lambda v: np.maximum(v, 0),
        "leaky_relu": lambda v: np.where(v > 0, v, 0.01 * v),
        "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
        "tanh": np.tanh,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    }[net.activation]
    for k, (w, b) in enumerate(net.layers):
        h = h @ w + b
        if k + 1 < len(net.layers):
            h = act(h)
    return h


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
            # W mixes dimension 1 at every other position.
            x = np.moveaxis(np.tensordot(layer.weight, x, axes=([1], [1])), 0, 1)
            x = x + layer.bias.reshape((1, -1) + (1,) * (x.ndim - 2))
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
        elif isinstance(layer, (nfmlir.AffineCoupling, nfmlir.AdditiveCoupling)):
            a = layer.identity
            b = [i for i in range(x.shape[1]) if i not in a]
            inp = x[:, a] if context is None else np.concatenate([x[:, a], context], 1)
            h = ref_mlp(layer.conditioner, inp)
            x = x.copy()
            if isinstance(layer, nfmlir.AdditiveCoupling):
                x[:, b] = x[:, b] + h
                continue
            shift, raw = h[:, : len(b)], h[:, len(b):]
            s, log_s = ref_scale(layer.scale_fn, raw)
            x[:, b] = (x[:, b] + shift) * s if layer.shift_first else x[:, b] * s + shift
            v = v + log_s.sum(1)
        elif isinstance(layer, tuple(ELEMENTWISE_REFERENCES)):
            forward, log_derivative = ELEMENTWISE_REFERENCES[type(layer)]
            v = v + log_derivative(layer, x).reshape(x.shape[0], -1).sum(1)
            x = forward(layer, x)
        else:
            raise NotImplementedError(type(layer))
    return x.reshape(x.shape[0], -1), v


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
