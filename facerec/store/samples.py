"""Face samples: what enrolment keeps of each photo (the sealed embedding and aligned crop, where
the face was, how good it was), added and removed with their person's centroid kept in step, and
read back as records, crops, or arrays of embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facerec.errors import UnknownPersonError
from facerec.store import audit, outbox, policy
from facerec.store.models import CROP, EMBEDDING, FaceSample, Person, StoreSetting, UnknownSighting, aware, utcnow
from facerec.store.names import check_name
from facerec.store.people import find_person, person_record, sample_count
from facerec.store.records import PersonRecord, SampleRecord, StoredSample
from facerec.store.vectors import unpack

if TYPE_CHECKING:
    from facerec.store.repository import Store


def sample_record(sample: FaceSample, person: str) -> SampleRecord:
    return SampleRecord(
        id=sample.id,
        person=person,
        model=sample.model,
        source_path=sample.source_path,
        source_sha256=sample.source_sha256,
        box=tuple(sample.box),
        confidence=sample.confidence,
        quality=sample.quality,
        created=aware(sample.created_at),
    )


def sealed_row(store: Store, person_id: int, sample: StoredSample, keep_photos: bool) -> FaceSample:
    """A sample's row with its embedding and crop sealed under the store's key (the crop empty
    where photos are not kept): what enrolment and an archive's import both add."""
    vector = np.asarray(sample.embedding, dtype="<f4")
    embedding, key_id = store.seal(vector.tobytes(), EMBEDDING)
    crop, _ = store.seal(sample.crop_png if keep_photos else b"", CROP)
    return FaceSample(
        person_id=person_id,
        model=sample.model,
        centre=sample.centre,
        preprocessing=sample.preprocessing,
        dimension=int(vector.shape[0]),
        embedding=embedding,
        key_id=key_id,
        crop=crop,
        source_path=sample.source_path,
        source_sha256=sample.source_sha256,
        box=[float(v) for v in sample.box],
        landmarks=[[float(x), float(y)] for x, y in sample.landmarks],
        confidence=float(sample.confidence),
        quality=sample.quality,
    )


class Samples:
    """The face samples of one store, one transaction a call (``add_in``: inside a caller's)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reading ------------------------------------------------------------------------------------

    def records(self, name: str | None = None) -> list[SampleRecord]:
        """Every sample, or ``name``'s, oldest first."""
        with self.store.reading() as session:
            query = select(FaceSample, Person.name).join(Person).order_by(FaceSample.id)
            if name is not None:
                query = query.where(FaceSample.person_id == find_person(session, name).id)
            return [sample_record(sample, person) for sample, person in session.execute(query)]

    def embeddings(self, model: str, person: str | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(sample ids, person names, N x D vectors) of every sample made with ``model`` (of one
        ``person`` only, if named; none if no one has that name)."""
        query = (
            select(FaceSample.id, Person.name, FaceSample.embedding, FaceSample.dimension, FaceSample.key_id)
            .join(Person)
            .where(FaceSample.model == model)
            .order_by(FaceSample.id)
        )
        if person is not None:
            query = query.where(Person.name == check_name(person))
        with self.store.reading() as session:
            rows = session.execute(query).all()
        return unpack([(r[0], r[1], self.store.unseal(r[2], r[4], EMBEDDING), r[3]) for r in rows])

    def vectors(self, model: str, table: type[FaceSample] | type[UnknownSighting] = FaceSample):
        """(ids, centres, vectors) of the rows of ``model`` in ``table`` (the samples, or the unknown
        sightings), for moving them to another kind of vector."""
        with self.store.reading() as session:
            rows = session.execute(
                select(table.id, table.centre, table.embedding, table.dimension, table.key_id)
                .where(table.model == model)
                .order_by(table.id)
            ).all()
        what = f"{table.__tablename__}.embedding"
        return unpack([(r[0], r[1], self.store.unseal(r[2], r[4], what), r[3]) for r in rows])

    def crop(self, sample_id: int) -> bytes:
        """One sample's aligned crop (PNG; b"" where photos are not kept). A read on someone's behalf
        (the HTTP API: an actor is set) is audited, as the person's face was shown."""
        with self.store.reading() as session:
            query = (
                select(FaceSample.crop, FaceSample.key_id, Person.name)
                .join(Person, Person.id == FaceSample.person_id)
                .where(FaceSample.id == int(sample_id))
            )
            row = session.execute(query).first()
        if row is None:
            raise UnknownPersonError(f"no face sample with id {sample_id}")
        crop = self.store.unseal(row[0], row[1], CROP)
        if audit.actor() is not None:
            audit.AuditTrail(self.store).record("read_crop", row[2], sample=int(sample_id))
        return crop

    def crops(self, ids: Sequence[int] | None = None) -> list[tuple[int, bytes]]:
        """(sample id, PNG crop) of every sample, or of those listed."""
        query = select(FaceSample.id, FaceSample.crop, FaceSample.key_id).order_by(FaceSample.id)
        if ids is not None:
            query = query.where(FaceSample.id.in_([int(i) for i in ids]))
        with self.store.reading() as session:
            return [(sample_id, self.store.unseal(crop, key, CROP)) for sample_id, crop, key in session.execute(query)]

    def check_consent(self, name: str) -> None:
        """ConsentRequiredError if enrolling ``name`` now would be refused for want of consent."""
        with self.store.reading() as session:
            policy.may_keep(session, check_name(name))

    # --- changing -----------------------------------------------------------------------------------

    def add(self, name: str, samples: Sequence[StoredSample]) -> tuple[PersonRecord, int, list[str]]:
        """Add samples to a person (created if new). Returns the person, how many were added, and
        the source paths skipped as duplicates (same photo sha256 already held for this person).
        """
        with self.store.transaction() as session:
            record, added, duplicates = self.add_in(session, name, samples)
            if added:
                audit.write(session, "enrol", record.name, added=added)
            return record, added, duplicates

    def add_in(
        self, session: Session, name: str, samples: Sequence[StoredSample]
    ) -> tuple[PersonRecord, int, list[str]]:
        """:meth:`add` inside a caller's transaction (to join it with other changes)."""
        name = check_name(name)
        rules = policy.may_keep(session, name)
        person = session.scalar(select(Person).where(Person.name == name))
        new = person is None
        if person is None:
            person = Person(name=name)
            session.add(person)
            session.flush()
        held = set(session.scalars(select(FaceSample.source_sha256).where(FaceSample.person_id == person.id)))
        added, duplicates = 0, []
        for sample in samples:
            if sample.source_sha256 in held:
                duplicates.append(sample.source_path)
                continue
            held.add(sample.source_sha256)
            session.add(sealed_row(self.store, person.id, sample, rules["keep_photos"]))
            added += 1
        if added:
            person.updated_at = utcnow()
            session.flush()
            self.store.changed(session, "samples", [person.id])
        session.flush()
        record = person_record(person, sample_count(session, person.id))
        if new:
            outbox.emit(session, "person.enrolled", {"name": person.name, "person_id": person.id, "samples": added})
        return record, added, duplicates

    def remove(self, sample_id: int) -> SampleRecord:
        with self.store.transaction() as session:
            sample = session.get(FaceSample, sample_id)
            if sample is None:
                raise UnknownPersonError(f"no face sample with id {sample_id}")
            record = sample_record(sample, sample.person.name)
            sample.person.updated_at = utcnow()
            person_id = sample.person_id
            session.delete(sample)
            session.flush()
            self.store.changed(session, "samples", [person_id])
            audit.write(session, "remove_sample", record.person, sample=record.id)
            return record

    def replace_embeddings(
        self, model: str, centre: str | None, vectors: dict[int, np.ndarray], drop_settings: Sequence[str] = ()
    ) -> int:
        """Swap listed samples' embeddings for another kind's (another model's of the same stored
        crops, or the same vectors on another centre), in one transaction, dropping the settings
        named (calibrations made for the old kind). The preprocessing recorded is still the crop's."""
        with self.store.transaction() as session:
            touched: set[int] = set()
            for sample_id, vector in vectors.items():
                sample = session.get(FaceSample, sample_id)
                if sample is None:
                    raise UnknownPersonError(f"no face sample with id {sample_id}")
                vector = np.asarray(vector, dtype="<f4")
                self.store.write_sealed(sample, embedding=vector.tobytes())
                sample.dimension = int(vector.shape[0])
                sample.model, sample.centre = model, centre
                sample.preprocessing = dict(sample.preprocessing) | {"model": model, "centre": centre}
                touched.add(sample.person_id)
            for key in drop_settings:
                session.execute(delete(StoreSetting).where(StoreSetting.key == key))
            if vectors or drop_settings:
                session.flush()
                self.store.changed(session, "samples", touched)
        return len(vectors)
