"""Plain data that crosses module borders: one face as found in one image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """A detected face.

    ``box`` is (x1, y1, x2, y2) in pixels of the (EXIF-rotated) image, not clipped: a face at the
    edge extends past it. ``landmarks`` are five (x, y) points in ``LANDMARK_NAMES`` order, "left"
    and "right" as seen in the image (as MTCNN and ipazc/mtcnn name them).
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: tuple[Point, Point, Point, Point, Point]

    @classmethod
    def from_arrays(cls, box: np.ndarray, confidence: float, landmarks: np.ndarray) -> Face:
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        points = tuple((float(x), float(y)) for x, y in landmarks)
        return cls(box=(x1, y1, x2, y2), confidence=float(confidence), landmarks=points)  # type: ignore[arg-type]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict:
        """The ipazc/mtcnn result shape: box as [x, y, width, height], named keypoints."""
        x1, y1 = self.box[0], self.box[1]
        return {
            "box": [x1, y1, self.width, self.height],
            "confidence": self.confidence,
            "keypoints": {name: [x, y] for name, (x, y) in zip(LANDMARK_NAMES, self.landmarks, strict=True)},
        }
