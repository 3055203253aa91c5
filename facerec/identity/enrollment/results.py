"""Plain results of enrollment and identification, as the recognizer returns them, and what
enrollment accepts as photos (checked before anything else, so a wrong type fails at once)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TypeGuard

from facerec.identity.matching import Match
from facerec.images import image_paths
from facerec.types import Face, Liveness, xywh

Upload = tuple[str, bytes]  # (label, bytes): a photo that never was a file, e.g. an HTTP upload
EnrollmentImages = (
    str | os.PathLike | Upload | list[str | os.PathLike | Upload] | tuple[str | os.PathLike | Upload, ...]
)


def enrollment_images(images: EnrollmentImages) -> list[str | Upload]:
    """What enrolment accepts, as one flat list of paths and uploads: a folder (every file under
    it), a file, ``(label, bytes)``, or a list or tuple of those.

    Anything else is a TypeError: a string iterated by character, or raw bytes without a label,
    would otherwise reach enrolment as photos that all fail, and enrol nobody."""
    items: list | tuple
    if _is_path(images) or _is_upload(images):
        items = [images]
    elif isinstance(images, (list, tuple)):
        items = images
    else:
        raise TypeError(
            f"images must be a folder, a file, (label, bytes), or a list of those; not {type(images).__name__}"
        )
    found: list[str | Upload] = []
    for item in items:
        if _is_path(item):
            found.extend(image_paths([item]))
        elif _is_upload(item):
            found.append((item[0], bytes(item[1])))
        else:
            raise TypeError(
                f"each image must be a path (str or Path) or (label, bytes); not {type(item).__name__}"
                + (" (give raw bytes a label: (label, bytes))" if isinstance(item, (bytes, bytearray)) else "")
            )
    return found


def _is_path(item: object) -> TypeGuard[str | os.PathLike]:
    return isinstance(item, (str, os.PathLike))


def _is_upload(item: object) -> TypeGuard[tuple[str, bytes | bytearray]]:
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], (bytes, bytearray))
    )


@dataclass(frozen=True)
class Skipped:
    file: str
    reason: str


@dataclass
class EnrollReport:
    name: str
    added: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    samples: int = 0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "added": self.added,
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "samples": self.samples,
        }


@dataclass(frozen=True)
class Identified:
    """One face of a photo and who it is (``match.name`` is None for unknown); ``liveness`` when
    it was checked."""

    face: Face
    match: Match
    liveness: Liveness | None = None

    def to_dict(self) -> dict:
        return {
            "box": xywh(self.face.box),
            "confidence": self.face.confidence,
            "name": self.match.name,
            "similarity": self.match.similarity,
            "threshold": self.match.threshold,
            "margin": self.match.margin,
            "candidates": [{"name": c.name, "similarity": c.similarity} for c in self.match.candidates],
        } | (self.liveness.to_dict() if self.liveness else {})
