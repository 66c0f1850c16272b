"""Toy data sets for tests and demos (numpy only)."""

import numpy as np


def two_moons(n, noise=0.1, rng=None):
    """n points of two interleaved half circles (scikit-learn's make_moons
    with Gaussian noise of std `noise`), scaled as in FFJORD's toy data:
    x * 2 + [-1, -0.2], so both coordinates lie in about [-3, 3]. The upper
    moon is (cos t, sin t), the lower (1 - cos t, 1/2 - sin t), t uniform
    on [0, pi]; rows in random order. Returns (n, 2) float64."""
    rng = np.random.default_rng(rng)
    n = int(n)
    t = rng.uniform(0, np.pi, n)
    lower = rng.random(n) < 0.5
    x = np.where(lower, 1 - np.cos(t), np.cos(t))
    y = np.where(lower, 0.5 - np.sin(t), np.sin(t))
    points = np.stack([x, y], 1) + rng.normal(scale=noise, size=(n, 2))
    return points * 2 + np.array([-1.0, -0.2])
