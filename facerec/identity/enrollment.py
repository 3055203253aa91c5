"""Plain results of enrolment and identification, as the recognizer returns them."""

from __future__ import annotations

from dataclasses import dataclass, field

from facerec.identity.matching import Match
from facerec.types import Face, Liveness


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
        x1, y1, x2, y2 = self.face.box
        return {
            "box": [x1, y1, x2 - x1, y2 - y1],
            "confidence": self.face.confidence,
            "name": self.match.name,
            "similarity": self.match.similarity,
            "threshold": self.match.threshold,
            "margin": self.match.margin,
            "candidates": [{"name": c.name, "similarity": c.similarity} for c in self.match.candidates],
        } | (self.liveness.to_dict() if self.liveness else {})
