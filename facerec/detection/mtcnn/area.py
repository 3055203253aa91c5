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
# The detector looks at most this many pixels of an image at once (8.4 MP: 4K UHD, 3840 x 2160,
# fits): a larger photo gets no summed-area table of its own (1.5 GB of float64 at 64 MP); its
# pyramid levels are only those an area-reduced copy of this many pixels would give (a face the
# levels are too coarse for is one under min_face_size * sqrt(pixels / 8.4 MP)), each made from
# the photo in bands (level), and its R-Net and O-Net crops are cut from it one at a time
# (window_crops), so that its faces come out as a search of the whole photo gives them.
DETECT_MAX_PIXELS = _INT32_SAFE_PIXELS
# window_crops cuts a window of up to this many pixels from a table of its own (3 MB at most), a
# larger one from sums that never hold more than a few rows of it.
CROP_TABLE_PIXELS = 2**18
# The photo's rows level() sums at once: a band's table is at most this many pixels (25 MB).
LEVEL_BAND_PIXELS = 2**17


def summed_area_table(image: np.ndarray) -> np.ndarray:
    """(H + 1) x (W + 1) x 3 table of an H x W x 3 uint8 image: entry [y, x] sums image[:y, :x]."""
    height, width = image.shape[:2]
    depth = cv2.CV_32S if height * width <= _INT32_SAFE_PIXELS else cv2.CV_64F
    return cv2.integral(np.ascontiguousarray(image), sdepth=depth)


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


def _bin_sums(image: np.ndarray, ys0: np.ndarray, ys1: np.ndarray, xs0: np.ndarray, xs1: np.ndarray) -> np.ndarray:
    """Integer sums of ``image`` over every window rows [ys0, ys1) x columns [xs0, xs1) (bins in
    increasing order), len(ys0) x len(xs0) x channels, without a summed-area table of the image:
    each row bin is summed from the image, then those sums are accumulated across the columns, so
    that each column bin is one difference. Holds len(ys0) x width sums, whatever the image."""
    left, right = int(xs0[0]), int(xs1[-1])
    strip = image[:, left:right]
    tallest = int((ys1 - ys0).max())
    dtype = np.int32 if 255 * tallest * (right - left) <= np.iinfo(np.int32).max else np.int64
    sums = np.zeros((len(ys0), right - left + 1, image.shape[2]), dtype)
    for i, (top, bottom) in enumerate(zip(ys0.tolist(), ys1.tolist(), strict=True)):
        np.sum(strip[top:bottom], axis=0, dtype=dtype, out=sums[i, 1:])
    np.cumsum(sums, axis=1, out=sums)
    out = sums.take(xs1 - left, axis=1)
    out -= sums.take(xs0 - left, axis=1)
    return out


def level(image: np.ndarray, height: int, width: int, rows: tuple[int, int] | None = None) -> np.ndarray:
    """``resize(summed_area_table(image), height, width)``, the same bits, without a table of the
    whole image (see _bin_sums); only the level's ``rows`` [start, stop) where given."""
    start, stop = rows or (0, height)
    ys0, ys1 = bins(image.shape[0], height)
    xs0, xs1 = bins(image.shape[1], width)
    ys0, ys1 = ys0[start:stop], ys1[start:stop]
    sums = _bin_sums(image, ys0, ys1, xs0, xs1)
    return _averages(sums.transpose(2, 0, 1), (ys1 - ys0)[:, None], xs1 - xs0)


def window_crops(image: np.ndarray, windows: np.ndarray, size: int) -> np.ndarray:
    """``crops(summed_area_table(image), windows, size)``, the same bits, without a table of the
    image: a window of up to CROP_TABLE_PIXELS from a table of its own, a larger one from its
    sums (see _bin_sums), so that a crop holds little memory however large the photo or the box."""
    out = np.empty((len(windows), image.shape[2], size, size), np.float32)
    for k, (x0, y0, x1, y1) in enumerate(np.asarray(windows, dtype=np.int64).tolist()):
        if (x1 - x0) * (y1 - y0) <= CROP_TABLE_PIXELS:
            table = summed_area_table(image[y0:y1, x0:x1])
            out[k] = crops(table, np.array([[0, 0, x1 - x0, y1 - y0]]), size)[0]
            continue
        ys0, ys1 = bins(y1 - y0, size, y0)
        xs0, xs1 = bins(x1 - x0, size, x0)
        sums = _bin_sums(image, ys0, ys1, xs0, xs1)
        out[k] = _averages(sums.transpose(2, 0, 1), (ys1 - ys0)[:, None], xs1 - xs0)
    return out
