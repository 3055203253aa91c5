"""People: their rows (name, external id, metadata), renaming, and erasure, whole or of their
biometric data only. Their samples are facerec.store.samples's, their centroids
facerec.store.centroids's; erasure counts all of it for its receipt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from facerec.errors import DuplicateNameError, UnknownPersonError
from facerec.store import audit, outbox, pgvector
from facerec.store.models import AttendanceEvent, Consent, FaceSample, Person, PersonVector, SpoofEvent, aware, utcnow
from facerec.store.names import check_name
from facerec.store.records import PersonRecord

if TYPE_CHECKING:
    from facerec.store.repository import Store


def find_person(session: Session, name: str) -> Person:
    """The person named ``name``; UnknownPersonError if no one is."""
    person = session.scalar(select(Person).where(Person.name == check_name(name)))
    if person is None:
        raise UnknownPersonError(f"no person named {name!r} is enrolled")
    return person


def sample_count(session: Session, person_id: int) -> int:
    """Samples a person holds, counted in SQL (never by loading rows with their blobs)."""
    return session.scalar(select(func.count(FaceSample.id)).where(FaceSample.person_id == person_id)) or 0


def person_record(person: Person, samples: int) -> PersonRecord:
    return PersonRecord(
        id=person.id,
        name=person.name,
        samples=samples,
        created=aware(person.created_at),
        updated=aware(person.updated_at),
        external_id=person.external_id,
        info=person.info,
    )


class People:
    """The people of one store, one transaction a call (``*_in``: inside a caller's)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def all(self) -> list[PersonRecord]:
        with self.store.reading() as session:
            counts = (
                select(Person, func.count(FaceSample.id))
                .outerjoin(FaceSample)
                .group_by(Person.id)
                .order_by(Person.name)
            )
            return [person_record(person, count) for person, count in session.execute(counts)]

    def get(self, name: str) -> PersonRecord:
        with self.store.reading() as session:
            person = find_person(session, name)
            return person_record(person, sample_count(session, person.id))

    def rename(self, old: str, new: str) -> PersonRecord:
        new = check_name(new)
        with self.store.transaction() as session:
            person = find_person(session, old)
            if new != person.name and session.scalar(select(Person.id).where(Person.name == new)) is not None:
                raise DuplicateNameError(f"a person named {new!r} exists already")
            old_name = person.name
            person.name, person.updated_at = new, utcnow()
            # Consent is recorded by name (before enrolment): it follows the person to the new one.
            session.execute(update(Consent).where(Consent.subject == old_name).values(subject=new))
            self.store.changed(session, "renamed", [person.id])
            audit.write(session, "rename", old_name, to=new)
            if new != old_name:
                data = {"name": new, "old_name": old_name, "person_id": person.id}
                outbox.emit(session, "person.renamed", data, outbox.person_groups(session, person.id))
            session.flush()
            return person_record(person, sample_count(session, person.id))

    def remove(self, name: str) -> int:
        """Delete a person with every sample (embedding and crop). Returns the samples removed."""
        return self.erase(name)["samples"]

    def erase(self, name: str) -> dict:
        """Delete a person wholly: samples, centroid, attendance and spoof events (ON DELETE CASCADE).
        Returns the receipt (what was erased), also written to the audit."""
        with self.store.transaction() as session:
            person = find_person(session, name)
            receipt = self.biometric_counts(session, person.id) | {
                "attendance_events": session.scalar(
                    select(func.count(AttendanceEvent.id)).where(AttendanceEvent.person_id == person.id)
                )
                or 0,
                "person_row": 1,
            }
            groups = outbox.person_groups(session, person.id)
            session.delete(person)  # the database's ON DELETE CASCADE removes the samples, the centroid
            session.flush()
            self.store.changed(session, "removed", [person.id])
            audit.write(session, "remove", person.name, always=True, receipt=receipt)
            outbox.emit(session, "person.removed", {"name": person.name, "person_id": person.id}, groups)
        self.store.checkpoint()
        return receipt

    def biometric_counts(self, session: Session, person_id: int) -> dict:
        """What of a person's biometric data the store holds now (an erasure receipt's numbers)."""
        samples = session.scalar(select(func.count(FaceSample.id)).where(FaceSample.person_id == person_id)) or 0
        crops = session.scalar(
            select(func.count(FaceSample.id)).where(FaceSample.person_id == person_id, func.length(FaceSample.crop) > 0)
        )
        centroids = session.scalar(select(func.count()).where(PersonVector.person_id == person_id)) or 0
        vectors = pgvector.count_vectors(session, person_id) if self.store.uses_pgvector(session) else 0
        snapshots = sum(
            session.scalar(
                select(func.count(table.id)).where(table.person_id == person_id, func.length(table.snapshot) > 0)
            )
            or 0
            for table in (AttendanceEvent, SpoofEvent)
        )
        return {
            "samples": samples,
            "embeddings": samples,
            "crops": crops or 0,
            "centroids": centroids,
            "pgvector_vectors": vectors or 0,
            "snapshots": snapshots,
        }

    def erase_biometrics_in(self, session: Session, person_id: int) -> dict:
        """Erase a person's biometric data in a caller's transaction, keeping the person and their
        attendance rows (without snapshots: those follow the attendance retention). The receipt."""
        receipt = self.biometric_counts(session, person_id)
        session.execute(delete(FaceSample).where(FaceSample.person_id == person_id))
        for table in (AttendanceEvent, SpoofEvent):
            session.execute(update(table).where(table.person_id == person_id).values(snapshot=b"", key_id=None))
        session.flush()
        self.store.changed(session, "samples", [person_id])  # the centroid (and its pgvector copy) goes
        return receipt
