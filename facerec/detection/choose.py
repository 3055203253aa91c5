"""Which face of an image to use when a task needs exactly one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from facerec.detection.mtcnn.boxes import MEAN_LANDMARKS_IN_BOX
from facerec.errors import MultipleFacesError, NoFaceError
from facerec.types import Face, Landmarks

# Detections below this confidence are not counted as faces where one face is required: MTCNN's
# last stage keeps candidates from 0.7 up, and those between 0.7 and 0.9 are mostly background.
FACE_CONFIDENCE = 0.9

# Where the face of an LFW-style, face-centred photo usually is (the median MTCNN box over
# lfw_fold1, as fractions of width and height); used when the detector misses the face.
CENTRE_BOX = (0.316, 0.26, 0.682, 0.753)


def confident(faces: Sequence[Face], minimum: float = FACE_CONFIDENCE) -> list[Face]:
    return [face for face in faces if face.confidence >= minimum]


def only_face(faces: Sequence[Face], name: str, largest: bool = False) -> Face:
    """The one confident face of an image; with ``largest``, the largest of several."""
    found = confident(faces)
    if not found:
        raise NoFaceError(f"{name}: no face found")
    if len(found) > 1 and not largest:
        raise MultipleFacesError(f"{name}: {len(found)} faces found; use --largest to take the largest")
    return max(found, key=lambda face: face.area)


def centre_weighted(faces: Sequence[Face], width: int, height: int, weight: float = 2.0) -> Face | None:
    """The face with the largest area less ``weight`` x its squared distance from the centre."""

    def score(face: Face) -> float:
        x1, y1, x2, y2 = face.box
        dx, dy = (x1 + x2) / 2 - width / 2, (y1 + y2) / 2 - height / 2
        return face.area - weight * (dx * dx + dy * dy)

    return max(faces, key=score, default=None)


def centre_face(width: int, height: int) -> Face:
    """A stand-in face where the detector found none: the usual face region of a centred photo."""
    x1, y1, x2, y2 = CENTRE_BOX
    box = (x1 * width, y1 * height, x2 * width, y2 * height)
    bw, bh = box[2] - box[0], box[3] - box[1]
    points = cast(Landmarks, tuple((box[0] + fx * bw, box[1] + fy * bh) for fx, fy in MEAN_LANDMARKS_IN_BOX))
    return Face(box=box, confidence=0.0, landmarks=points)
