"""Box maths of the MTCNN cascade: pure functions on numpy arrays.

Boxes are float32 arrays of shape (N, 4) as (x1, y1, x2, y2). The conventions (where a width gets
"+ 1", which comparisons are strict) follow facenet-pytorch 2.6.0 exactly, because its outputs are
our parity reference; each function says which convention it uses.
"""

from __future__ import annotations

from typing import Literal, cast

import numpy as np

from facerec.detection.mtcnn import native

# Where the five landmarks sit, on average, inside an MTCNN box (fractions of its width and
# height): left eye, right eye, nose, mouth left, mouth right. Measured with facerec's detector on
# the 1627 photos of ../shared/data/lfw_train (benchmarks/landmark_template.py), so that a
# similarity-aligned face is placed in the frame the way the margin crop places an average face.
MEAN_LANDMARKS_IN_BOX = np.array(
    [[0.2918, 0.3912], [0.7382, 0.3854], [0.5179, 0.5889], [0.3245, 0.7583], [0.7176, 0.7536]],
    dtype=np.float64,
)

PNET_STRIDE = 2
PNET_CELL = 12

NmsMode = Literal["union", "min"]
Ties = Literal["first", "numpy"]


def pyramid_scales(height: int, width: int, min_face_size: float, factor: float) -> list[float]:
    """Scales at which a 12x12 P-Net window covers faces from ``min_face_size`` up to the image."""
    scale = 12.0 / min_face_size
    side = min(height, width) * scale
    scales = []
    while side >= 12:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """Size of one pyramid level; the "+ 1" matches the reference implementation."""
    return int(height * scale + 1), int(width * scale + 1)


def pnet_candidates(
    reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn one P-Net output map into candidate windows in image coordinates.

    ``reg`` is (4, H, W), ``prob`` is (H, W). Returns (boxes N x 4, scores N, regression N x 4).
    """
    rows, cols = np.nonzero(prob >= threshold)
    scores = prob[rows, cols].astype(np.float32)
    offsets = reg[:, rows, cols].T.astype(np.float32)
    cells = np.stack([cols, rows], axis=1).astype(np.float32)
    scale32 = np.float32(scale)
    top_left = np.floor((PNET_STRIDE * cells + 1) / scale32)
    bottom_right = np.floor((PNET_STRIDE * cells + PNET_CELL) / scale32)
    boxes = np.concatenate([top_left, bottom_right], axis=1).astype(np.float32)
    return boxes, scores, offsets


def _overlaps(a: np.ndarray, b: np.ndarray, mode: NmsMode, pixel_offset: float) -> np.ndarray:
    """len(a) x len(b) matrix of overlaps (IoU, or intersection over the smaller area)."""
    area_a = (a[:, 2] - a[:, 0] + pixel_offset) * (a[:, 3] - a[:, 1] + pixel_offset)
    area_b = (b[:, 2] - b[:, 0] + pixel_offset) * (b[:, 3] - b[:, 1] + pixel_offset)
    inter_w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + pixel_offset
    inter_h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + pixel_offset
    inter = np.maximum(inter_w, 0.0) * np.maximum(inter_h, 0.0)
    if mode == "min":
        return inter / np.minimum(area_a[:, None], area_b[None, :])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    mode: NmsMode = "union",
    pixel_offset: float = 0.0,
    ties: Ties = "first",
) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best score first.

    A box is dropped when its overlap with a kept, higher-scoring box exceeds ``threshold``.
    ``mode="union"`` measures intersection over union, ``"min"`` intersection over the smaller
    area (O-Net's final step). ``pixel_offset=1`` counts widths as ``x2 - x1 + 1`` (the original
    MTCNN convention); 0 matches torchvision. Scores often tie (they saturate at 1.0), and which
    tied box is kept moves the result by pixels: ``ties="first"`` visits the lower index first, as
    torchvision's stable sort does; ``"numpy"`` reverses numpy's default (unstable) argsort, as
    the reference's final, numpy-based NMS does.

    The greedy pass runs in facerec's C kernel where it is built (see nms.c), else in numpy
    (greedy_blocks); both keep the same boxes.
    """
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    if ties == "first":
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    else:
        order = np.argsort(scores)[::-1]
    ordered = np.ascontiguousarray(np.asarray(boxes, dtype=np.float32)[order])
    module = native.kernel()
    if module is None:
        keep = greedy_blocks(ordered, threshold, mode, pixel_offset)
    else:
        keep = np.empty(len(order), np.uint8)
        module.nms_keep(ordered, threshold, mode == "min", pixel_offset, keep)
    return order[keep.view(bool)].astype(np.int64)


def greedy_blocks(
    ordered: np.ndarray, threshold: float, mode: NmsMode, pixel_offset: float, block: int = 1024
) -> np.ndarray:
    """NMS's greedy pass in numpy over boxes in order of visit: which are kept (bool).

    Boxes are taken ``block`` at a time: a block is first cut by every box kept so far (one
    matrix), then resolved within itself, visiting only boxes that overlap a later one. Hundreds
    of boxes cost a few matrix operations instead of a Python loop per kept box.
    """
    kept: list[np.ndarray] = []
    kept_boxes = np.zeros((0, 4), np.float32)
    for start in range(0, len(ordered), block):
        candidates = ordered[start : start + block]
        overlapped = (_overlaps(kept_boxes, candidates, mode, pixel_offset) > threshold).any(axis=0)
        alive = ~cast(np.ndarray, overlapped)  # one per candidate: any() along an axis of a matrix
        clashes = np.triu(_overlaps(candidates, candidates, mode, pixel_offset) > threshold, k=1)
        for i in np.nonzero(clashes.any(axis=1))[0]:
            if alive[i]:
                alive &= ~clashes[i]
        kept.append(alive)
        kept_boxes = np.concatenate([kept_boxes, candidates[alive]])
    return np.concatenate(kept) if kept else np.zeros(0, bool)


def batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    threshold: float,
    mode: NmsMode = "union",
    pixel_offset: float = 0.0,
    ties: Ties = "first",
) -> np.ndarray:
    """NMS run independently within each group (image); returns kept indices."""
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    # Shift each group far apart so boxes of different groups never overlap (in float32, as the
    # reference does: the shift's rounding is part of its results).
    boxes = np.asarray(boxes, dtype=np.float32)
    shift = groups.astype(np.float32)[:, None] * (boxes.max() + np.float32(1.0))
    return nms(boxes + shift, scores, threshold, mode, pixel_offset, ties)


def regress_unit(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply P-Net's regression: offsets scaled by ``x2 - x1`` (no "+ 1")."""
    size = np.concatenate([boxes[:, 2:4] - boxes[:, 0:2]] * 2, axis=1)
    return (boxes + reg * size).astype(np.float32)


def regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply R-Net/O-Net regression: offsets scaled by ``x2 - x1 + 1``."""
    size = np.concatenate([boxes[:, 2:4] - boxes[:, 0:2] + 1] * 2, axis=1)
    return (boxes + reg * size).astype(np.float32)


def square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (side = the longer side)."""
    size = boxes[:, 2:4] - boxes[:, 0:2]
    side = size.max(axis=1, keepdims=True)
    top_left = boxes[:, 0:2] + size * 0.5 - side * 0.5
    return np.concatenate([top_left, top_left + side], axis=1).astype(np.float32)


def crop_windows(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer pixel windows (x0, y0, x1, y1), half-open, of boxes clipped to the image.

    Boxes that leave the image are cut at its edge (the cut part is not zero-filled), as in
    facenet-pytorch. A window can be empty when the box lies wholly outside the image.
    """
    b = np.trunc(boxes).astype(np.int64)
    x0 = np.maximum(b[:, 0], 1) - 1
    y0 = np.maximum(b[:, 1], 1) - 1
    x1 = np.minimum(b[:, 2], width)
    y1 = np.minimum(b[:, 3], height)
    return np.stack([x0, y0, x1, y1], axis=1)


def landmarks_from_onet(boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map O-Net's relative landmarks (N x 10: x1..x5, y1..y5) into image coordinates (N x 5 x 2)."""
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    xs = w * points[:, :5] + boxes[:, 0:1] - 1
    ys = h * points[:, 5:] + boxes[:, 1:2] - 1
    return np.stack([xs, ys], axis=2).astype(np.float32)
