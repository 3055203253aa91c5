"""The liveness networks' inputs, cut exactly as the vendor cuts them (src/generate_patches.py).

Pure functions over arrays: a face box (the vendor's integer x, y, w, h) becomes an inclusive crop
box around it, scaled by the model's factor about its centre (the factor first reduced so the crop
fits the image) and shifted back inside the image; that region of the BGR image, resized bilinearly
to 80 x 80, as 0-255 floats, channels first. Given the reference's box, the crop boxes are equal.
"""

from __future__ import annotations

import cv2
import numpy as np

from facerec.types import Face

Box = tuple[int, int, int, int]


def vendor_box(face: Face) -> Box:
    """A detected face as the vendor's detector reports one: integer (x, y, width, height), the
    way its reference outputs were made from facenet-pytorch boxes (x2 and y2 inclusive)."""
    x1, y1, x2, y2 = face.box
    return int(x1), int(y1), int(x2 - x1 + 1), int(y2 - y1 + 1)


def crop_box(width: int, height: int, box: Box, scale: float) -> Box:
    """(left, top, right, bottom), inclusive, of the region one network sees in a ``width`` x
    ``height`` image. Float arithmetic and truncation as the vendor's, so the pixels are the same."""
    x, y, w, h = box
    scale = min((height - 1) / h, (width - 1) / w, scale)
    new_w, new_h = w * scale, h * scale
    centre_x, centre_y = w / 2 + x, h / 2 + y
    left, top = centre_x - new_w / 2, centre_y - new_h / 2
    right, bottom = centre_x + new_w / 2, centre_y + new_h / 2
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > width - 1:
        left -= right - width + 1
        right = width - 1
    if bottom > height - 1:
        top -= bottom - height + 1
        bottom = height - 1
    return int(left), int(top), int(right), int(bottom)


def network_input(rgb: np.ndarray, box: Box, scale: float, size: int = 80) -> np.ndarray:
    """3 x size x size float32: the crop of ``rgb`` (H x W x 3 uint8) in BGR, as the vendor reads
    its images with OpenCV, bilinear resize, values 0-255."""
    left, top, right, bottom = crop_box(rgb.shape[1], rgb.shape[0], box, scale)
    # Each channel is resized on its own, so resizing first and reversing the channels of the
    # small result gives the same numbers as resizing the BGR image, at a fraction of the copying.
    resized = cv2.resize(rgb[top : bottom + 1, left : right + 1], (size, size), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32)
