"""Attendance: frames in, check-ins out. Joins recognition, confirmation and the attendance log.

``Attendance.process(pixels, moment)`` identifies the faces of one frame, feeds each name (or,
for unknown faces, a short-lived track of similar embeddings) to :class:`facerec.attendance.presence.Presence`,
and writes to the log only what confirmation allows: a check-in (new event), an update (a new
visit folded into the person's event within the dedupe window), an unknown sighting (opt-in).

With ``liveness``, only live faces count towards a check-in: a person is checked in once seen live
in K frames within T, as recognition is confirmed, so one borderline frame neither lets a print
through nor keeps a real person out. Faces called prints or screens are confirmed the same way,
apart, and recorded as a spoof event (with the person they were recognised as, if anyone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from facerec.attendance.presence import ConfirmRule, Presence
from facerec.identity.enrollment import Identified
from facerec.recognizer import FaceRecognizer, check_threshold, png
from facerec.store.attendance_log import AttendanceLog

UNKNOWN_TRACK_SIMILARITY = 0.5  # two unknown faces this alike, close in time, are one stranger


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

    def to_dict(self) -> dict:
        x1, y1, x2, y2 = self.box or (0.0, 0.0, 0.0, 0.0)
        return {
            "event": self.event,
            "name": self.name,
            "person_id": self.person_id,
            "source": self.source,
            "time": self.time.isoformat(),
            "similarity": round(self.similarity, 4),
            "event_id": self.event_id,
            "box": [x1, y1, x2 - x1, y2 - y1] if self.box else None,
        }


@dataclass
class _UnknownTrack:
    vector: np.ndarray
    last: datetime
    sighting_id: int | None = None


class Attendance:
    """Attendance at one source (a camera, a video, a door's check-in terminal)."""

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
    ) -> None:
        self.recognizer = recognizer
        # None: the recognizer's operating point, the same as identify's (a check-in is a name given)
        self.threshold = None if threshold is None else check_threshold(threshold)
        self.log = AttendanceLog(recognizer.store)
        self.source = source
        self.rule = rule
        settings = self.log.settings()
        self.dedupe = dedupe if dedupe is not None else timedelta(seconds=settings["dedupe_seconds"])
        self.keep_unknowns = keep_unknowns
        self.liveness = settings["liveness"] if liveness is None else liveness  # None: the store's setting
        self.presence = Presence(rule)
        self._open: dict[str, int] = {}  # name -> event id of the current visit
        self._unknowns: list[_UnknownTrack] = []
        self._spoofs: list[_UnknownTrack] = []  # attacks no enrolled person matched, by likeness
        self._spoofed: dict[str, int] = {}  # claimed name -> spoof event id of the current run
        self.log.apply_retention(settings)

    def process(self, pixels: np.ndarray, moment: datetime) -> list[AttendanceEvent]:
        """One frame taken at ``moment`` (aware): the events it caused."""
        identified = self.recognizer.identify(pixels, threshold=self.threshold, liveness=self.liveness)
        events: list[AttendanceEvent] = []
        for item in identified:
            if item.liveness is not None and not item.liveness.live:
                event = self._spoof(item, pixels, moment)
            elif item.match.name is not None:
                event = self._known(item, pixels, moment)
            elif self.keep_unknowns:
                event = self._unknown(item, pixels, moment)
            else:
                event = None
            if event:
                events.append(event)
        return events

    def _snapshot(self, pixels: np.ndarray, item: Identified) -> bytes:
        return png(self.recognizer.embedder.crops(pixels, [item.face])[0])

    def _known(self, item: Identified, pixels: np.ndarray, moment: datetime) -> AttendanceEvent | None:
        name, similarity = item.match.name, item.match.similarity
        seen = self.presence.observe(name, moment)
        if seen.state == "pending":
            return None
        if seen.state == "in_view" and name in self._open:
            self.log.extend(self._open[name], moment, similarity, self._snapshot(pixels, item))
            return None
        record, new = self.log.record(
            name, self.source, seen.first, moment, similarity, self._snapshot(pixels, item), seen.count, self.dedupe
        )
        self._open[name] = record.id
        kind = "check_in" if new else "update"
        return AttendanceEvent(kind, name, record.person_id, self.source, moment, similarity, record.id, item.face.box)

    def _track(self, tracks: list[_UnknownTrack], vector: np.ndarray, moment: datetime) -> _UnknownTrack:
        """The track of recent faces this one is like (a new one if none), kept up to date."""
        tracks[:] = [t for t in tracks if moment - t.last <= self.dedupe]
        track = max(tracks, key=lambda t: float(t.vector @ vector), default=None)
        if track is None or float(track.vector @ vector) < UNKNOWN_TRACK_SIMILARITY:
            track = _UnknownTrack(vector, moment)
            tracks.append(track)
        track.last = moment
        return track

    def _spoof(self, item: Identified, pixels: np.ndarray, moment: datetime) -> AttendanceEvent | None:
        """A face called a print or a screen: never a check-in; a confirmed run is a spoof event."""
        claimed, score = item.match.name, item.liveness.score
        track = None if claimed else self._track(self._spoofs, item.face.embedding, moment)
        key = ("spoof", claimed) if claimed else ("spoof", id(track))
        seen = self.presence.observe(key, moment)
        if seen.state == "pending":
            return None
        known = self._spoofed.get(claimed) if claimed else track.sighting_id
        if seen.state == "in_view" and known is not None:
            self.log.extend_spoof(known, moment, score)
            return None
        snapshot = self._snapshot(pixels, item)
        similarity = item.match.similarity
        record = self.log.add_spoof(self.source, seen.first, moment, claimed, similarity, score, snapshot, seen.count)
        if claimed:
            self._spoofed[claimed] = record.id
        else:
            track.sighting_id = record.id
        return AttendanceEvent("spoof", record.claimed, None, self.source, moment, similarity, record.id, item.face.box)

    def _unknown(self, item: Identified, pixels: np.ndarray, moment: datetime) -> AttendanceEvent | None:
        vector = item.face.embedding
        track = self._track(self._unknowns, vector, moment)
        seen = self.presence.observe(("unknown", id(track)), moment)
        if seen.state == "pending":
            return None
        if track.sighting_id is not None:
            self.log.extend_unknown(track.sighting_id, moment)
            return None
        embedder = self.recognizer.embedder
        record = self.log.add_unknown(
            self.source,
            seen.first,
            moment,
            item.match.similarity,
            embedder.model,
            embedder.centre_id,
            vector,
            embedder.provenance,
            self._snapshot(pixels, item),
            seen.count,
        )
        track.sighting_id = record.id
        return AttendanceEvent(
            "unknown", None, None, self.source, moment, item.match.similarity, record.id, item.face.box
        )
