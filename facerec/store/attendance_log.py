"""The attendance log: events (who was where, first and last seen), their settings and retention.
Unknown sightings (facerec.store.unknowns) and spoof events (facerec.store.spoofs) are kept
beside them, and purged with them.

Writes here never bump the store revision: the faiss index covers face samples only, and a
check-in every few seconds must not make every server process reload it. Every call is one
transaction, so a stopped ``facerec attend`` leaves whole events behind, never half of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import cast

from sqlalchemy import delete, func, select
from sqlalchemy.engine import CursorResult

from facerec.errors import UnknownPersonError
from facerec.store import outbox
from facerec.store.models import AttendanceEvent, Person, SpoofEvent, UnknownSighting, aware, utc
from facerec.store.names import check_name
from facerec.store.repository import Store
from facerec.store.settings import Settings

DEFAULT_DEDUPE = timedelta(hours=8)
SETTING = "attendance"


@dataclass(frozen=True)
class EventRecord:
    id: int
    person: str
    person_id: int
    source: str
    first_seen: datetime
    last_seen: datetime
    best_similarity: float
    sightings: int

    def to_dict(self, zone: tzinfo = UTC) -> dict:
        return {
            "event_id": self.id,
            "name": self.person,
            "person_id": self.person_id,
            "source": self.source,
            "first_seen": self.first_seen.astimezone(zone).isoformat(),
            "last_seen": self.last_seen.astimezone(zone).isoformat(),
            "sightings": self.sightings,
            "best_similarity": round(self.best_similarity, 4),
        }


def _event(row: AttendanceEvent, person: str) -> EventRecord:
    return EventRecord(
        row.id,
        person,
        row.person_id,
        row.source,
        aware(row.first_seen),
        aware(row.last_seen),
        row.best_similarity,
        row.sightings,
    )


class AttendanceLog:
    """Attendance events in the identity store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- settings -------------------------------------------------------------------------------

    def settings(self) -> dict:
        """``dedupe_seconds``, ``retention_days`` (None: keep forever) and ``liveness`` (check-ins
        need a live face by default: attend and the HTTP check-in)."""
        stored = Settings(self.store).get(SETTING) or {}
        return {"dedupe_seconds": DEFAULT_DEDUPE.total_seconds(), "retention_days": None, "liveness": False} | stored

    def configure(self, **values) -> dict:
        settings = self.settings() | values
        Settings(self.store).put(SETTING, settings)
        return settings

    # --- events ---------------------------------------------------------------------------------

    def record(
        self,
        name: str,
        source: str,
        first_seen: datetime,
        last_seen: datetime,
        similarity: float,
        snapshot: bytes,
        sightings: int,
        dedupe: timedelta,
    ) -> tuple[EventRecord, bool]:
        """A confirmed presence: extends the person's latest event at this source if it was seen
        within ``dedupe`` of ``first_seen``, else opens a new one. Returns (event, new?)."""
        first_seen, last_seen = utc(first_seen), utc(last_seen)
        with self.store.transaction() as session:
            person = session.scalar(select(Person).where(Person.name == check_name(name)))
            if person is None:
                raise UnknownPersonError(f"no person named {name!r} is enrolled")
            row = session.scalar(
                select(AttendanceEvent)
                .where(AttendanceEvent.person_id == person.id, AttendanceEvent.source == source)
                .where(AttendanceEvent.last_seen >= first_seen - dedupe)
                .order_by(AttendanceEvent.last_seen.desc())
                .limit(1)
            )
            new = row is None
            if row is None:
                row = AttendanceEvent(
                    person_id=person.id,
                    source=source,
                    first_seen=first_seen,
                    last_seen=last_seen,
                    best_similarity=similarity,
                    sightings=sightings,
                )
                self.store.write_sealed(row, snapshot=snapshot)
                session.add(row)
            else:
                self._extend(row, last_seen, similarity, snapshot, sightings)
            session.flush()
            record = _event(row, person.name)
            groups = outbox.person_groups(session, person.id)
            outbox.emit(session, "checkin" if new else "checkin.updated", record.to_dict(), groups)
            return record, new

    def _extend(self, row, seen: datetime, similarity: float, snapshot: bytes, sightings: int) -> None:
        row.last_seen = max(aware(row.last_seen), seen)
        row.sightings += sightings
        if similarity > row.best_similarity:
            row.best_similarity = similarity
            self.store.write_sealed(row, snapshot=snapshot)

    def update_visit(
        self, event_id: int, seen: datetime, frames: int, similarity: float, snapshot: bytes | None
    ) -> None:
        """A checked-in face track went on: ``frames`` more, seen until ``seen``; ``snapshot``
        replaces the event's picture when given (the track found a better face), whatever its
        similarity."""
        seen = utc(seen)
        with self.store.transaction() as session:
            row = session.get(AttendanceEvent, event_id)
            if row is None:  # removed meanwhile (the person was deleted): nothing to bring up to date
                return
            row.last_seen = max(aware(row.last_seen), seen)
            row.sightings += max(frames, 0)
            if similarity == similarity and similarity > row.best_similarity:  # not NaN
                row.best_similarity = similarity
            if snapshot is not None:
                self.store.write_sealed(row, snapshot=snapshot)

    def last_seen(self) -> dict[str, str]:
        """Each person's latest sighting at any source (ISO 8601), for those ever seen."""
        with self.store.reading() as session:
            rows = session.execute(
                select(Person.name, func.max(AttendanceEvent.last_seen))
                .join(AttendanceEvent, AttendanceEvent.person_id == Person.id)
                .group_by(Person.name)
            )
            return {name: aware(moment).isoformat() for name, moment in rows}

    def last_event_id(self) -> int:
        with self.store.reading() as session:
            return session.scalar(select(func.max(AttendanceEvent.id))) or 0

    def events_after(self, event_id: int, limit: int = 100) -> list[EventRecord]:
        """Events opened after ``event_id`` (check-ins since), oldest first: the live feed."""
        with self.store.reading() as session:
            query = (
                select(AttendanceEvent, Person.name)
                .join(Person, Person.id == AttendanceEvent.person_id)
                .where(AttendanceEvent.id > int(event_id))
                .order_by(AttendanceEvent.id)
                .limit(limit)
            )
            return [_event(row, name) for row, name in session.execute(query)]

    def events(
        self, start: datetime | None = None, end: datetime | None = None, person: str | None = None
    ) -> list[EventRecord]:
        """Events that overlap [start, end) (of ``person`` only, if given), oldest first."""
        start = utc(start) if start else None
        end = utc(end) if end else None
        with self.store.reading() as session:
            query = select(AttendanceEvent, Person.name).join(Person, Person.id == AttendanceEvent.person_id)
            if person is not None:
                query = query.where(Person.name == person)
            if start is not None:
                query = query.where(AttendanceEvent.last_seen >= start)
            if end is not None:
                query = query.where(AttendanceEvent.first_seen < end)
            rows = session.execute(query.order_by(AttendanceEvent.first_seen, AttendanceEvent.id))
            return [_event(row, name) for row, name in rows]

    def snapshot(self, event_id: int) -> bytes:
        with self.store.reading() as session:
            row = session.get(AttendanceEvent, event_id)
            if row is None:
                raise UnknownPersonError(f"no attendance event with id {event_id}")
            return self.store.read_sealed(row, "snapshot")

    # --- retention --------------------------------------------------------------------------------

    def purge(self, older_than: timedelta, now: datetime | None = None) -> dict[str, int]:
        """Drop events, sightings and spoof events (with their snapshots) last seen before
        ``now - older_than``."""
        cutoff = utc(now or datetime.now(UTC)) - older_than
        with self.store.transaction() as session:
            counts = {
                what: cast(CursorResult, session.execute(delete(table).where(table.last_seen < cutoff))).rowcount
                for what, table in (
                    ("events", AttendanceEvent),
                    ("unknown_sightings", UnknownSighting),
                    ("spoof_events", SpoofEvent),
                )
            }
        return counts

    def apply_retention(self, settings: dict | None = None, now: datetime | None = None) -> dict[str, int]:
        """Purge attendance by its retention setting (``settings`` as :meth:`settings` returns them,
        if at hand). The templates' own retention goes with it in facerec.identity.erasure
        .apply_retention, which also rewrites the index files saved beside the store."""
        days = (settings or self.settings()).get("retention_days")
        return (
            self.purge(timedelta(days=days), now) if days else {"events": 0, "unknown_sightings": 0, "spoof_events": 0}
        )

    def counts(self) -> dict[str, int]:
        with self.store.reading() as session:
            return {
                "events": session.scalar(select(func.count(AttendanceEvent.id))) or 0,
                "unknown_sightings": session.scalar(select(func.count(UnknownSighting.id))) or 0,
                "spoof_events": session.scalar(select(func.count(SpoofEvent.id))) or 0,
            }
