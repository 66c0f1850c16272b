"""Tiny PNG writer and plotting helpers (numpy only), for demos."""

import struct
import zlib

import numpy as np

# Anchor colours of a viridis-like map, from low to high.
_ANCHORS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)


def colormap(values):
    """Maps values in [0, 1] to RGB uint8."""
    v = np.clip(np.asarray(values, float), 0, 1) * (len(_ANCHORS) - 1)
    low = np.floor(v).astype(int).clip(0, len(_ANCHORS) - 2)
    t = (v - low)[..., None]
    return ((1 - t) * _ANCHORS[low] + t * _ANCHORS[low + 1]).astype(np.uint8)


def histogram_image(points, extent, size):
    """A log-scaled 2-D histogram of `points` over extent (x0, x1, y0, y1)."""
    x0, x1, y0, y1 = extent
    counts, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=size, range=[[y0, y1], [x0, x1]])
    return colormap(np.log1p(counts[::-1]) / max(np.log1p(counts.max()), 1e-12))


def density_image(log_prob, extent, size):
    """The density exp(log_prob) on a size x size grid over extent."""
    x0, x1, y0, y1 = extent
    xs = np.linspace(x0, x1, size)
    ys = np.linspace(y1, y0, size)
    xx, yy = np.meshgrid(xs, ys)
    density = np.exp(log_prob(np.stack([xx.ravel(), yy.ravel()], 1)).astype(float)).reshape(size, size)
    return colormap(density / density.max())


def side_by_side(*images, gap=8):
    """Images of equal height joined left to right on a white background."""
    height = max(im.shape[0] for im in images)
    width = sum(im.shape[1] for im in images) + gap * (len(images) + 1)
    canvas = np.full((height + 2 * gap, width, 3), 255, np.uint8)
    x = gap
    for im in images:
        canvas[gap : gap + im.shape[0], x : x + im.shape[1]] = im
        x += im.shape[1] + gap
    return canvas


def write_png(path, image):
    """Writes an H x W x 3 uint8 image."""
    image = np.ascontiguousarray(image, np.uint8)
    height, width, _ = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
