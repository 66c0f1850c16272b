"""Figures of 2-D flows for the examples (matplotlib, non-interactive Agg backend).

    fig, axes = plots.figure(2, "title")
    plots.histogram(axes[0], samples, extent, "samples")
    plots.grid_image(axes[1], np.exp(log_prob(plots.grid(extent))), extent, "density", "p(x)")
    plots.save(fig, "out/picture.png")
"""

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # before pyplot: no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

GRID = 200  # points per side of the grids densities are drawn on


def figure(panels, title, columns=None, size=4.6):
    """A figure of `panels` square panels (in rows of `columns`) under a title; returns it and its axes."""
    columns = columns or panels
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns + 0.6, size * rows + 0.4),
                             layout="constrained", squeeze=False)
    fig.suptitle(title, fontsize="x-large")
    return fig, list(axes.ravel()[:panels])


def square_extent(points, pad=0.15):
    """A square (x0, x1, y0, y1) around the central 99 % of `points` along each axis, padded by `pad` of its side."""
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    half = (0.5 + pad) * (hi - lo).max()
    cx, cy = (lo + hi) / 2
    return (cx - half, cx + half, cy - half, cy + half)


def grid(extent, size=GRID):
    """The size x size points over extent (x0, x1, y0, y1), an (size * size, 2) float64 array, x fastest."""
    x0, x1, y0, y1 = extent
    xx, yy = np.meshgrid(np.linspace(x0, x1, size), np.linspace(y0, y1, size))
    return np.stack([xx.ravel(), yy.ravel()], 1)


def histogram(ax, points, extent, title, bins=120):
    """A 2-D histogram of `points` (counts on a log colour scale)."""
    x0, x1, y0, y1 = extent
    *_, image = ax.hist2d(points[:, 0], points[:, 1], bins=bins, range=[[x0, x1], [y0, y1]], norm=LogNorm(),
                          cmap="viridis")
    ax.set_facecolor(plt.get_cmap("viridis")(0.0))  # empty bins: the colour of the lowest count
    _finish(ax, image, title, f"samples per bin ({len(points):,} in all)")


def grid_image(ax, values, extent, title, label, log=False, cmap="viridis"):
    """`values` at the points of grid(extent), as an image; log: a log colour scale."""
    size = int(round(np.sqrt(values.size)))
    norm = None
    if log:  # at most 8 decades; zeros at the bottom of the scale
        positive = values[values > 0]
        vmin = max(positive.min(), positive.max() * 1e-8) if positive.size else 1e-12
        norm = LogNorm(vmin=vmin, vmax=max(values.max(), 10 * vmin))
        values = np.maximum(values, vmin)
    image = ax.imshow(values.reshape(size, size), origin="lower", extent=extent, norm=norm, cmap=cmap,
                      interpolation="nearest")
    _finish(ax, image, title, label)


def contours(ax, values, extent, label, color="white", levels=6):
    """Contour lines of `values` at the points of grid(extent) over a panel, named `label` in its legend."""
    size = int(round(np.sqrt(values.size)))
    x0, x1, y0, y1 = extent
    ax.contour(np.linspace(x0, x1, size), np.linspace(y0, y1, size), values.reshape(size, size), levels,
               colors=color, linewidths=0.8)
    ax.legend(handles=[Line2D([], [], color=color, linewidth=0.8, label=label)], loc="upper right",
              facecolor="0.3", labelcolor=color, framealpha=0.6)


def save(fig, path):
    """Writes the figure (parent folders made) and closes it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _finish(ax, image, title, label):
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    ax.figure.colorbar(image, ax=ax, label=label, shrink=0.85)
