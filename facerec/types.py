"""Plain data that crosses module borders: one face as found in one image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

Point = tuple[float, float]
Landmarks = tuple[Point, Point, Point, Point, Point]  # in LANDMARK_NAMES order


def xywh(box: Sequence[float]) -> list[float]:
    """A box as every output gives it (JSON, text, HTTP, events, export files): [x, y, width,
    height] in pixels of the EXIF-rotated image. Inside, boxes are corners (x1, y1, x2, y2), the
    form the box maths wants; this is the one place they turn into the published form."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return [x1, y1, x2 - x1, y2 - y1]


def corners(box: Sequence[float]) -> list[float]:
    """The inverse of :func:`xywh`: a published [x, y, width, height] back to (x1, y1, x2, y2)."""
    x, y, width, height = (float(v) for v in box[:4])
    return [x, y, x + width, y + height]


# Record ids (samples, events, sightings) are 64-bit: a larger number names no record (and would
# overflow the database drivers), so interfaces refuse it as a bad value.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Face:
    """A detected face.

    ``box`` is (x1, y1, x2, y2) in pixels of the (EXIF-rotated) image, not clipped: a face at the
    edge extends past it. ``landmarks`` are five (x, y) points in ``LANDMARK_NAMES`` order, "left"
    and "right" as seen in the image (as MTCNN and ipazc/mtcnn name them).
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: Landmarks
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    def with_embedding(self, embedding: np.ndarray) -> Face:
        return replace(self, embedding=embedding)

    @classmethod
    def from_arrays(cls, box: np.ndarray, confidence: float, landmarks: np.ndarray) -> Face:
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        points = cast(Landmarks, tuple((float(x), float(y)) for x, y in landmarks))  # a detector's five
        return cls(box=(x1, y1, x2, y2), confidence=float(confidence), landmarks=points)

    def scaled(self, fx: float, fy: float) -> Face:
        """The same face in an image ``fx`` times wider and ``fy`` times taller."""
        x1, y1, x2, y2 = self.box
        points = cast(Landmarks, tuple((x * fx, y * fy) for x, y in self.landmarks))
        return replace(self, box=(x1 * fx, y1 * fy, x2 * fx, y2 * fy), landmarks=points)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict:
        """The ipazc/mtcnn result shape: box as [x, y, width, height], named keypoints."""
        return {
            "box": xywh(self.box),
            "confidence": self.confidence,
            "keypoints": {name: [x, y] for name, (x, y) in zip(LANDMARK_NAMES, self.landmarks, strict=True)},
        }


@dataclass(frozen=True)
class Verification:
    """Whether two faces are the same person, by cosine similarity against the model's threshold."""

    same: bool
    similarity: float
    threshold: float
    model: str
    first: Face
    second: Face

    def to_dict(self) -> dict:
        return {
            "same": self.same,
            "similarity": self.similarity,
            "threshold": self.threshold,
            "model": self.model,
            "faces": [self.first.to_dict(), self.second.to_dict()],
        }


@dataclass(frozen=True)
class Liveness:
    """Whether a face is a real one in front of the camera (not a print or a screen), and the
    mean real-face probability of the liveness networks that decided it."""

    live: bool
    score: float

    def to_dict(self) -> dict:
        return {"live": self.live, "score": self.score}


def counted(count: int, noun: str) -> str:
    """``1 sample``, ``2 samples``: how every message counts (a regular plural is all it needs)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
