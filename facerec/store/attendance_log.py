"""The attendance log: events (who was where, first and last seen) and unknown sightings.

Writes here never bump the store revision: the faiss index covers face samples only, and a
check-in every few seconds must not make every server process reload it. Every call is one
transaction, so a stopped ``facerec attend`` leaves whole events behind, never half of one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import cast

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.engine import CursorResult

from facerec.errors import StoreError, UnknownPersonError
from facerec.store import audit, outbox
from facerec.store.models import AttendanceEvent, Person, SpoofEvent, UnknownSighting, aware
from facerec.store.names import check_name
from facerec.store.privacy import Privacy
from facerec.store.records import StoredSample
from facerec.store.repository import Store
from facerec.store.samples import Samples
from facerec.store.settings import Settings
from facerec.store.vectors import describe_kinds, held_kinds

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


@dataclass(frozen=True)
class SightingRecord:
    id: int
    source: str
    first_seen: datetime
    last_seen: datetime
    sightings: int
    best_similarity: float
    model: str
    centre: str | None
    embedding: np.ndarray = field(repr=False)
    preprocessing: dict = field(repr=False)
    snapshot: bytes = field(repr=False)

    def to_dict(self) -> dict:
        """As `facerec unknowns --json` and the HTTP API list a sighting (no embedding, no crop)."""
        return {
            "id": self.id,
            "source": self.source,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "sightings": self.sightings,
            "best_similarity": round(self.best_similarity, 4),
        }


@dataclass(frozen=True)
class SpoofRecord:
    id: int
    source: str
    first_seen: datetime
    last_seen: datetime
    sightings: int
    claimed: str | None  # the enrolled person it was recognised as
    similarity: float
    liveness_score: float

    def to_dict(self, zone: tzinfo = UTC) -> dict:
        """As `facerec report --format json` and the HTTP API list a spoof event (no snapshot)."""
        return {
            "event": "spoof",
            "spoof_id": self.id,
            "source": self.source,
            "first_seen": self.first_seen.astimezone(zone).isoformat(),
            "last_seen": self.last_seen.astimezone(zone).isoformat(),
            "sightings": self.sightings,
            "claimed": self.claimed,
            "similarity": round(self.similarity, 4),
            "liveness_score": round(self.liveness_score, 4),
        }


def _utc(moment: datetime) -> datetime:
    """Every time is stored in UTC: SQLite keeps no offset, so comparisons need one zone."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: attendance times need a time zone")
    return moment.astimezone(UTC)


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


def _spoof(row: SpoofEvent, claimed: str | None) -> SpoofRecord:
    return SpoofRecord(
        row.id,
        row.source,
        aware(row.first_seen),
        aware(row.last_seen),
        row.sightings,
        claimed,
        row.similarity,
        row.liveness_score,
    )


def _sighting(store: Store, row: UnknownSighting) -> SightingRecord:
    return SightingRecord(
        row.id,
        row.source,
        aware(row.first_seen),
        aware(row.last_seen),
        row.sightings,
        row.best_similarity,
        row.model,
        row.centre,
        np.frombuffer(store.read_sealed(row, "embedding"), dtype="<f4", count=row.dimension).copy(),
        dict(row.preprocessing),
        store.read_sealed(row, "snapshot"),
    )


class AttendanceLog:
    """Attendance events and unknown sightings in the identity store's database."""

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
        first_seen, last_seen = _utc(first_seen), _utc(last_seen)
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

    def extend(self, event_id: int, seen: datetime, similarity: float, snapshot: bytes) -> None:
        """One more sighting of a person already checked in."""
        seen = _utc(seen)
        with self.store.transaction() as session:
            row = session.get(AttendanceEvent, event_id)
            if row is not None:  # removed meanwhile (the person was deleted): nothing to extend
                self._extend(row, seen, similarity, snapshot, 1)

    def update_visit(
        self, event_id: int, seen: datetime, frames: int, similarity: float, snapshot: bytes | None
    ) -> None:
        """A checked-in face track went on: ``frames`` more, seen until ``seen``; ``snapshot``
        replaces the event's picture when given (the track found a better face), whatever its
        similarity."""
        seen = _utc(seen)
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

    def events(self, start: datetime | None = None, end: datetime | None = None) -> list[EventRecord]:
        """Events that overlap [start, end), oldest first."""
        start = _utc(start) if start else None
        end = _utc(end) if end else None
        with self.store.reading() as session:
            query = select(AttendanceEvent, Person.name).join(Person, Person.id == AttendanceEvent.person_id)
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

    # --- unknown sightings ------------------------------------------------------------------------

    def add_unknown(
        self,
        source: str,
        first_seen: datetime,
        last_seen: datetime,
        similarity: float,
        model: str,
        centre: str | None,
        embedding: np.ndarray,
        preprocessing: dict,
        snapshot: bytes,
        sightings: int,
    ) -> SightingRecord:
        vector = np.asarray(embedding, dtype="<f4")
        first_seen, last_seen = _utc(first_seen), _utc(last_seen)
        with self.store.transaction() as session:
            row = UnknownSighting(
                source=source,
                first_seen=first_seen,
                last_seen=last_seen,
                sightings=sightings,
                best_similarity=similarity,
                model=model,
                centre=centre,
                dimension=int(vector.shape[0]),
                preprocessing=preprocessing,
            )
            self.store.write_sealed(row, embedding=vector.tobytes(), snapshot=snapshot)
            session.add(row)
            session.flush()
            record = _sighting(self.store, row)
            outbox.emit(session, "unknown", record.to_dict())
            return record

    def extend_unknown(self, sighting_id: int, seen: datetime) -> None:
        seen = _utc(seen)
        with self.store.transaction() as session:
            row = session.get(UnknownSighting, sighting_id)
            if row is not None:
                row.last_seen, row.sightings = max(aware(row.last_seen), seen), row.sightings + 1

    def unknowns(self) -> list[SightingRecord]:
        with self.store.reading() as session:
            rows = session.scalars(select(UnknownSighting).order_by(UnknownSighting.first_seen, UnknownSighting.id))
            return [_sighting(self.store, row) for row in rows]

    def sighting_models(self) -> set[str]:
        with self.store.reading() as session:
            return set(session.scalars(select(UnknownSighting.model).distinct()))

    def snapshots(self, ids: Sequence[int]) -> list[tuple[int, bytes]]:
        """(sighting id, PNG crop) of the sightings listed."""
        with self.store.reading() as session:
            rows = session.execute(
                select(UnknownSighting)
                .where(UnknownSighting.id.in_([int(i) for i in ids]))
                .order_by(UnknownSighting.id)
            )
            return [(row.id, self.store.read_sealed(row, "snapshot")) for row in rows.scalars()]

    def sighting_vectors(self, model: str) -> tuple[np.ndarray, list[str | None], np.ndarray]:
        """(sighting ids, centres, vectors) of the unknown sightings of ``model`` (see Store.vectors)."""
        return Samples(self.store).vectors(model, UnknownSighting)

    def replace_sighting_embeddings(self, model: str, centre: str | None, vectors: dict[int, np.ndarray]) -> int:
        """Sightings' embeddings as another kind of vector (see Store.replace_embeddings), in one transaction."""
        with self.store.transaction() as session:
            for sighting_id, vector in vectors.items():
                row = session.get(UnknownSighting, sighting_id)
                if row is None:
                    continue  # purged meanwhile
                vector = np.asarray(vector, dtype="<f4")
                self.store.write_sealed(row, embedding=vector.tobytes())
                row.dimension, row.model, row.centre = len(vector), model, centre
                row.preprocessing = dict(row.preprocessing) | {"model": model, "centre": centre}
        return len(vectors)

    def unknown(self, sighting_id: int) -> SightingRecord:
        with self.store.reading() as session:
            row = session.get(UnknownSighting, sighting_id)
            if row is None:
                raise UnknownPersonError(f"no unknown sighting with id {sighting_id}")
            return _sighting(self.store, row)

    def assign(self, sighting_id: int, name: str) -> tuple[int, int]:
        """Enrol a sighting's face as a sample of ``name`` (created if new) and drop the sighting,
        in one transaction. Returns (person id, samples the person now holds). A sighting embedded
        with another model (or centre) than the store holds is refused: kinds of vector never mix."""
        with self.store.transaction() as session:
            person = self._assign_in(session, sighting_id, name)
            audit.write(session, "assign", person.name, sightings=[sighting_id])
            return person.id, person.samples

    def assign_all(self, sighting_ids: Sequence[int], name: str) -> int:
        """:meth:`assign` for several sightings (a cluster's), in one transaction: all or none.
        Returns the samples the person holds after."""
        with self.store.transaction() as session:
            ids = list(dict.fromkeys(int(i) for i in sighting_ids))
            for sighting_id in ids:
                person = self._assign_in(session, sighting_id, name)
            audit.write(session, "assign", person.name, sightings=ids)
            return person.samples

    def _assign_in(self, session, sighting_id: int, name: str):
        row = session.get(UnknownSighting, sighting_id)
        if row is None:
            raise UnknownPersonError(f"no unknown sighting with id {sighting_id}")
        sighting = _sighting(self.store, row)
        sample = StoredSample(
            embedding=sighting.embedding,
            model=sighting.model,
            centre=sighting.centre,
            preprocessing=sighting.preprocessing,
            crop_png=sighting.snapshot,
            source_path=f"unknown-sighting:{sighting.id}@{sighting.source}",
            source_sha256=hashlib.sha256(sighting.snapshot).hexdigest(),
            box=(0.0, 0.0, 0.0, 0.0),
            landmarks=((0.0, 0.0),) * 5,
            confidence=1.0,
            quality={},
        )
        held = held_kinds(session)
        kind = (sighting.model, sighting.centre)
        if held and kind not in held:
            raise StoreError(
                f"sighting {sighting_id} was embedded with {describe_kinds({kind})}; "
                f"the store holds {describe_kinds(held)}"
            )
        person, _added, _duplicates = Samples(self.store).add_in(session, name, [sample])
        session.execute(delete(UnknownSighting).where(UnknownSighting.id == sighting_id))
        return person

    # --- spoof events -------------------------------------------------------------------------------

    def add_spoof(
        self,
        source: str,
        first_seen: datetime,
        last_seen: datetime,
        claimed: str | None,
        similarity: float,
        liveness_score: float,
        snapshot: bytes,
        sightings: int,
    ) -> SpoofRecord:
        """A confirmed presentation attack at ``source``; ``claimed`` the enrolled person the face
        was recognised as (None: nobody). A claimed person removed meanwhile is recorded as None."""
        first_seen, last_seen = _utc(first_seen), _utc(last_seen)
        with self.store.transaction() as session:
            person = session.scalar(select(Person).where(Person.name == check_name(claimed))) if claimed else None
            row = SpoofEvent(
                person_id=person.id if person else None,
                source=source,
                first_seen=first_seen,
                last_seen=last_seen,
                sightings=sightings,
                similarity=similarity,
                liveness_score=liveness_score,
            )
            self.store.write_sealed(row, snapshot=snapshot)
            session.add(row)
            session.flush()
            record = _spoof(row, person.name if person else None)
            outbox.emit(session, "spoof", record.to_dict(), outbox.person_groups(session, person.id) if person else ())
            return record

    def extend_spoof(self, spoof_id: int, seen: datetime, liveness_score: float) -> None:
        """One more frame of the same attack."""
        seen = _utc(seen)
        with self.store.transaction() as session:
            row = session.get(SpoofEvent, spoof_id)
            if row is not None:
                row.last_seen, row.sightings = max(aware(row.last_seen), seen), row.sightings + 1
                row.liveness_score = max(row.liveness_score, liveness_score)

    def spoofs(self, start: datetime | None = None, end: datetime | None = None) -> list[SpoofRecord]:
        """Spoof events that overlap [start, end), oldest first."""
        with self.store.reading() as session:
            query = select(SpoofEvent, Person.name).outerjoin(Person, Person.id == SpoofEvent.person_id)
            if start is not None:
                query = query.where(SpoofEvent.last_seen >= _utc(start))
            if end is not None:
                query = query.where(SpoofEvent.first_seen < _utc(end))
            rows = session.execute(query.order_by(SpoofEvent.first_seen, SpoofEvent.id))
            return [_spoof(row, name) for row, name in rows]

    def spoof_snapshot(self, spoof_id: int) -> bytes:
        with self.store.reading() as session:
            row = session.get(SpoofEvent, spoof_id)
            if row is None:
                raise UnknownPersonError(f"no spoof event with id {spoof_id}")
            return self.store.read_sealed(row, "snapshot")

    # --- retention --------------------------------------------------------------------------------

    def purge(self, older_than: timedelta, now: datetime | None = None) -> dict[str, int]:
        """Drop events, sightings and spoof events (with their snapshots) last seen before
        ``now - older_than``."""
        cutoff = _utc(now or datetime.now(UTC)) - older_than
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
        """Purge by the retention settings (``settings`` as :meth:`settings` returns them, if at hand):
        attendance by its own, and the templates of people not seen within the privacy setting's
        ``template_retention_days`` (facerec.store.privacy; audited). Adds ``templates_of`` (people)."""
        days = (settings or self.settings()).get("retention_days")
        gone = (
            self.purge(timedelta(days=days), now) if days else {"events": 0, "unknown_sightings": 0, "spoof_events": 0}
        )
        return gone | {"templates_of": len(Privacy(self.store).purge_templates(now)["people"])}

    def counts(self) -> dict[str, int]:
        with self.store.reading() as session:
            return {
                "events": session.scalar(select(func.count(AttendanceEvent.id))) or 0,
                "unknown_sightings": session.scalar(select(func.count(UnknownSighting.id))) or 0,
                "spoof_events": session.scalar(select(func.count(SpoofEvent.id))) or 0,
            }
