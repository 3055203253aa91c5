"""Attendance: frames in, check-ins out. Joins face tracks, their identity and the attendance log.

A person at a door is a track, not a frame (see :mod:`facerec.attendance.following` and
:mod:`facerec.attendance.tracker`). ``Attendance.process(pixels, moment)`` follows the faces of
one frame and feeds each track's embedded faces to its :class:`~facerec.attendance.evidence.TrackEvidence`.
A track is decided once it holds K faces (``--confirm K/T``; T is how long a track may go unseen
before it ends), on the quality-weighted mean of its embeddings, at the same open-set operating
point as ``identify``; undecided tracks are decided again as better faces arrive, and a named
track is never renamed. What reaches the attendance log:

- a **check-in** (a new event) or an **update** (a new visit folded into the person's event
  within the dedupe window) when a track is named; the event carries the track's first and last
  time, its frames, the best similarity, and its best snapshot (sharpest, most frontal), kept up
  to date as the track goes on and when it ends;
- an **unknown sighting** (opt-in) when a track of K faces or more ends without a name: one per
  track, with its best crop and fused vector (a track of the same stranger close in time folds
  into the same sighting);
- a **spoof event** when, with liveness, the majority of a track's liveness verdicts call it a
  print or a screen: that track never checks anyone in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from facerec.attendance.evidence import EvidenceRule, TrackEvidence
from facerec.attendance.following import FaceFollower, FollowConfig, FrameTracks, Sighting
from facerec.attendance.presence import ConfirmRule
from facerec.attendance.tracker import TrackerConfig
from facerec.identity import erasure
from facerec.identity.calibration import check_threshold
from facerec.images import png
from facerec.recognizer import FaceRecognizer
from facerec.store.attendance_log import AttendanceLog
from facerec.store.spoofs import SpoofEvents
from facerec.store.unknowns import UnknownSightings
from facerec.types import xywh

UNKNOWN_TRACK_SIMILARITY = 0.5  # two unknown tracks this alike, close in time, are one stranger
WRITE_EVERY = timedelta(seconds=2)  # a named track's event is brought up to date this often


@dataclass(frozen=True)
class AttendanceEvent:
    """One line of ``facerec attend --json`` / one item of the HTTP check-in answer."""

    event: str  # "check_in" | "update" | "unknown" | "spoof"
    name: str | None
    person_id: int | None
    source: str
    time: datetime
    similarity: float
    event_id: int
    box: tuple[float, float, float, float] | None = None  # the face in the frame: x1, y1, x2, y2
    track: int | None = None  # the face track that caused it (per source and run)
    first_seen: datetime | None = None  # the track's first frame
    frames: int = 0  # the track's frames so far

    def to_dict(self) -> dict:
        return {
            "event": self.event,
            "name": self.name,
            "person_id": self.person_id,
            "source": self.source,
            "time": self.time.isoformat(),
            "similarity": round(self.similarity, 4),
            "event_id": self.event_id,
            "box": xywh(self.box) if self.box else None,
            "track": self.track,
            "first_seen": (self.first_seen or self.time).isoformat(),
            "frames": self.frames,
        }


@dataclass
class _Stranger:
    """An unknown sighting written in this run, which later tracks of the same face fold into."""

    vector: np.ndarray
    last: datetime
    sighting_id: int


@dataclass
class Summary:
    """What a run did, for the closing line of ``facerec attend``."""

    frames: int = 0
    detections: int = 0  # whole detections run
    tracks: int = 0
    events: dict[str, int] = field(default_factory=dict)


class Attendance:
    """Attendance at one source (a camera, a video, a door's check-in terminal, a kiosk session)."""

    def __init__(
        self,
        recognizer: FaceRecognizer,
        source: str,
        *,
        rule: ConfirmRule = ConfirmRule(),
        dedupe: timedelta | None = None,
        keep_unknowns: bool = False,
        threshold: float | None = None,
        liveness: bool | None = None,
        follow: FollowConfig | None = None,
    ) -> None:
        self.recognizer = recognizer
        # None: the recognizer's operating point, the same as identify's (a check-in is a name given)
        self.threshold = None if threshold is None else check_threshold(threshold)
        self.log = AttendanceLog(recognizer.store)
        self.unknowns = UnknownSightings(recognizer.store)
        self.spoofs = SpoofEvents(recognizer.store)
        self.source = source
        self.rule = rule
        settings = self.log.settings()
        self.dedupe = dedupe if dedupe is not None else timedelta(seconds=settings["dedupe_seconds"])
        self.keep_unknowns = keep_unknowns
        self.liveness = settings["liveness"] if liveness is None else liveness  # None: the store's setting
        self.evidence_rule = EvidenceRule(faces=rule.sightings, liveness_faces=min(3, rule.sightings))
        follow = follow or FollowConfig()
        self.follower = FaceFollower(
            recognizer,
            liveness=self.liveness,
            # a new track's first K faces are all embedded: the decision waits for K (as clips do)
            config=replace(follow, first_faces=max(follow.first_faces, rule.sightings)),
            tracker=TrackerConfig(max_gap=max(rule.window.total_seconds(), 0.0)),
        )
        self.summary = Summary()
        self._tracks: dict[int, TrackEvidence] = {}
        self._strangers: list[_Stranger] = []
        erasure.apply_retention(self.log.store, settings)

    def process(self, pixels: np.ndarray, moment: datetime) -> list[AttendanceEvent]:
        """One frame taken at ``moment`` (aware): the events it caused."""
        frame = self.follower.step(pixels, moment)
        self.summary.frames += 1
        self.summary.detections += frame.detected
        return self._apply(frame, moment)

    def finish(self) -> list[AttendanceEvent]:
        """The source ended (or the kiosk session did): every track ends and is written."""
        events = []
        for track in self.follower.finish():
            events += self._close(track.id)
        return self._counted(events)

    # --- tracks ------------------------------------------------------------------------------------

    def _apply(self, frame: FrameTracks, moment: datetime) -> list[AttendanceEvent]:
        events: list[AttendanceEvent] = []
        for track in frame.ended:
            events += self._close(track.id)
        for sighting in frame.sightings:
            evidence = self._tracks.get(sighting.track)
            if evidence is None:
                evidence = self._tracks[sighting.track] = TrackEvidence(sighting.track, moment, moment)
                self.summary.tracks += 1
            evidence.seen(moment)
            vector = sighting.face.embedding
            if vector is not None and not self._add(evidence, sighting, vector):
                events += self._close(sighting.track)  # two people: this half ends, the other starts anew
                self.follower.split(sighting.track)
                continue
            events += self._decide(evidence, sighting, moment)
        return self._counted(events)

    def _counted(self, events: list[AttendanceEvent]) -> list[AttendanceEvent]:
        for event in events:
            self.summary.events[event.event] = self.summary.events.get(event.event, 0) + 1
        return events

    def _add(self, evidence: TrackEvidence, sighting: Sighting, vector: np.ndarray) -> bool:
        if not evidence.add(vector, sighting.weight, self.evidence_rule):
            return False
        if evidence.held_back:
            return True
        evidence.keep_snapshot(sighting.crop, sighting.snapshot_score)
        evidence.usable = evidence.usable or sighting.enrollable(self.recognizer.quality_gate)
        if sighting.liveness is not None:
            evidence.liveness.append((sighting.liveness.live, sighting.liveness.score))
        evidence.changed = True
        return True

    def _decide(self, evidence: TrackEvidence, sighting: Sighting, moment: datetime) -> list[AttendanceEvent]:
        if evidence.spoof_id is not None:
            return []
        if evidence.name is not None:
            if evidence.written_at is None or moment - evidence.written_at >= WRITE_EVERY:
                self._write_visit(evidence, moment)
            return []
        if not evidence.ready(self.evidence_rule) or not evidence.changed:
            return []
        evidence.changed = False
        if self.liveness:
            live = evidence.live(self.evidence_rule)
            if live is None:
                return []
            if not live:
                return [self._spoof(evidence, sighting, moment)]
        match = self.recognizer.match_vectors(evidence.fused_vector()[None], threshold=self.threshold)[0]
        evidence.similarity = evidence.best_similarity = match.similarity
        if match.name is None:
            return []
        evidence.name = match.name
        record, new = self.log.record(
            match.name,
            self.source,
            evidence.first,
            evidence.last,
            match.similarity,
            png(evidence.snapshot),
            evidence.frames,
            self.dedupe,
        )
        evidence.event_id, evidence.written_at = record.id, moment
        evidence.written_frames, evidence.written_snapshot = evidence.frames, evidence.snapshot_score
        kind = "check_in" if new else "update"
        return [self._event(kind, evidence, record.person_id, match.similarity, sighting, moment)]

    def _event(
        self,
        kind: str,
        evidence: TrackEvidence,
        person_id: int | None,
        similarity: float,
        sighting: Sighting | None,
        moment: datetime,
        name: str | None = None,
    ) -> AttendanceEvent:
        return AttendanceEvent(
            kind,
            name if kind in ("spoof", "unknown") else evidence.name,
            person_id,
            self.source,
            moment,
            similarity,
            int(evidence.event_id or 0),
            sighting.face.box if sighting else None,
            evidence.track,
            evidence.first,
            evidence.frames,
        )

    def _write_visit(self, evidence: TrackEvidence, moment: datetime) -> None:
        """Bring a named track's event up to date: last seen, frames, its best snapshot."""
        if evidence.event_id is None:
            return
        fused = evidence.fused()
        match = self.recognizer.match_vectors(fused[None], threshold=self.threshold)[0] if fused is not None else None
        if match is not None and match.candidates and match.candidates[0].name == evidence.name:
            evidence.best_similarity = max(evidence.best_similarity, match.similarity)
        better = evidence.snapshot_score > evidence.written_snapshot
        self.log.update_visit(
            evidence.event_id,
            evidence.last,
            evidence.frames - evidence.written_frames,
            evidence.best_similarity,
            png(evidence.snapshot) if better else None,
        )
        evidence.written_at, evidence.written_frames = moment, evidence.frames
        evidence.written_snapshot = max(evidence.written_snapshot, evidence.snapshot_score)

    def _close(self, track_id: int) -> list[AttendanceEvent]:
        evidence = self._tracks.pop(track_id, None)
        if evidence is None:
            return []
        if evidence.spoof_id is not None:
            self.spoofs.extend(evidence.spoof_id, evidence.last, evidence.liveness_score())
            return []
        if evidence.name is not None:
            if evidence.frames > evidence.written_frames or evidence.snapshot_score > evidence.written_snapshot:
                self._write_visit(evidence, evidence.last)
            return []
        # An unknown sighting is kept for review, and ``assign`` enrols it: it needs K faces, one
        # of them good enough for enrolment (the back of a head, a face far off, are not kept).
        if not self.keep_unknowns or not evidence.ready(self.evidence_rule) or not evidence.usable:
            return []
        if self.liveness and evidence.live(self.evidence_rule) is False:
            return []
        return self._unknown(evidence)

    def _spoof(self, evidence: TrackEvidence, sighting: Sighting, moment: datetime) -> AttendanceEvent:
        """A track the liveness networks call a print or a screen: never a check-in, one spoof event
        (with the person it looks like, if anyone)."""
        match = self.recognizer.match_vectors(evidence.fused_vector()[None], threshold=self.threshold)[0]
        record = self.spoofs.add(
            self.source,
            evidence.first,
            evidence.last,
            match.name,
            match.similarity,
            evidence.liveness_score(),
            png(evidence.snapshot),
            evidence.frames,
        )
        evidence.spoof_id = evidence.event_id = record.id
        return self._event("spoof", evidence, None, match.similarity, sighting, moment, name=record.claimed)

    def _unknown(self, evidence: TrackEvidence) -> list[AttendanceEvent]:
        vector = evidence.fused_vector()
        self._strangers = [s for s in self._strangers if evidence.first - s.last <= self.dedupe]
        same = max(self._strangers, key=lambda s: float(s.vector @ vector), default=None)
        if same is not None and float(same.vector @ vector) >= UNKNOWN_TRACK_SIMILARITY:
            self.unknowns.extend(same.sighting_id, evidence.last)
            same.last = evidence.last
            return []
        embedder = self.recognizer.embedder
        record = self.unknowns.add(
            self.source,
            evidence.first,
            evidence.last,
            evidence.similarity,
            embedder.model,
            embedder.centre_id,
            vector,
            embedder.provenance,
            png(evidence.snapshot),
            evidence.frames,
        )
        self._strangers.append(_Stranger(vector, evidence.last, record.id))
        evidence.event_id = record.id
        return [self._event("unknown", evidence, None, evidence.similarity, None, evidence.last)]
