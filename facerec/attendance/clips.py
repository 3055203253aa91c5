"""Videos as people: who is in a clip, track by track, and enrolment from a clip.

Both follow the clip's faces as attendance does (:class:`FaceFollower`), so a person walking
through is one answer, decided on the quality-weighted mean of their faces, not one per frame.

>>> from facerec import FaceRecognizer
>>> from facerec.attendance import clips, sources
>>> recognizer = FaceRecognizer()
>>> for person in clips.identify_video(recognizer, sources.frames("door.mp4", fps=25)):
...     print(person.name or "unknown", person.first, person.last, person.frames, person.similarity)
>>> picked = clips.enrolment_faces(recognizer, sources.frames("alice.mp4", fps=10))
>>> recognizer.enroll("alice", picked.images)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from facerec.attendance.clusters import cluster
from facerec.attendance.evidence import EvidenceRule, TrackEvidence
from facerec.attendance.following import FaceFollower, FollowConfig
from facerec.attendance.sources import Frame
from facerec.errors import FacerecError
from facerec.images import png
from facerec.recognizer import FaceRecognizer
from facerec.types import xywh

SAME_PERSON = 0.5  # two tracks of one clip this alike are one person (found again after a turn)
NEAR_DUPLICATE = 0.97  # enrolment: a face this like one already picked adds nothing


@dataclass(frozen=True)
class TrackAnswer:
    """Who one track of a video is: ``name`` (None: unknown) at ``similarity`` (its fused vector's
    best), seen from ``first`` to ``last`` in ``frames`` frames; ``box`` is its best face's."""

    track: int
    name: str | None
    similarity: float
    first: datetime
    last: datetime
    frames: int
    box: tuple[float, float, float, float]
    candidates: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict:
        return {
            "track": self.track,
            "name": self.name,
            "similarity": round(self.similarity, 4),
            "first_seen": self.first.isoformat(),
            "last_seen": self.last.isoformat(),
            "frames": self.frames,
            "box": xywh(self.box),
            "candidates": [{"name": n, "similarity": round(s, 4)} for n, s in self.candidates],
        }


@dataclass
class _Followed:
    evidence: TrackEvidence
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    faces: list[tuple[float, np.ndarray, np.ndarray, str, tuple]] = field(default_factory=list)
    # (weight, vector, region around the face as RGB, frame position, box)


def _follow(
    recognizer: FaceRecognizer, frames: Iterable[Frame], rule: EvidenceRule, keep_faces: bool
) -> list[_Followed]:
    """Every track of the frames (ended or not), in order of their first frame. For enrolment
    (``keep_faces``) a face is embedded every few frames: the variety of a clip is what it offers."""
    config = FollowConfig(first_faces=rule.faces, recheck_seconds=0.25 if keep_faces else 1.0)
    follower = FaceFollower(recognizer, config=config)
    tracks: dict[int, _Followed] = {}
    done: list[_Followed] = []
    for frame in frames:
        step = follower.step(frame.pixels, frame.time)
        done += [tracks.pop(t.id) for t in step.ended if t.id in tracks]
        for sighting in step.sightings:
            held = tracks.get(sighting.track)
            if held is None:
                held = tracks[sighting.track] = _Followed(TrackEvidence(sighting.track, frame.time, frame.time))
            held.evidence.seen(frame.time)
            if sighting.face.embedding is None:
                continue
            if not held.evidence.add(sighting.face.embedding, sighting.weight, rule):
                done.append(tracks.pop(sighting.track))
                follower.split(sighting.track)
                continue
            if held.evidence.held_back:
                continue
            if held.evidence.keep_snapshot(sighting.crop, sighting.snapshot_score):
                held.box = sighting.face.box
            if keep_faces and sighting.enrollable(recognizer.quality_gate):
                held.faces.append(
                    (
                        sighting.weight,
                        sighting.face.embedding,
                        _region(frame.pixels, sighting.face.box),
                        frame.position,
                        sighting.face.box,
                    )
                )
    done += tracks.values()
    return sorted(done, key=lambda t: (t.evidence.first, t.evidence.track))


def identify_video(
    recognizer: FaceRecognizer,
    frames: Iterable[Frame],
    *,
    threshold: float | None = None,
    top_k: int = 1,
    rule: EvidenceRule | None = None,
) -> list[TrackAnswer]:
    """One answer per face track of the frames (tracks of fewer than ``rule.faces`` embedded
    faces are left out: a face glimpsed for a frame or two is not a person's answer)."""
    rule = rule or EvidenceRule()
    answers = []
    for followed in _follow(recognizer, frames, rule, keep_faces=False):
        evidence = followed.evidence
        if not evidence.ready(rule):
            continue
        match = recognizer.match_vectors(evidence.fused_vector()[None], top_k=top_k, threshold=threshold)[0]
        answers.append(
            TrackAnswer(
                evidence.track,
                match.name,
                match.similarity,
                evidence.first,
                evidence.last,
                evidence.frames,
                followed.box,
                tuple((c.name, c.similarity) for c in match.candidates),
            )
        )
    return answers


@dataclass(frozen=True)
class EnrollmentFaces:
    """The faces of a clip chosen for enrolment: ``images`` as (label, PNG bytes) pairs that
    :meth:`FaceRecognizer.enroll` takes (each a region around one face), from ``tracks`` tracks
    of one person and ``considered`` faces that passed the quality gate."""

    images: list[tuple[str, bytes]]
    tracks: int
    considered: int


def enrollment_faces(
    recognizer: FaceRecognizer, frames: Iterable[Frame], *, count: int = 5, label: str = "clip"
) -> EnrollmentFaces:
    """The ``count`` best and most varied faces of the one person in the frames.

    Refused (FacerecError, with the reason) when the clip shows several people (tracks that are
    not alike) or no face good enough. Faces are taken greedily: the best weighted face first,
    then each time the face that adds most (its weight times its distance from those already
    taken), never a near-duplicate: five frames of one pose would teach the gallery one pose."""
    rule = EvidenceRule()
    followed = [t for t in _follow(recognizer, frames, rule, keep_faces=True) if t.faces and t.evidence.ready(rule)]
    if not followed:
        raise FacerecError(
            f"{label}: no face in the clip was good enough to enrol (seen in {rule.faces} frames or more, "
            f"{recognizer.quality_gate.min_face_px:.0f} px or larger, sharp, near frontal)"
        )
    # tracks grouped by likeness, single link at SAME_PERSON: one group per person
    people = int(cluster(np.stack([t.evidence.fused_vector() for t in followed]), SAME_PERSON, "single").max()) + 1
    if people > 1:
        raise FacerecError(
            f"{label}: {people} different people are in view: enrolment from a video needs one person "
            "alone in front of the camera"
        )
    faces = [face for t in followed for face in t.faces]
    chosen: list[int] = []
    while len(chosen) < min(count, len(faces)):
        best, score = None, 0.0
        for i, (weight, vector, *_rest) in enumerate(faces):
            if i in chosen:
                continue
            nearest = max((float(vector @ faces[j][1]) for j in chosen), default=0.0)
            if nearest >= NEAR_DUPLICATE:
                continue
            gain = weight * (1.0 - nearest) if chosen else weight
            if gain > score:
                best, score = i, gain
        if best is None:
            break
        chosen.append(best)
    images = [(f"{label}#{faces[i][3]}", png(faces[i][2])) for i in sorted(chosen, key=lambda i: faces[i][3])]
    return EnrollmentFaces(images, len(followed), len(faces))


def _region(pixels: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The face with as much again around it (enrolment detects it again, aligned, from this)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    top, left = max(int(y1 - h / 2), 0), max(int(x1 - w / 2), 0)
    bottom, right = min(int(y2 + h / 2), pixels.shape[0]), min(int(x2 + w / 2), pixels.shape[1])
    return np.ascontiguousarray(pixels[top:bottom, left:right])
