"""What a face track has shown of who it is: its faces' embeddings, weighted by quality, fused.

A single frame can be wrong: a distant, blurred or turned face may score above the operating
point for somebody else (the TV family's mother, 47 px away, scored 0.55 for her son against an
operating point of 0.53). A track's identity is therefore decided on the quality-weighted mean
of its faces' embeddings, where a large, sharp, frontal face counts for far more than a small or
blurred one, and once decided it is never renamed: a later poor frame only adds a little weight
to a mean that already points at the right person. What could still go wrong is a track that
jumped from one person to another (a crossing the tracker got wrong): a face unlike the track's
own faces, twice in a row, splits it, and each half is decided on its own evidence.

Pure logic over vectors and numbers; the pictures (crops) ride along as opaque values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EvidenceRule:
    """``faces``: embedded faces a track needs before it is decided (the K of ``--confirm K/T``);
    a face less like the track's fused vector than ``split_similarity``, ``split_after`` times in
    a row, means the track holds another person now; ``liveness_faces`` verdicts are averaged
    before a track is called live or not."""

    faces: int = 3
    split_similarity: float = 0.2
    split_after: int = 2
    liveness_faces: int = 3


def face_weight(size: float, sharpness: float, yaw: float, confidence: float) -> float:
    """How much one face counts towards its track's identity (0..1]. FaceNet's vectors degrade
    quickly below ~80 px, under a Laplacian variance of ~40 (LFW's photos sit above 20) and in
    profile; a face that is all three counts for about a hundredth of a good one."""
    size_term = min(1.0, size / 80.0) ** 2
    sharp_term = min(1.0, max(sharpness, 1.0) / 40.0)
    frontal_term = max(0.1, 1.0 - abs(yaw) / 0.8)
    return max(size_term * sharp_term * frontal_term * confidence, 1e-4)


def snapshot_score(size: float, sharpness: float, yaw: float) -> float:
    """Which face of a track to keep as its picture: the sharpest, most frontal (size breaks ties)."""
    return min(1.0, sharpness / 100.0) * max(0.05, 1.0 - abs(yaw)) * min(1.0, size / 120.0) ** 0.5


@dataclass
class TrackEvidence:
    """Everything one track has shown so far, and what was decided from it."""

    track: int
    first: datetime
    last: datetime
    frames: int = 0
    vectors: list[np.ndarray] = field(default_factory=list, repr=False)
    weights: list[float] = field(default_factory=list)
    unlike: int = 0  # consecutive faces unlike the track
    snapshot: Any = field(default=None, repr=False)
    snapshot_score: float = -1.0
    usable: bool = False  # one of its faces passes enrolment's quality gate (see Attendance)
    liveness: list[tuple[bool, float]] = field(default_factory=list)  # (live, score) per checked face
    # decided
    name: str | None = None
    similarity: float = float("nan")  # the fused vector's, when decided (best so far afterwards)
    best_similarity: float = float("nan")
    event_id: int | None = None  # the attendance event, sighting or spoof event this track wrote
    spoof_id: int | None = None
    changed: bool = False  # evidence added since the last decision
    written_at: datetime | None = None  # when the track's event was last brought up to date
    written_frames: int = 0
    written_snapshot: float = -1.0

    def seen(self, moment: datetime) -> None:
        self.frames += 1
        self.last = max(self.last, moment)

    def fused(self) -> np.ndarray | None:
        """The quality-weighted mean of the track's embeddings, unit length."""
        if not self.vectors:
            return None
        mean = np.average(np.stack(self.vectors), axis=0, weights=np.asarray(self.weights))
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def fused_vector(self) -> np.ndarray:
        """fused() of a track known to hold faces: a ready one (a rule asks for one face at least)."""
        fused = self.fused()
        if fused is None:
            raise ValueError(f"track {self.track} holds no embedded face yet")
        return fused

    def add(self, vector: np.ndarray, weight: float, rule: EvidenceRule) -> bool:
        """One more embedded face. False when it shows that the track now holds someone else
        (the face is not added then: it starts the other half)."""
        fused = self.fused()
        if fused is not None and len(self.vectors) >= rule.faces - 1 and float(fused @ vector) < rule.split_similarity:
            self.unlike += 1  # one odd face is neither counted nor a split yet
            return self.unlike < rule.split_after
        self.unlike = 0
        self.vectors.append(np.asarray(vector, np.float32))
        self.weights.append(weight)
        return True

    @property
    def held_back(self) -> bool:
        """The last face offered was unlike the track and not added (maybe someone else): nothing
        of it (snapshot, liveness verdict, box) may count for the track until the next face."""
        return self.unlike > 0

    def keep_snapshot(self, picture: Any, score: float) -> bool:
        if score > self.snapshot_score:
            self.snapshot, self.snapshot_score = picture, score
            return True
        return False

    def ready(self, rule: EvidenceRule) -> bool:
        return len(self.vectors) >= rule.faces

    def live(self, rule: EvidenceRule) -> bool | None:
        """Live (True), an attack (False), or not yet known (None): the majority of several
        frames' verdicts, so that one frame neither lets a print through nor blocks a person."""
        if len(self.liveness) < rule.liveness_faces:
            return None
        return 2 * sum(live for live, _ in self.liveness) > len(self.liveness)

    def liveness_score(self) -> float:
        return float(np.mean([score for _, score in self.liveness])) if self.liveness else float("nan")
