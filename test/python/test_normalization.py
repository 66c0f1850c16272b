"""ActNorm and inference-mode BatchNorm, on vectors and on images
(tensor<?xCxHxWxT>), compiled: round trips, V against finite differences
and numpy references."""

import numpy as np
import pytest
from conftest import check_bijection

import nfmlir


def make_model(kind, event_shape, dtype, rng):
    channels = event_shape[0]
    if kind == "actnorm":
        layer = nfmlir.ActNorm(rng.uniform(0.3, 2.0, channels) * rng.choice([-1, 1], channels),
                               rng.normal(size=channels))
    else:
        layer = nfmlir.BatchNorm(rng.normal(size=channels), rng.uniform(0.2, 3.0, channels),
                                 rng.normal(size=channels) * 0.3, rng.normal(size=channels), epsilon=1e-3)
    dim = int(np.prod(event_shape))
    return nfmlir.Model([layer, nfmlir.Reverse(), nfmlir.Tanh()], nfmlir.StandardNormal(dim), dtype=dtype,
                        name="n", event_shape=event_shape)


@pytest.mark.parametrize("event_shape", [(5,), (3, 2, 2)])
@pytest.mark.parametrize("kind", ["actnorm", "batch_norm"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalization_layers(kind, event_shape, dtype, compile_model):
    rng = np.random.default_rng(11)
    model = make_model(kind, event_shape, dtype, rng)
    lib = compile_model(model)
    assert lib.dim == int(np.prod(event_shape))
    x = (rng.normal(size=(200, lib.dim)) * 0.3).astype(dtype)
    check_bijection(lib, model, x, round_trip=1e-4 if dtype == "float32" else 1e-10,
                    rel=1e-5 if dtype == "float32" else 1e-11, fd_rows=20)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_glow_style_image_flow(dtype, compile_model):
    """ActNorm, 1x1 convolutions, squeeze and elementwise maps on a small
    image, against the numpy reference (survae's squeeze ordering)."""
    rng = np.random.default_rng(5)
    layers = [nfmlir.ActNorm(rng.uniform(0.5, 1.5, 2), rng.normal(size=2)),
              nfmlir.Squeeze(),
              nfmlir.Linear(np.linalg.qr(rng.normal(size=(8, 8)))[0] * 1.3, rng.normal(size=8) * 0.1),
              nfmlir.Tanh(), nfmlir.Reverse()]
    model = nfmlir.Model(layers, nfmlir.StandardNormal(2 * 4 * 4), dtype=dtype, name="glow", event_shape=(2, 4, 4))
    lib = compile_model(model)
    x = (rng.normal(size=(100, 32)) * 0.3).astype(dtype)
    check_bijection(lib, model, x, round_trip=1e-4 if dtype == "float32" else 1e-10,
                    rel=1e-5 if dtype == "float32" else 1e-11, fd_rows=10)
