"""The checks every importer test (nflows, zuko, normflows) runs on a
compiled import against the library's own log-density: one helper, each
test file passing its library's `torch_log_prob(flow, x, c)`."""

import numpy as np

N = 200  # points per log_prob comparison


def data(dim, context_dim, seed, n=N):
    """(x, c): n rows of N(0, 1.5^2) data and of N(0, 1) context (None
    without one), float64."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dim)) * 1.5, (rng.normal(size=(n, context_dim)) if context_dim else None)


def check_against(lib, flow, torch_log_prob, x, c, inverse=True, inverse_tol=1e-9):
    """log_prob as the library's to 1e-10 (absolute); the normalizing map
    inverts to `inverse_tol`; the compiled samples' log-probabilities are the
    library's at those samples (relative: samples reach far tails)."""
    expected = torch_log_prob(flow, x, c)
    assert np.all(np.isfinite(expected))
    assert np.abs(lib.log_prob(x, c) - expected).max() <= 1e-10
    if inverse:
        z, _ = lib.forward(x, c)
        assert np.abs(lib.inverse(z, c) - x).max() <= inverse_tol
        samples, logp = lib.sample_with_log_prob(N, seed=1, context=c)
        assert np.all(np.abs(torch_log_prob(flow, samples, c) - logp) <= 1e-9 * (1 + np.abs(logp)))
    return lib


def check_nudged(lib, flow, torch_log_prob, x, c, weight):
    """After nudging one weight of the PyTorch flow, the compiled model (of
    the old weights) no longer matches where the density is finite: the
    comparison sees that part."""
    import torch

    with torch.no_grad():
        weight.view(-1)[0] += 0.05
    try:
        got, expected = lib.log_prob(x, c), torch_log_prob(flow, x, c)
        finite = np.isfinite(expected)  # uniform bases give -inf outside their box
        assert np.abs(got[finite] - expected[finite]).max() > 1e-6
    finally:
        with torch.no_grad():
            weight.view(-1)[0] -= 0.05
