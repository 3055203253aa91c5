"""Unknown sightings: faces seen at a source that matched no one enrolled, kept (embedding and
snapshot, sealed) so that someone can later say who they were: ``assign`` enrols them as samples.
Like the attendance log's events, writes here never bump the store revision."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facerec.errors import StoreError, UnknownPersonError
from facerec.store import audit, outbox
from facerec.store.models import UnknownSighting, aware, utc
from facerec.store.records import PersonRecord, StoredSample
from facerec.store.samples import Samples
from facerec.store.vectors import describe_kinds, held_kinds

if TYPE_CHECKING:
    from facerec.store.repository import Store


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


def sighting_record(store: Store, row: UnknownSighting) -> SightingRecord:
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


class UnknownSightings:
    """The unknown sightings of one store, one transaction a call."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
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
        first_seen, last_seen = utc(first_seen), utc(last_seen)
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
            record = sighting_record(self.store, row)
            outbox.emit(session, "unknown", record.to_dict())
            return record

    def extend(self, sighting_id: int, seen: datetime) -> None:
        seen = utc(seen)
        with self.store.transaction() as session:
            row = session.get(UnknownSighting, sighting_id)
            if row is not None:
                row.last_seen, row.sightings = max(aware(row.last_seen), seen), row.sightings + 1

    def all(self) -> list[SightingRecord]:
        with self.store.reading() as session:
            rows = session.scalars(select(UnknownSighting).order_by(UnknownSighting.first_seen, UnknownSighting.id))
            return [sighting_record(self.store, row) for row in rows]

    def models(self) -> set[str]:
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

    def vectors(self, model: str) -> tuple[np.ndarray, list[str | None], np.ndarray]:
        """(sighting ids, centres, vectors) of the unknown sightings of ``model`` (see Samples.vectors)."""
        return Samples(self.store).vectors(model, UnknownSighting)

    def replace_embeddings(self, model: str, centre: str | None, vectors: dict[int, np.ndarray]) -> int:
        """Sightings' embeddings as another kind of vector (see Samples.replace_embeddings), in one transaction."""
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

    def get(self, sighting_id: int) -> SightingRecord:
        with self.store.reading() as session:
            row = session.get(UnknownSighting, sighting_id)
            if row is None:
                raise UnknownPersonError(f"no unknown sighting with id {sighting_id}")
            return sighting_record(self.store, row)

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

    def _assign_in(self, session: Session, sighting_id: int, name: str) -> PersonRecord:
        row = session.get(UnknownSighting, sighting_id)
        if row is None:
            raise UnknownPersonError(f"no unknown sighting with id {sighting_id}")
        sighting = sighting_record(self.store, row)
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
