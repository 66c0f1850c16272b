"""Dense invertible linear layers and 1x1 convolutions: round trips, V
against finite differences and numpy's slogdet."""

import numpy as np
import pytest
from conftest import check_bijection

import nfmlir


def random_invertible(n, rng):
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))  # Glow's rotation init
    return q @ np.diag(rng.uniform(0.5, 2.0, n)) + 0.1 * rng.normal(size=(n, n))


@pytest.mark.parametrize("event_shape", [(4,), (3, 2, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear(event_shape, dtype, compile_model):
    rng = np.random.default_rng(21)
    c = event_shape[0]
    layers = [nfmlir.Linear(random_invertible(c, rng), rng.normal(size=c)), nfmlir.Tanh(),
              nfmlir.Linear(random_invertible(c, rng), np.zeros(c))]
    dim = int(np.prod(event_shape))
    model = nfmlir.Model(layers, nfmlir.StandardNormal(dim), dtype=dtype, name="lin", event_shape=event_shape)
    lib = compile_model(model)
    x = (rng.normal(size=(300, dim)) * 0.3).astype(dtype)
    check_bijection(lib, model, x, round_trip=1e-4 if dtype == "float32" else 1e-10,
                    rel=1e-5 if dtype == "float32" else 1e-11, fd_rows=30)


def test_singular_weight_is_a_compile_error(tmp_path):
    model = nfmlir.Model([nfmlir.Linear([[1.0, 2.0], [2.0, 4.0]], [0.0, 0.0])], nfmlir.StandardNormal(2), name="s")
    with pytest.raises(nfmlir.CompileError, match="weight is singular"):
        model.compile(out_dir=tmp_path)
