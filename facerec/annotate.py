"""Drawing detections onto a copy of an image, for people to look at."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facerec.types import Face

_BOX = (0, 200, 0)
_POINTS = ((255, 0, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255))


def draw_faces(image: np.ndarray, faces: Sequence[Face], labels: Sequence[str] | None = None) -> np.ndarray:
    """An RGB copy of ``image`` with each face's box, landmarks and optional label drawn."""
    canvas = np.ascontiguousarray(image.copy())
    thickness = max(1, round(min(canvas.shape[:2]) / 400))
    for i, face in enumerate(faces):
        x1, y1, x2, y2 = (round(v) for v in face.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _BOX, thickness)
        for (x, y), colour in zip(face.landmarks, _POINTS, strict=True):
            cv2.circle(canvas, (round(x), round(y)), thickness + 1, colour, -1)
        text = labels[i] if labels is not None else f"{face.confidence:.3f}"
        scale = max(0.4, thickness * 0.5)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(y1 - th - base - 2, 0)
        left = max(min(x1, canvas.shape[1] - tw - 2), 0)  # a label by the right edge stays readable
        cv2.rectangle(canvas, (left, top), (left + tw + 2, top + th + base + 2), _BOX, -1)
        cv2.putText(
            canvas,
            text,
            (left + 1, top + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
    return canvas


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB array with OpenCV (which expects BGR)."""
    if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
