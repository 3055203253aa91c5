"""Area (box-filter) resampling from a summed-area table.

Every resize in the cascade (pyramid levels and the R-Net/O-Net crops) is PyTorch's
``interpolate(mode="area")``, i.e. adaptive average pooling: output pixel i averages input rows
``floor(i * H / h)`` to ``ceil((i + 1) * H / h)``. That operator reads the whole image once per
pyramid level; with one summed-area table per image each output pixel is four look-ups instead,
so the pyramid and hundreds of crops cost little more than the table. Sums of uint8 pixels are
exact integers, so results equal the reference up to float rounding.

Results come channel-first (the networks' layout), the transposition done by the first float
operation rather than by a copy of its own.
"""

from __future__ import annotations

import cv2
import numpy as np

# Above this many pixels an int32 table could overflow (255 * pixels >= 2**31).
_INT32_SAFE_PIXELS = (2**31 - 1) // 255
# The detector looks at most this many pixels of an image (8.4 MP: 4K UHD, 3840 x 2160, fits): a
# larger photo is searched on an area-reduced copy, its faces mapped back to full size. Its table
# stays int32 (100 MB, not the 1.5 GB of float64 a 64 MP photo would need), and a face the
# reduced copy is too coarse for is a face of 40+ pixels in a photo of more than 8.4 MP.
DETECT_MAX_PIXELS = _INT32_SAFE_PIXELS


def summed_area_table(image: np.ndarray) -> np.ndarray:
    """(H + 1) x (W + 1) x 3 table of an H x W x 3 uint8 image: entry [y, x] sums image[:y, :x]."""
    height, width = image.shape[:2]
    depth = cv2.CV_32S if height * width <= _INT32_SAFE_PIXELS else cv2.CV_64F
    return cv2.integral(np.ascontiguousarray(image), sdepth=depth)


def working_copy(image: np.ndarray, max_pixels: int = DETECT_MAX_PIXELS) -> tuple[np.ndarray, float, float]:
    """``image`` itself if it has at most ``max_pixels``, else an area-reduced copy that has;
    with the factors (x, y) that map the copy's coordinates back to the image's."""
    height, width = image.shape[:2]
    if height * width <= max_pixels:
        return image, 1.0, 1.0
    scale = (max_pixels / (height * width)) ** 0.5
    small_w, small_h = max(1, int(width * scale)), max(1, int(height * scale))
    small = cv2.resize(np.ascontiguousarray(image), (small_w, small_h), interpolation=cv2.INTER_AREA)
    return small, width / small_w, height / small_h


def bins(length: np.ndarray | int, size: int, origin: np.ndarray | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) of each of ``size`` adaptive-pooling bins over ``length``."""
    i = np.arange(size, dtype=np.int64)
    if isinstance(length, np.ndarray):
        i = i[None, :]
    start = origin + (i * length) // size
    stop = origin - (-(i + 1) * length) // size
    return start, stop


def _averages(sums: np.ndarray, heights: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Integer window sums (any layout view) -> float32 averages in that view's shape, divided by
    the bin height, then width, in float32: the reference's rounding, bit for bit."""
    pixels = np.empty(sums.shape, np.float32)
    np.divide(sums, heights.astype(np.float32), out=pixels, dtype=np.float32, casting="unsafe")
    pixels /= widths.astype(np.float32)
    return pixels


def resize(table: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-resize the image behind ``table`` to 3 x height x width, float32 in 0..255."""
    y0, y1 = bins(table.shape[0] - 1, height)
    x0, x1 = bins(table.shape[1] - 1, width)
    # In place where possible: a 1080p photo's first level is megabytes per temporary.
    rows = table.take(y1, axis=0)
    rows -= table.take(y0, axis=0)
    sums = rows.take(x1, axis=1)
    sums -= rows.take(x0, axis=1)
    return _averages(sums.transpose(2, 0, 1), (y1 - y0)[:, None], x1 - x0)


def crops(table: np.ndarray, windows: np.ndarray, size: int) -> np.ndarray:
    """Area-resize pixel windows (x0, y0, x1, y1: half-open, non-empty) to N x 3 x size x size."""
    channels = table.shape[2]
    if len(windows) == 0:
        return np.zeros((0, channels, size, size), dtype=np.float32)
    w = np.asarray(windows, dtype=np.int64)
    x0, y0, x1, y1 = (w[:, k : k + 1] for k in range(4))
    ys0, ys1 = bins(y1 - y0, size, y0)
    xs0, xs1 = bins(x1 - x0, size, x0)
    stride = table.shape[1]
    flat = table.reshape(-1, channels)

    def corner(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return flat.take((ys[:, :, None] * stride + xs[:, None, :]).reshape(-1), axis=0)

    sums = corner(ys1, xs1)
    sums -= corner(ys0, xs1)
    sums -= corner(ys1, xs0)
    sums += corner(ys0, xs0)
    sums = sums.reshape(len(windows), size, size, channels).transpose(0, 3, 1, 2)
    return _averages(sums, (ys1 - ys0)[:, None, :, None], (xs1 - xs0)[:, None, None, :])
