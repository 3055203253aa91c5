"""Face tracks: which face of this frame is which face of the frames before, in pure logic.

A door camera sees a person as a run of frames; the attendance decision belongs to that run (a
*track*), not to any single frame. This module only associates boxes over time; what a track
holds (its identity evidence) lives in :mod:`facerec.attendance.evidence`.

The design follows SORT, ByteTrack and OC-SORT, adapted to faces at a door:

- **Motion**: each track carries a constant-velocity Kalman filter over the box centre and size
  (SORT), with time steps in seconds rather than frames, so a source processed at 5 or 25 frames
  a second, or one that skipped frames while the recogniser was busy, predicts the same.
- **Two passes** (ByteTrack): confident detections are matched first to every live track, by
  IoU with the predicted box, blended with appearance (cosine of face embeddings) where both
  sides have one; the less confident detections (a face turning away, blurred, half occluded)
  then get a second chance with the tracks left over, by IoU alone. Only confident detections
  start tracks, so a false detection rarely becomes one.
- **Appearance gate**: a detection whose embedding is clearly another person's (cosine below
  ``appearance_floor``) never joins a track, whatever the boxes say: two people crossing keep
  their tracks. A track lost for a while may be found again farther than IoU would allow when
  its appearance matches well (after an occlusion, a person rarely stands still).
- **Re-found tracks** (OC-SORT's observation-centric re-update): a track matched again after a
  gap takes its velocity from its last observation and the new one, not from the filter's
  drift through the gap, which would overshoot.
- **Lifetime**: a track not matched for ``max_gap`` seconds ends; a shot change (see
  :mod:`facerec.attendance.shots`) ends every track at once.

The assignment itself is scipy's ``linear_sum_assignment`` (Hungarian/LAPJV), not our own solver.
Kalman filtering is a few matrix products here (filterpy, unmaintained since 2018, would add a
dependency for them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy.optimize import linear_sum_assignment

Box = tuple[float, float, float, float]  # x1, y1, x2, y2

FORBIDDEN = 1e6  # cost of a pair that must not be matched


@dataclass(frozen=True)
class Detection:
    """One face found in a frame, as the tracker needs it; ``embedding`` (unit length) when computed."""

    box: Box
    confidence: float
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TrackerConfig:
    """Association settings. Defaults measured on doorway_1080p.mp4 and the synthetic test videos."""

    high: float = 0.9  # detections at least this confident go in the first pass and may start tracks
    low: float = 0.5  # less confident than this: ignored
    first_iou: float = 0.2  # least IoU with the predicted box for a first-pass match
    second_iou: float = 0.4  # the same in the second pass (IoU alone, so stricter)
    appearance_weight: float = 0.5  # share of appearance in the cost where both sides have a vector
    appearance_floor: float = 0.25  # a detection less like a track than this never joins it
    reacquire_similarity: float = 0.6  # like a lost track this much: may match beyond IoU ...
    reacquire_distance: float = 2.5  # ... within this many box widths of its prediction
    max_gap: float = 2.0  # seconds a track may go unseen before it ends (the T of --confirm K/T)
    # a track's appearance: this much of the old, the rest new. 0.5: what the doorway video was tuned
    # on, when every embedded face was (by mistake) folded in twice at 0.7 (0.7 x 0.7 ~ 0.5).
    appearance_momentum: float = 0.5


class BoxFilter:
    """Constant-velocity Kalman filter over (cx, cy, w, h) and their rates, in pixels and seconds."""

    def __init__(self, box: Box) -> None:
        self.x = np.zeros(8)
        self.x[:4] = _centre_size(box)
        size = max(self.x[2], self.x[3], 1.0)
        # Position known to a tenth of the face; velocity unknown (a face crosses a frame in ~1 s).
        self.P = np.diag([(0.1 * size) ** 2] * 4 + [(2.0 * size) ** 2] * 4)

    def predicted(self, dt: float) -> np.ndarray:
        """The state ``dt`` seconds on, without committing to it."""
        x = self.x.copy()
        x[:4] += dt * x[4:]
        x[2:4] = np.maximum(x[2:4], 1.0)
        return x

    def predict(self, dt: float) -> None:
        if dt <= 0:
            return
        F = np.eye(8)
        F[:4, 4:] = dt * np.eye(4)
        size = max(self.x[2], self.x[3], 1.0)
        # Acceleration noise: a face may change speed by about its own size per second squared.
        q = (0.5 * size) ** 2
        G = np.vstack([0.5 * dt**2 * np.eye(4), dt * np.eye(4)])
        self.x = F @ self.x
        self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        self.P = F @ self.P @ F.T + q * (G @ G.T)

    def update(self, box: Box) -> None:
        z = np.asarray(_centre_size(box))
        size = max(z[2], z[3], 1.0)
        R = np.eye(4) * (0.05 * size) ** 2  # a detector's box wobbles by ~5% of the face
        H = np.hstack([np.eye(4), np.zeros((4, 4))])
        S = H @ self.P @ H.T + R
        K = self.P @ H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - H @ self.x)
        self.P = (np.eye(8) - K @ H) @ self.P

    def restart_velocity(self, old: Box, new: Box, dt: float) -> None:
        """OC-SORT's re-update: after a gap, the velocity is the observations' (old -> new)."""
        if dt > 0:
            self.x[4:] = (np.asarray(_centre_size(new)) - np.asarray(_centre_size(old))) / dt
        self.x[:4] = _centre_size(new)

    @property
    def box(self) -> Box:
        return _box(self.x)


@dataclass
class Track:
    """A run of detections taken to be one face. ``box`` is the last one observed."""

    id: int
    filter: BoxFilter
    box: Box
    first: datetime
    last: datetime  # last observed
    predicted_at: datetime
    hits: int = 1
    confidence: float = 0.0
    appearance: np.ndarray | None = field(default=None, repr=False)  # unit vector, a moving mean

    def predicted_box(self, moment: datetime) -> Box:
        return _box(self.filter.predicted((moment - self.predicted_at).total_seconds()))


@dataclass(frozen=True)
class Step:
    """What one frame did: ``matches`` pairs (track id, detection index) for every detection that
    belongs to a track now (new tracks included), ``started`` the new tracks' ids, ``ended``
    the tracks that ended at this frame (gone too long)."""

    matches: list[tuple[int, int]]
    started: list[int]
    ended: list[Track]


class FaceTracker:
    """Associates each frame's detections with live tracks (see the module's docstring)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def predicted(self, moment: datetime) -> dict[int, Box]:
        """Where each live track's face should be at ``moment``: the boxes to look in."""
        return {tid: track.predicted_box(moment) for tid, track in self.tracks.items()}

    def update(
        self,
        detections: list[Detection],
        moment: datetime,
        embed: Callable[[list[int], list[tuple[int, int]]], dict[int, np.ndarray]] | None = None,
    ) -> Step:
        """Match one frame's detections (taken at ``moment``) to the tracks; start and end tracks.

        Appearance costs an embedding, so it is asked for only where it decides something:
        ``embed(unmatched, matched)`` is called once, after the motion passes, with the confident
        detections no track took (new faces, or lost tracks' faces found again) and the pairs
        matched so far; it returns the embeddings it computed, by detection index (it may embed
        matched faces too, in the same batch). The unmatched ones are then offered to the tracks
        still unmatched, by appearance near their prediction, before they start new tracks."""
        cfg = self.config
        for track in self.tracks.values():
            track.filter.predict((moment - track.predicted_at).total_seconds())
            track.predicted_at = moment
        usable = [i for i, d in enumerate(detections) if d.confidence >= cfg.low]
        high = [i for i in usable if detections[i].confidence >= cfg.high]
        low = [i for i in usable if detections[i].confidence < cfg.high]
        live = list(self.tracks)
        matches = self._assign(live, high, detections, moment, first=True)
        left = [tid for tid in live if tid not in {t for t, _ in matches}]
        matches += self._assign(left, low, detections, moment, first=False)
        taken = {index for _, index in matches}
        unmatched = [i for i in high if i not in taken]
        if embed is not None:
            vectors = embed(unmatched, list(matches))
            detections = [
                Detection(d.box, d.confidence, vectors[i]) if i in vectors and d.embedding is None else d
                for i, d in enumerate(detections)
            ]
            left = [tid for tid in live if tid not in {t for t, _ in matches}]
            found = self._assign(left, unmatched, detections, moment, first=True)
            matches += found
            unmatched = [i for i in unmatched if i not in {index for _, index in found}]
        for tid, index in matches:
            self._observe(self.tracks[tid], detections[index], moment)
        started = []
        for index in unmatched:
            track = self._start(detections[index], moment)
            started.append(track.id)
            matches.append((track.id, index))
        ended = [t for t in self.tracks.values() if (moment - t.last).total_seconds() > cfg.max_gap]
        for track in ended:
            del self.tracks[track.id]
        return Step(matches, started, ended)

    def cut(self) -> list[Track]:
        """A shot change: every track ends (the faces after a cut are not the faces before)."""
        ended = list(self.tracks.values())
        self.tracks.clear()
        return ended

    def forget(self, track_id: int) -> Track | None:
        """End one track now (its evidence says it holds two people: see Attendance)."""
        return self.tracks.pop(track_id, None)

    # --- association -----------------------------------------------------------------------------

    def _assign(
        self, track_ids: list[int], indexes: list[int], detections: list[Detection], moment: datetime, first: bool
    ) -> list[tuple[int, int]]:
        if not track_ids or not indexes:
            return []
        cost = np.array(
            [[self._cost(self.tracks[t], detections[i], moment, first) for i in indexes] for t in track_ids]
        )
        rows, cols = linear_sum_assignment(cost)
        return [(track_ids[r], indexes[c]) for r, c in zip(rows, cols, strict=True) if cost[r, c] < FORBIDDEN]

    def _cost(self, track: Track, detection: Detection, moment: datetime, first: bool) -> float:
        cfg = self.config
        predicted = track.filter.box
        overlap = iou(predicted, detection.box)
        similarity = None
        if track.appearance is not None and detection.embedding is not None:
            similarity = float(track.appearance @ detection.embedding)
            if similarity < cfg.appearance_floor:
                return FORBIDDEN
        if not first:
            return 1.0 - overlap if overlap >= cfg.second_iou else FORBIDDEN
        if overlap < cfg.first_iou:
            near = _distance_in_widths(predicted, detection.box) <= cfg.reacquire_distance
            if not (similarity is not None and similarity >= cfg.reacquire_similarity and near):
                return FORBIDDEN
        if similarity is None:
            return 1.0 - overlap
        w = cfg.appearance_weight
        return (1.0 - w) * (1.0 - overlap) + w * (1.0 - similarity)

    def _observe(self, track: Track, detection: Detection, moment: datetime) -> None:
        gap = (moment - track.last).total_seconds()
        if track.hits > 1 and gap > 1.5 * self._typical_step(track):
            track.filter.restart_velocity(track.box, detection.box, gap)
        else:
            track.filter.update(detection.box)
        track.box, track.last, track.confidence = detection.box, moment, detection.confidence
        track.hits += 1
        self.remember(track, detection.embedding)

    @staticmethod
    def _typical_step(track: Track) -> float:
        span = (track.last - track.first).total_seconds()
        return span / max(track.hits - 1, 1) if span > 0 else 0.04

    def remember(self, track: Track, embedding: np.ndarray | None) -> None:
        """Fold a face's embedding into the track's appearance (a moving mean, unit length)."""
        if embedding is None:
            return
        if track.appearance is None:
            track.appearance = np.asarray(embedding, np.float32)
            return
        m = self.config.appearance_momentum
        mixed = m * track.appearance + (1 - m) * np.asarray(embedding, np.float32)
        track.appearance = mixed / max(float(np.linalg.norm(mixed)), 1e-12)

    def _start(self, detection: Detection, moment: datetime) -> Track:
        track = Track(
            self._next_id,
            BoxFilter(detection.box),
            detection.box,
            moment,
            moment,
            moment,
            confidence=detection.confidence,
        )
        self.remember(track, detection.embedding)
        self._next_id += 1
        self.tracks[track.id] = track
        return track


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_size(box: Box) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)


def _box(state: np.ndarray) -> Box:
    cx, cy, w, h = (float(v) for v in state[:4])
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _distance_in_widths(a: Box, b: Box) -> float:
    (ax, ay, aw, _), (bx, by, _, _) = _centre_size(a), _centre_size(b)
    return float(np.hypot(ax - bx, ay - by)) / aw
