"""Face crops for the embedding network: facenet-pytorch's margin crop, or 5-point similarity alignment.

Both give size x size RGB uint8 crops. The margin is counted in pixels of the output crop, as in
facenet-pytorch: margin M at size S scales the box so the detected face spans S - M pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from facerec.detection.mtcnn.boxes import MEAN_LANDMARKS_IN_BOX
from facerec.types import Face


def margin_box(
    box: Sequence[float], margin: float, size: int, width: int, height: int, clip: bool = True
) -> tuple[int, int, int, int]:
    """The pixel box to crop: the detection grown by the margin, clipped to the image (as
    facenet-pytorch does) unless ``clip`` is False."""
    x1, y1, x2, y2 = box
    grow_x = margin * (x2 - x1) / (size - margin)
    grow_y = margin * (y2 - y1) / (size - margin)
    left, top, right, bottom = x1 - grow_x / 2, y1 - grow_y / 2, x2 + grow_x / 2, y2 + grow_y / 2
    if clip:
        left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
    return int(left), int(top), int(right), int(bottom)


def margin_crop(
    image: np.ndarray, face: Face, size: int = 160, margin: float = 0.0, border: str = "clip"
) -> np.ndarray:
    """Crop box + margin and resize it to size x size (Pillow bilinear, as facenet-pytorch does).

    ``border="clip"`` cuts the box at the image edge, as facenet-pytorch does, which stretches a
    face near the edge when the crop is resized to a square; ``"pad"`` keeps the box and fills
    what lies outside the image with black, so the face keeps its shape (tight face crops, such
    as 150 px gallery photos, then embed like faces in larger photos).
    """
    left, top, right, bottom = margin_box(face.box, margin, size, image.shape[1], image.shape[0], clip=border == "clip")
    if right <= left or bottom <= top:
        return np.zeros((size, size, 3), np.uint8)
    # Only the box goes to Pillow, cut out here as Pillow's crop would cut it (black outside the
    # image): a whole photo made into an Image is a copy of all of it for each face.
    height, width = image.shape[:2]
    y0, x0 = min(max(top, 0), height), min(max(left, 0), width)
    y1, x1 = max(min(bottom, height), y0), max(min(right, width), x0)
    crop = np.zeros((bottom - top, right - left, 3), np.uint8)
    crop[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def template(size: int = 160, margin: float = 0.0) -> np.ndarray:
    """Target landmark positions (5 x 2) in a size x size crop with the given margin."""
    return margin / 2 + MEAN_LANDMARKS_IN_BOX * (size - margin)


def similarity_align(image: np.ndarray, face: Face, size: int = 160, margin: float = 0.0) -> np.ndarray:
    """Rotate, scale and shift the face so its landmarks best fit :func:`template` (least squares)."""
    source = np.asarray(face.landmarks, dtype=np.float64)
    matrix, _ = cv2.estimateAffinePartial2D(source, template(size, margin), method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks (all on one point): fall back to the plain crop
        return margin_crop(image, face, size, margin)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
