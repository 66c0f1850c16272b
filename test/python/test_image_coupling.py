"""Coupling layers on image tensors: the identity set and the transformed
set are channels, the conditioner a convolutional network (the Glow
coupling), checked like every layer: round trips, V against finite
differences and the numpy reference."""

import numpy as np
import pytest
from conftest import check_bijection

import nfmlir


def image_couplings(rng):
    c = 4
    return [
        nfmlir.AffineCoupling([0, 1], nfmlir.ConvNet.random([2, 8, 4], 3, "relu", rng, scale=0.5), "sigmoid",
                              shift_first=True),
        nfmlir.LULinear(np.tril(rng.normal(size=(c, c)), -1) * 0.3, np.triu(rng.normal(size=(c, c)), 1) * 0.3,
                        rng.uniform(0.5, 1.5, c) * rng.choice([-1, 1], c), rng.normal(size=c) * 0.1,
                        permutation=[3, 1, 0, 2]),
        nfmlir.AdditiveCoupling([1, 3], nfmlir.ConvNet.random([2, 4, 2], 3, "elu", rng, scale=0.5)),
        nfmlir.SplineCoupling([2], nfmlir.ConvNet.random([1, 6, 3 * (3 * 4 - 1)], 1, "tanh", rng, scale=0.5),
                              bins=4, tail_bound=3.0),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_image_couplings(dtype, compile_model):
    rng = np.random.default_rng(21)
    model = nfmlir.Model(image_couplings(rng), nfmlir.StandardNormal(4 * 4 * 4), dtype=dtype, name="img",
                         event_shape=(4, 4, 4))
    lib = compile_model(model)
    x = rng.normal(size=(64, 64)).astype(dtype)
    check_bijection(lib, model, x, round_trip=1e-4 if dtype == "float32" else 1e-10,
                    rel=1e-5 if dtype == "float32" else 1e-11, fd_rows=3)
    xs, logp = lib.sample_with_log_prob(64, seed=3)
    assert np.abs(lib.log_prob(xs) - logp).max() <= (1e-3 if dtype == "float32" else 1e-9)


def test_convnet_needs_image_data():
    net = nfmlir.ConvNet.random([1, 2], 3)
    model = nfmlir.Model([nfmlir.AffineCoupling([0], net)], nfmlir.StandardNormal(2), name="flat")
    with pytest.raises(ValueError, match="ConvNet conditioner needs image data"):
        model.to_mlir()


def test_image_coupling_needs_convnet():
    net = nfmlir.MLP.random([1, 2])
    model = nfmlir.Model([nfmlir.AffineCoupling([0], net)], nfmlir.StandardNormal(8), name="img",
                         event_shape=(2, 2, 2))
    with pytest.raises(ValueError, match="needs a ConvNet conditioner"):
        model.to_mlir()
