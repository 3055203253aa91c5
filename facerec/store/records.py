"""Plain records the store hands out and takes in: no SQLAlchemy objects leave the store package."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class StoredSample:
    """A face sample to add: what enrolment computed for one photo."""

    embedding: np.ndarray = field(repr=False)
    model: str
    centre: str | None  # the centre subtracted before normalisation (facerec.embedding.space.centre_id)
    preprocessing: dict
    crop_png: bytes = field(repr=False)
    source_path: str
    source_sha256: str
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    confidence: float
    quality: dict


@dataclass(frozen=True)
class SampleRecord:
    id: int
    person: str
    model: str
    source_path: str
    source_sha256: str
    box: tuple[float, ...]
    confidence: float
    quality: dict
    created: datetime

    def to_dict(self) -> dict:
        """As `facerec show --json` and the HTTP API list a sample."""
        return {
            "id": self.id,
            "file": self.source_path,
            "model": self.model,
            "confidence": self.confidence,
            "quality": self.quality,
        }


@dataclass(frozen=True)
class PersonRecord:
    id: int
    name: str
    samples: int
    created: datetime
    updated: datetime
    external_id: str | None = None
    info: dict | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "samples": self.samples,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
        }
