"""Spoof events: presentation attacks (a photo, a screen held up to a camera) that liveness
refused, with who the face was recognised as and a sealed snapshot, for the attendance report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import select

from facerec.errors import UnknownPersonError
from facerec.store import outbox
from facerec.store.models import Person, SpoofEvent, aware, utc
from facerec.store.names import check_name

if TYPE_CHECKING:
    from facerec.store.repository import Store


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


def spoof_record(row: SpoofEvent, claimed: str | None) -> SpoofRecord:
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


class SpoofEvents:
    """The spoof events of one store, one transaction a call."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
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
        first_seen, last_seen = utc(first_seen), utc(last_seen)
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
            record = spoof_record(row, person.name if person else None)
            outbox.emit(session, "spoof", record.to_dict(), outbox.person_groups(session, person.id) if person else ())
            return record

    def extend(self, spoof_id: int, seen: datetime, liveness_score: float) -> None:
        """One more frame of the same attack."""
        seen = utc(seen)
        with self.store.transaction() as session:
            row = session.get(SpoofEvent, spoof_id)
            if row is not None:
                row.last_seen, row.sightings = max(aware(row.last_seen), seen), row.sightings + 1
                row.liveness_score = max(row.liveness_score, liveness_score)

    def between(
        self, start: datetime | None = None, end: datetime | None = None, claimed: str | None = None
    ) -> list[SpoofRecord]:
        """Spoof events that overlap [start, end) (recognised as ``claimed`` only, if given), oldest first."""
        with self.store.reading() as session:
            query = select(SpoofEvent, Person.name).outerjoin(Person, Person.id == SpoofEvent.person_id)
            if claimed is not None:
                query = query.where(Person.name == claimed)
            if start is not None:
                query = query.where(SpoofEvent.last_seen >= utc(start))
            if end is not None:
                query = query.where(SpoofEvent.first_seen < utc(end))
            rows = session.execute(query.order_by(SpoofEvent.first_seen, SpoofEvent.id))
            return [spoof_record(row, name) for row, name in rows]

    def snapshot(self, spoof_id: int) -> bytes:
        with self.store.reading() as session:
            row = session.get(SpoofEvent, spoof_id)
            if row is None:
                raise UnknownPersonError(f"no spoof event with id {spoof_id}")
            return self.store.read_sealed(row, "snapshot")
