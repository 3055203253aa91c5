"""SQLAlchemy 2 tables of the identity store. Only the store package sees these classes; the rest of
facerec gets plain records (:mod:`facerec.store.records`).

The schema itself is owned by the Alembic revisions in ``db/versions``; these models must match
them (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """Every time is stored in UTC: SQLite keeps no offset, so comparisons need one zone."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: attendance times need a time zone")
    return moment.astimezone(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    info: Mapped[dict | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)

    # passive_deletes: removing a person leaves its samples to the foreign key's ON DELETE CASCADE
    # instead of loading every sample (embedding and crop blobs) only to delete it.
    samples: Mapped[list[FaceSample]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )


class FaceSample(Base):
    __tablename__ = "face_sample"
    __table_args__ = (UniqueConstraint("person_id", "source_sha256", name="uq_sample_person_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True, nullable=False)
    model: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    preprocessing: Mapped[dict] = mapped_column(JSON, nullable=False)
    dimension: Mapped[int] = mapped_column(Integer, nullable=False)
    embedding: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # float32, little-endian
    # The centre subtracted before the embedding's normalisation (facerec.embedding.space.centre_id);
    # NULL: the network's own unit vector. Vectors of one (model, centre) are comparable.
    centre: Mapped[str | None] = mapped_column(String(64), nullable=True)
    crop: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # the aligned crop, PNG
    # The id of the key that sealed this row's blobs (facerec.store.sealing); NULL: they are plain.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    source_path: Mapped[str] = mapped_column(String(4096), nullable=False)
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    box: Mapped[list] = mapped_column(JSON, nullable=False)
    landmarks: Mapped[list] = mapped_column(JSON, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    quality: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)

    person: Mapped[Person] = relationship(back_populates="samples")


class PersonVector(Base):
    """A person's centroid: the normalised mean of their samples' vectors, what identification
    compares a face with. Written in the same transaction as every change to the person's samples,
    so any process reads one that matches the samples; the faiss index (or pgvector) is built
    from these rows, one per person, not from every sample."""

    __tablename__ = "person_vector"
    __table_args__ = (Index("ix_person_vector_kind", "model", "centre"),)

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(255), nullable=False)
    centre: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dimension: Mapped[int] = mapped_column(Integer, nullable=False)
    samples: Mapped[int] = mapped_column(Integer, nullable=False)
    centroid: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # float32, little-endian, unit
    # The id of the key that sealed this row's blobs (facerec.store.sealing); NULL: they are plain.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)


class ChangeLog(Base):
    """What each store revision changed: a person whose samples changed ("samples"), who was
    removed ("removed") or renamed ("renamed"), or a setting (person_id None). Written in the
    transaction of the change, so a process holding an index at revision R catches up from the
    rows after R instead of rebuilding. Old rows are pruned; a process further behind rebuilds."""

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, index=True, nullable=False)
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)


class StoreState(Base):
    """One row per store: a revision number bumped by every change, so derived indexes can tell
    whether they are current."""

    __tablename__ = "store_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class StoreSetting(Base):
    """Values a store keeps about itself, e.g. ``threshold:<model>`` from ``facerec calibrate``."""

    __tablename__ = "store_setting"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, nullable=False)


class AttendanceEvent(Base):
    """One person's presence at one source: opened by a confirmed check-in, extended while they are
    seen again within the dedupe window. Deleted with the person (ON DELETE CASCADE)."""

    __tablename__ = "attendance_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True, nullable=False)
    source: Mapped[str] = mapped_column(String(1024), nullable=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, nullable=False)
    best_similarity: Mapped[float] = mapped_column(Float, nullable=False)
    sightings: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    snapshot: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # best aligned crop, PNG
    # The id of the key that sealed this row's blobs (facerec.store.sealing); NULL: they are plain.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)


class UnknownSighting(Base):
    """A face no enrolled person matched, kept (opt-in) for review; ``facerec assign`` enrols it."""

    __tablename__ = "unknown_sighting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(1024), nullable=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, nullable=False)
    sightings: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    best_similarity: Mapped[float] = mapped_column(Float, nullable=False)  # to the closest enrolled person
    model: Mapped[str] = mapped_column(String(255), nullable=False)
    dimension: Mapped[int] = mapped_column(Integer, nullable=False)
    embedding: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    centre: Mapped[str | None] = mapped_column(String(64), nullable=True)  # as FaceSample.centre
    preprocessing: Mapped[dict] = mapped_column(JSON, nullable=False)
    snapshot: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # aligned crop, PNG
    # The id of the key that sealed this row's blobs (facerec.store.sealing); NULL: they are plain.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)


class SpoofEvent(Base):
    """A confirmed run of faces at one source that the liveness check called prints or screens:
    someone held up a photo or a phone. ``person_id`` is whom it was recognised as (None: nobody
    enrolled); deleted with that person, as its snapshot is their face."""

    __tablename__ = "spoof_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True, nullable=True
    )
    source: Mapped[str] = mapped_column(String(1024), nullable=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, nullable=False)
    sightings: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    similarity: Mapped[float] = mapped_column(Float, nullable=False)  # to the person it claimed to be
    liveness_score: Mapped[float] = mapped_column(Float, nullable=False)  # the highest of the run
    snapshot: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # aligned crop, PNG
    # The id of the key that sealed this row's blobs (facerec.store.sealing); NULL: they are plain.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)


class ApiKey(Base):
    """An HTTP API key: only its sha256 is kept; the key itself is shown once, at creation."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False, server_default="admin")  # see api_keys.ROLES


class AuditEntry(Base):
    """A change made through the HTTP API: when, by which key (its name), what, to what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, default=utcnow, nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str] = mapped_column(String(1024), nullable=False)
    details: Mapped[dict] = mapped_column(JSON, nullable=False)


class GroupMember(Base):
    """A person in a group (a class, a department); a person may be in several."""

    __tablename__ = "group_member"

    group_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True)


class OutboxRow(Base):
    """An event other systems may want (a check-in, a person enrolled...), written in the same
    transaction as the change it tells of; ``id`` grows with commit order (facerec.store.outbox),
    so a cursor over it never skips one. ``groups``: the person's groups then, for filters."""

    __tablename__ = "outbox"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused after a purge: cursors rely on that

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, default=utcnow, nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    groups: Mapped[list] = mapped_column(JSON, nullable=False)
    data: Mapped[dict] = mapped_column(JSON, nullable=False)


class EventSubscription(Base):
    """Where the outbox goes: a webhook (``kind`` "webhook", ``url`` http(s)) or an MQTT broker
    ("mqtt"). ``position``: the last outbox id handled; ``lease_*``: which process delivers it now
    (one at a time, so events go out in order); the rest: back-off after failures."""

    __tablename__ = "event_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    event_types: Mapped[list] = mapped_column(JSON, nullable=False)  # empty: every type
    group_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    secret: Mapped[str | None] = mapped_column(String(255), nullable=True)  # webhooks: the signing key
    options: Mapped[dict] = mapped_column(JSON, nullable=False)  # mqtt: site, away_seconds
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Consent(Base):
    """A person's consent to the processing of their biometric data: for what, under which policy,
    when and by whom recorded, and when withdrawn. Keyed by name, not by person: it is recorded
    before enrolment (with ``require_consent`` enrolment needs it) and outlives erasure."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), index=True, nullable=False)
    purpose: Mapped[str] = mapped_column(String(1024), nullable=False)
    policy_version: Mapped[str] = mapped_column(String(64), nullable=False)
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(255), nullable=False)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


# What each sealed blob is, bound to it as associated data (a crop cannot pass for an embedding).
EMBEDDING, CROP, CENTROID = "face_sample.embedding", "face_sample.crop", "person_vector.centroid"
# Each table's sealed columns, under the one key id its row keeps; the first is never empty in a
# row that holds biometric data (an erased snapshot is b"" and its key id NULL).
SEALED_COLUMNS: dict[type[Base], tuple[str, ...]] = {
    FaceSample: ("embedding", "crop"),
    PersonVector: ("centroid",),
    AttendanceEvent: ("snapshot",),
    UnknownSighting: ("embedding", "snapshot"),
    SpoofEvent: ("snapshot",),
}
SEALED_TABLES = tuple(SEALED_COLUMNS)
