"""Store: the repository over the identity store's tables, with one transaction per call.

Every method that changes something runs as one unit of work: it commits whole or not at all
(a failed or killed enrolment leaves the store as it was) and bumps the store revision, which
derived read models (the faiss index) compare against to know whether they are current.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import unicodedata
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, delete, event, func, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from facerec.errors import (
    ConsentRequiredError,
    DuplicateNameError,
    EncryptionKeyError,
    StoreError,
    StoreUnavailableError,
    UnknownPersonError,
)
from facerec.store import migrations, outbox, policy
from facerec.store.models import (
    AttendanceEvent,
    AuditEntry,
    ChangeLog,
    Consent,
    FaceSample,
    GroupMember,
    Person,
    PersonVector,
    SpoofEvent,
    StoreSetting,
    StoreState,
    UnknownSighting,
    utcnow,
)
from facerec.store.records import PersonRecord, SampleRecord, StoredSample
from facerec.store.sealing import Keyring

log = logging.getLogger(__name__)

HOME_ENV = "FACEREC_HOME"
MAX_NAME = 255
BUSY_TIMEOUT_MS = 30_000
LOCAL_ACTOR = "local"  # who the audit names for changes made from the command line or Python
READ_ONLY = "facerec_read_only"  # execution option of the connections reads go through
_REVISION = select(StoreState.revision).where(StoreState.id == 1)
# Who is making changes, for the audit log: set by the HTTP API around a request's work (the key's
# name); unset (the command line, the Python API) nothing is audited.
_ACTOR: ContextVar[str | None] = ContextVar("facerec_actor", default=None)
# The change log keeps the last CHANGE_LOG_KEPT revisions (pruned every CHANGE_LOG_PRUNE_EVERY):
# a process whose index is further behind than that rebuilds it instead of catching up.
CHANGE_LOG_KEPT = 100_000
CHANGE_LOG_PRUNE_EVERY = 1_000
# What each sealed blob is, bound to it as associated data (a crop cannot pass for an embedding).
EMBEDDING, CROP, CENTROID = "face_sample.embedding", "face_sample.crop", "person_vector.centroid"
# Each table's sealed columns, under the one key id its row keeps; the first is never empty in a
# row that holds biometric data (an erased snapshot is b"" and its key id NULL).
SEALED_COLUMNS = {
    FaceSample: ("embedding", "crop"),
    PersonVector: ("centroid",),
    AttendanceEvent: ("snapshot",),
    UnknownSighting: ("embedding", "snapshot"),
    SpoofEvent: ("snapshot",),
}
SEALED_TABLES = tuple(SEALED_COLUMNS)


def facerec_home() -> Path:
    """``$FACEREC_HOME``, else ``$XDG_DATA_HOME/facerec`` (``~/.local/share/facerec``)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "facerec"


def default_url() -> str:
    return f"sqlite:///{facerec_home() / 'facerec.db'}"


SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def store_url(value: str) -> str:
    """A database URL as given, or the URL of a SQLite store for a plain path (``people.db``,
    ``/tmp/x.db``: what people type first) that ends in .db, .sqlite or .sqlite3 or is a file.
    Other text stays as it is, to be refused as not a URL, rather than become a stray file."""
    path = Path(value).expanduser()
    if "://" not in value and (path.suffix.lower() in SQLITE_SUFFIXES or path.is_file()):
        return f"sqlite:///{path.absolute()}"
    return value


def check_name(name: str, what: str = "person") -> str:
    """Names are free text (slashes, quotes, any script) but not empty, not control characters."""
    cleaned = name.strip()
    if not cleaned:
        raise StoreError(f"a {what}'s name cannot be empty")
    if len(cleaned) > MAX_NAME:
        raise StoreError(f"a {what}'s name can have at most {MAX_NAME} characters, got {len(cleaned)}")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise StoreError(f"a {what}'s name cannot contain control characters: {cleaned!r}")
    return unicodedata.normalize("NFC", cleaned)


def held_kinds(session: Session) -> set[tuple[str, str | None]]:
    """The (model, centre) pairs of the samples, read in a caller's transaction."""
    return {
        (model, centre) for model, centre in session.execute(select(FaceSample.model, FaceSample.centre).distinct())
    }


def _vector_text(vector: np.ndarray) -> str:
    """pgvector's text form of a vector: [v1,v2,...], every float32 written so it reads back exact."""
    return "[" + ",".join(repr(float(v)) for v in np.asarray(vector, np.float32)) + "]"


def _same_centre(column, centre: str | None):
    return column.is_(None) if centre is None else column == centre


def describe_kinds(kinds: set[tuple[str, str | None]]) -> str:
    """Kinds of vector as people read them: "casia-webface (centred on 1a2b...)", "... (not centred)"."""
    return ", ".join(
        f"{model} ({f'centred on {centre}' if centre else 'not centred'})" for model, centre in sorted(kinds, key=str)
    )


def _unpack(rows) -> tuple[np.ndarray, list, np.ndarray]:
    """(ids, a column, N x D float32 vectors) from rows of (id, column, embedding blob, dimension)."""
    if not rows:
        return np.zeros(0, np.int64), [], np.zeros((0, 0), np.float32)
    vectors = np.stack([np.frombuffer(blob, dtype="<f4", count=dim) for _, _, blob, dim in rows])
    return np.array([r[0] for r in rows], np.int64), [r[1] for r in rows], vectors.astype(np.float32)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _read_only_file(url: str) -> bool:
    """A SQLite store that exists but whose folder cannot be written (a read-only mount)."""
    path = make_url(url).database
    return bool(path) and path != ":memory:" and Path(path).is_file() and not os.access(Path(path).parent, os.W_OK)


def _sqlite_engine(url: str, read_only: bool = False) -> Engine:
    path = make_url(url).database
    if read_only:
        location = f"file:{urllib.parse.quote(str(Path(path).resolve()))}?mode=ro&immutable=1"
        engine = create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(location, uri=True, check_same_thread=False)
        )
    else:
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten, not left in free pages: an erased face is gone from the file.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # A change takes the write lock up front: two processes never deadlock upgrading read
        # locks. A read takes none: WAL gives it a consistent snapshot while another process
        # writes, so identify never waits behind an enrolment, nor an export holds enrolments up.
        reads = read_only or connection.get_execution_options().get(READ_ONLY)
        connection.exec_driver_sql("BEGIN" if reads else "BEGIN IMMEDIATE")

    return engine


class Store:
    """People and their face samples in SQL (SQLite by default, PostgreSQL by URL).

    ``keyring`` (default: the key of ``$FACEREC_KEY_FILE`` / ``$FACEREC_KEY``, see
    facerec.store.sealing) seals embeddings, centroids and crops as they are written; a store that
    holds rows sealed by a key the keyring lacks refuses to open, before anything is read."""

    def __init__(self, url: str | None = None, keyring: Keyring | None = None) -> None:
        self.url = store_url(url) if url else default_url()
        self.keyring = Keyring.from_environment() if keyring is None else keyring
        try:
            backend = make_url(self.url).get_backend_name()
        except ArgumentError:
            raise StoreError(
                f"not a database URL: {self.url!r} (a SQLite file: PATH.db or sqlite:///PATH; "
                "PostgreSQL: postgresql+psycopg://USER@HOST/DB)"
            ) from None
        self.read_only = False
        try:
            self.engine = (
                _sqlite_engine(self.url) if backend == "sqlite" else create_engine(self.url, pool_pre_ping=True)
            )
            with self.engine.begin() as connection:
                migrations.upgrade(connection)
        except (OperationalError, OSError) as exc:
            if backend != "sqlite" or not _read_only_file(self.url):
                raise StoreError(f"cannot open the store at {make_url(self.url).render_as_string()}: {exc}") from None
            self._open_read_only()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self._readers = sessionmaker(self._read_engine, expire_on_commit=False)
        # PostgreSQL with pgvector: person_vector.centroid_v, a copy of each centroid as a `vector`
        # that PostgreSQL itself searches (facerec.identity.pg_index), written in the same transaction.
        self.postgresql = backend == "postgresql"
        self.pgvector = False  # known to have the column (checked again where a centroid is written)
        self._check_keys()

    def sealed_with(self) -> set[str]:
        """The ids of the keys that sealed rows held now. Read key by key from each table's index on
        key_id (the least id above the last found), not by scanning it: a handful of index probes
        at any size, which is what a cold start pays for the check."""
        found: set[str] = set()
        with self.reading() as session:
            for table in SEALED_TABLES:
                key_id = session.scalar(select(func.min(table.key_id)))
                while key_id is not None:
                    found.add(key_id)
                    key_id = session.scalar(select(func.min(table.key_id)).where(table.key_id > key_id))
        return found

    def _check_keys(self) -> None:
        """Refuse a store whose data some key we lack sealed: nothing is decrypted or written."""
        missing = self.sealed_with() - self.keyring.ids
        if not missing:
            return
        where = make_url(self.url).render_as_string()
        if not self.keyring.ids:
            raise EncryptionKeyError(
                f"the store at {where} holds biometric data encrypted with key {', '.join(sorted(missing))}: set "
                "FACEREC_KEY_FILE (or FACEREC_KEY) to that key to open it; nothing was read or changed"
            )
        raise EncryptionKeyError(
            f"the store at {where} holds biometric data encrypted with key {', '.join(sorted(missing))}, not with "
            f"the key configured ({', '.join(sorted(self.keyring.ids))}): wrong key, nothing was read or changed "
            "(if `facerec keys rotate` was interrupted, run it again with both keys)"
        )

    def _seal(self, data: bytes, what: str) -> tuple[bytes, str | None]:
        return self.keyring.seal(data, what)

    def _open(self, blob: bytes, key_id: str | None, what: str) -> bytes:
        return self.keyring.open(blob, key_id, what)

    def write_sealed(self, row, **plain: bytes) -> None:
        """Set sealed columns of an ORM ``row`` from plain bytes; its other sealed columns are sealed
        again with them, so the row stays whole under the one key its key id names."""
        table = type(row)
        values = {
            column: plain[column] if column in plain else self.read_sealed(row, column)
            for column in SEALED_COLUMNS[table]
        }
        key_id = None
        for column, data in values.items():
            sealed, used = self._seal(data, f"{table.__tablename__}.{column}")
            setattr(row, column, sealed)
            key_id = key_id or used
        row.key_id = key_id

    def read_sealed(self, row, column: str) -> bytes:
        """The plain bytes of a sealed column of an ORM ``row``."""
        return self._open(getattr(row, column), row.key_id, f"{type(row).__tablename__}.{column}")

    def _vector(self, blob: bytes, key_id: str | None, dimension: int, what: str = EMBEDDING) -> np.ndarray:
        return np.frombuffer(self._open(blob, key_id, what), dtype="<f4", count=dimension)

    def _open_read_only(self) -> None:
        """A SQLite store on a read-only file system (or a file we may not write): opened as it
        stands, so whatever only reads (identify, list, report) keeps working; every change is
        refused with StoreUnavailableError. SQLite cannot open a WAL database read-only without
        its -shm file, so it is opened immutable: nothing else can be writing to it."""
        self.engine = _sqlite_engine(self.url, read_only=True)
        try:
            with self.engine.connect() as connection:
                revision = migrations.current(connection)
        except OperationalError as exc:
            raise StoreError(f"cannot open the store at {self.url} (read-only): {exc}") from None
        if revision != migrations.HEAD:
            raise StoreUnavailableError(
                f"the store at {self.url} is read-only and at schema revision {revision}, older than this "
                f"facerec's {migrations.HEAD}: open it once where it can be written to upgrade it"
            )
        self.read_only = True

    def close(self) -> None:
        self.engine.dispose()

    # --- pgvector (PostgreSQL only) ------------------------------------------------------------------

    @staticmethod
    def _has_vector_column(session: Session) -> bool:
        query = text(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'person_vector' AND column_name = 'centroid_v'"
        )
        return session.scalar(query) is not None

    def pgvector_available(self) -> bool:
        """Whether this PostgreSQL server has the vector extension (installed or installable)."""
        if not self.postgresql:
            return False
        with self.engine.connect() as connection:
            return connection.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")) is not None

    def enable_pgvector(self, dimension: int) -> None:
        """Make PostgreSQL able to search the centroids itself: the extension, the vector column
        (filled from the centroids already held), and an HNSW index for ``dimension``. Idempotent,
        and cheap once done; every later centroid write keeps the column in step."""
        if not self.pgvector_available():
            raise StoreError(
                "this PostgreSQL server has no pgvector extension (see ../shared/vendor/README.md to build it), "
                "so --index pgvector cannot be used; --index faiss works everywhere"
            )
        dimension = int(dimension)
        try:
            with self.engine.begin() as connection:
                connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                connection.execute(text("ALTER TABLE person_vector ADD COLUMN IF NOT EXISTS centroid_v vector"))
                rows = connection.execute(
                    text("SELECT person_id, centroid, dimension, key_id FROM person_vector WHERE centroid_v IS NULL")
                ).all()
                for person_id, blob, dim, key_id in rows:
                    vector = self._vector(blob, key_id, dim, CENTROID)
                    connection.execute(
                        text("UPDATE person_vector SET centroid_v = CAST(:v AS vector) WHERE person_id = :p"),
                        {"v": _vector_text(vector), "p": person_id},
                    )
                # An index per dimension (a `vector` column of mixed sizes cannot have one of its own).
                connection.execute(
                    text(
                        f"CREATE INDEX IF NOT EXISTS ix_person_vector_hnsw_{dimension} ON person_vector "
                        f"USING hnsw ((centroid_v::vector({dimension})) vector_ip_ops) WHERE dimension = {dimension}"
                    )
                )
                if rows:  # many rows at once (a store moved to pgvector): let the planner know them
                    connection.execute(text("ANALYZE person_vector"))
        except (OperationalError, ProgrammingError) as exc:
            raise StoreError(f"cannot set up pgvector in {self.engine.url.render_as_string()}: {exc}") from None
        self.pgvector = True

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        """What a database failure means to the person who asked (the driver's words kept last)."""
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = make_url(self.url).render_as_string()
        if "readonly" in reason or "read-only" in reason:
            return StoreUnavailableError(f"the store at {where} is read-only: nothing was changed ({reason})")
        if "disk is full" in reason or "No space left" in reason:
            return StoreUnavailableError(f"the disk holding the store at {where} is full: nothing was changed")
        if "locked" in reason:
            return StoreUnavailableError(f"the store at {where} is busy (another writer): try again ({reason})")
        return StoreUnavailableError(f"the store at {where} cannot be reached: {reason}")

    @staticmethod
    @contextmanager
    def acting(actor: str) -> Iterator[None]:
        """Changes made inside are audited as ``actor``'s (in the same transaction as each change)."""
        token = _ACTOR.set(actor)
        try:
            yield
        finally:
            _ACTOR.reset(token)

    @staticmethod
    def _audit(session: Session, action: str, target: str, always: bool = False, **details) -> None:
        """An audit line if an actor is set (the HTTP API); with ``always`` (what touches biometric
        data: erasure, consent, exports) also from the command line or the Python API."""
        actor = _ACTOR.get()
        if actor is not None or always:
            session.add(AuditEntry(actor=actor or LOCAL_ACTOR, action=action, target=target, details=details))

    def record(self, action: str, target: str, **details) -> None:
        """Write an audit line on its own (a read of biometric data: a crop, an export); none on a
        read-only store, which can be read but not written."""
        if self.read_only:
            log.warning("read-only store: %s of %s is not audited", action, target)
            return
        with self.transaction() as session:
            self._audit(session, action, target, always=True, **details)

    def audit(self, limit: int = 200) -> list[dict]:
        """The latest changes made through the API, newest first."""
        with self.reading() as session:
            rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
            return [
                {
                    "at": _aware(r.at).isoformat(),
                    "key": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "details": r.details,
                }
                for r in rows
            ]

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A consistent view for reads that change nothing; on SQLite it takes no write lock."""
        try:
            with self._readers.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None

    def _changed(self, session: Session, kind: str, people: Iterable[int] = ()) -> int:
        """Record a change in the caller's transaction: the store revision goes up by one, the
        change log says which people it touched, and the centroids of people whose samples
        changed are made again from their samples. Returns the new revision."""
        session.execute(update(StoreState).where(StoreState.id == 1).values(revision=StoreState.revision + 1))
        revision = session.scalar(_REVISION) or 0
        people = sorted(set(people))
        if kind == "samples":
            for person_id in people:
                self._update_centroid(session, person_id)
        session.add_all([ChangeLog(revision=revision, person_id=p, kind=kind) for p in people or [None]])
        if revision % CHANGE_LOG_PRUNE_EVERY == 0:
            session.execute(delete(ChangeLog).where(ChangeLog.revision <= revision - CHANGE_LOG_KEPT))
        return revision

    def _update_centroid(self, session: Session, person_id: int) -> None:
        """A person's centroid as their samples make it now (no row when they hold none)."""
        rows = session.execute(
            select(
                FaceSample.model, FaceSample.centre, FaceSample.dimension, FaceSample.embedding, FaceSample.key_id
            ).where(FaceSample.person_id == person_id)
        ).all()
        session.execute(delete(PersonVector).where(PersonVector.person_id == person_id))
        if not rows:
            return
        model, centre, dimension, *_ = rows[0]
        total = np.sum([self._vector(blob, key, dim) for *_, dim, blob, key in rows], axis=0, dtype=np.float64)
        centroid = (total / max(float(np.linalg.norm(total)), 1e-12)).astype("<f4")
        sealed, key_id = self._seal(centroid.tobytes(), CENTROID)
        session.add(
            PersonVector(
                person_id=person_id,
                model=model,
                centre=centre,
                dimension=dimension,
                samples=len(rows),
                centroid=sealed,
                key_id=key_id,
            )
        )
        session.flush()
        if self.postgresql and (self.pgvector or self._has_vector_column(session)):
            self.pgvector = True  # another process may have set pgvector up since this one opened the store
            session.execute(
                text("UPDATE person_vector SET centroid_v = CAST(:v AS vector) WHERE person_id = :p"),
                {"v": _vector_text(centroid), "p": person_id},
            )

    @staticmethod
    def _person(session: Session, name: str) -> Person:
        person = session.scalar(select(Person).where(Person.name == check_name(name)))
        if person is None:
            raise UnknownPersonError(f"no person named {name!r} is enrolled")
        return person

    @staticmethod
    def _count(session: Session, person_id: int) -> int:
        """Samples a person holds, counted in SQL (never by loading rows with their blobs)."""
        return session.scalar(select(func.count(FaceSample.id)).where(FaceSample.person_id == person_id)) or 0

    @staticmethod
    def _record(person: Person, samples: int) -> PersonRecord:
        return PersonRecord(
            id=person.id,
            name=person.name,
            samples=samples,
            created=_aware(person.created_at),
            updated=_aware(person.updated_at),
            external_id=person.external_id,
            info=person.info,
        )

    @staticmethod
    def _sample_record(sample: FaceSample, person: str) -> SampleRecord:
        return SampleRecord(
            id=sample.id,
            person=person,
            model=sample.model,
            source_path=sample.source_path,
            source_sha256=sample.source_sha256,
            box=tuple(sample.box),
            confidence=sample.confidence,
            quality=sample.quality,
            created=_aware(sample.created_at),
        )

    # --- reading --------------------------------------------------------------------------------

    def revision(self) -> int:
        """Bumped by every change. Read before each identify, so it skips the ORM session (half
        the time of one: 0.5 against 0.9 ms with the caches cold, as they are after a photo)."""
        try:
            with self._read_engine.connect() as connection:
                return connection.scalar(_REVISION) or 0
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None

    def people(self) -> list[PersonRecord]:
        with self.reading() as session:
            counts = (
                select(Person, func.count(FaceSample.id))
                .outerjoin(FaceSample)
                .group_by(Person.id)
                .order_by(Person.name)
            )
            return [self._record(person, count) for person, count in session.execute(counts)]

    def person(self, name: str) -> PersonRecord:
        with self.reading() as session:
            person = self._person(session, name)
            return self._record(person, self._count(session, person.id))

    def samples(self, name: str | None = None) -> list[SampleRecord]:
        with self.reading() as session:
            query = select(FaceSample, Person.name).join(Person).order_by(FaceSample.id)
            if name is not None:
                query = query.where(FaceSample.person_id == self._person(session, name).id)
            return [self._sample_record(sample, person) for sample, person in session.execute(query)]

    def models(self) -> set[str]:
        return {model for model, _centre in self.kinds()}

    def kinds(self) -> set[tuple[str, str | None]]:
        """The kinds of vector the samples hold: (model, centre) pairs. Only one kind is comparable.
        Read from the people's centroids (one row a person, indexed), not from every sample."""
        with self.reading() as session:
            rows = session.execute(select(PersonVector.model, PersonVector.centre).distinct())
            return {(model, centre) for model, centre in rows}

    # --- the people's centroids and the change log, for the identification index -------------------

    def centroids(
        self, model: str, centre: str | None, people: Iterable[int] | None = None, *, after: int = 0, limit: int = 0
    ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(person ids, names, centroids) of one kind of vector, by person id: every person's in
        chunks (ids above ``after``, at most ``limit``), or those of ``people``."""
        query = (
            select(
                PersonVector.person_id, Person.name, PersonVector.centroid, PersonVector.dimension, PersonVector.key_id
            )
            .join(Person, Person.id == PersonVector.person_id)
            .where(PersonVector.model == model, _same_centre(PersonVector.centre, centre))
            .order_by(PersonVector.person_id)
        )
        if people is not None:
            query = query.where(PersonVector.person_id.in_([int(p) for p in people]))
        else:
            query = query.where(PersonVector.person_id > after)
            if limit:
                query = query.limit(limit)
        with self.reading() as session:
            rows = session.execute(query).all()
        return _unpack([(r[0], r[1], self._open(r[2], r[4], CENTROID), r[3]) for r in rows])

    def people_count(self, model: str, centre: str | None) -> int:
        """People with a centroid of this kind: the gallery's size, as identification counts it."""
        with self.reading() as session:
            query = select(func.count(PersonVector.person_id)).where(
                PersonVector.model == model, _same_centre(PersonVector.centre, centre)
            )
            return session.scalar(query) or 0

    def changes_since(self, revision: int) -> tuple[int, list[tuple[int | None, str]]] | None:
        """(current revision, [(person id, kind), ...]) of every change after ``revision``, oldest
        first; None when the change log no longer reaches back that far (pruned)."""
        with self.reading() as session:
            current = session.scalar(_REVISION) or 0
            if current == revision:
                return current, []
            first = session.scalar(select(func.min(ChangeLog.revision)).where(ChangeLog.revision > revision))
            if first != revision + 1 or revision > current:
                return None
            rows = session.execute(
                select(ChangeLog.person_id, ChangeLog.kind)
                .where(ChangeLog.revision > revision, ChangeLog.revision <= current)
                .order_by(ChangeLog.revision, ChangeLog.id)
            )
            return current, [(person_id, kind) for person_id, kind in rows]

    def vectors(self, model: str, table: type[FaceSample] | type[UnknownSighting] = FaceSample):
        """(ids, centres, vectors) of the rows of ``model`` in ``table`` (the samples, or the unknown
        sightings), for moving them to another kind of vector."""
        with self.reading() as session:
            rows = session.execute(
                select(table.id, table.centre, table.embedding, table.dimension, table.key_id)
                .where(table.model == model)
                .order_by(table.id)
            ).all()
        what = f"{table.__tablename__}.embedding"
        return _unpack([(r[0], r[1], self._open(r[2], r[4], what), r[3]) for r in rows])

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
        with self.reading() as session:
            rows = session.execute(query).all()
        return _unpack([(r[0], r[1], self._open(r[2], r[4], EMBEDDING), r[3]) for r in rows])

    def setting(self, key: str) -> dict | None:
        with self.reading() as session:
            row = session.get(StoreSetting, key)
            return dict(row.value) if row else None

    # --- changing (each call is one transaction) ------------------------------------------------

    def add_samples(self, name: str, samples: Sequence[StoredSample]) -> tuple[PersonRecord, int, list[str]]:
        """Add samples to a person (created if new). Returns the person, how many were added, and
        the source paths skipped as duplicates (same photo sha256 already held for this person).
        """
        with self.transaction() as session:
            record, added, duplicates = self.add_in(session, name, samples)
            if added:
                self._audit(session, "enrol", record.name, added=added)
            return record, added, duplicates

    def add_in(
        self, session: Session, name: str, samples: Sequence[StoredSample]
    ) -> tuple[PersonRecord, int, list[str]]:
        """:meth:`add_samples` inside a caller's transaction (to join it with other changes)."""
        name = check_name(name)
        rules = self.may_keep(session, name)
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
            embedding, key_id = self._seal(np.asarray(sample.embedding, dtype="<f4").tobytes(), EMBEDDING)
            crop, _ = self._seal(sample.crop_png if rules["keep_photos"] else b"", CROP)
            session.add(
                FaceSample(
                    person_id=person.id,
                    model=sample.model,
                    centre=sample.centre,
                    preprocessing=sample.preprocessing,
                    dimension=int(sample.embedding.shape[0]),
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
            )
            added += 1
        if added:
            person.updated_at = utcnow()
            session.flush()
            self._changed(session, "samples", [person.id])
        session.flush()
        record = self._record(person, self._count(session, person.id))
        if new:
            outbox.emit(session, "person.enrolled", {"name": person.name, "person_id": person.id, "samples": added})
        return record, added, duplicates

    @staticmethod
    def may_keep(session: Session, name: str) -> dict:
        """The privacy settings, once it is known that ``name``'s biometric data may be kept:
        ConsentRequiredError if the store requires consent and holds no live record for them."""
        rules = policy.read(session)
        if rules["require_consent"]:
            given = session.scalar(
                select(Consent.id).where(Consent.subject == name, Consent.withdrawn_at.is_(None)).limit(1)
            )
            if given is None:
                raise ConsentRequiredError(
                    f"this store requires consent before enrolment and holds none for {name!r}: "
                    f"record it first (facerec consent give {name} --purpose ... --policy ...)"
                )
        return rules

    def check_consent(self, name: str) -> None:
        """ConsentRequiredError if enrolling ``name`` now would be refused for want of consent."""
        with self.reading() as session:
            self.may_keep(session, check_name(name))

    def dump(self, name: str | None = None) -> list[dict]:
        """Everything the store holds, as plain data (for export): people with their samples (of
        the one person ``name`` only, if given)."""
        with self.reading() as session:
            if name is None:
                people = session.scalars(select(Person).order_by(Person.name)).all()
            else:
                people = [self._person(session, name)]
            return [
                {
                    "name": person.name,
                    "external_id": person.external_id,
                    "metadata": person.info,
                    "created": _aware(person.created_at).isoformat(),
                    "updated": _aware(person.updated_at).isoformat(),
                    "samples": [
                        {
                            "embedding": self._vector(s.embedding, s.key_id, s.dimension).copy(),
                            "model": s.model,
                            "centre": s.centre,
                            "preprocessing": s.preprocessing,
                            "crop_png": self._open(s.crop, s.key_id, CROP),
                            "source_path": s.source_path,
                            "source_sha256": s.source_sha256,
                            "box": s.box,
                            "landmarks": s.landmarks,
                            "confidence": s.confidence,
                            "quality": s.quality,
                            "created": _aware(s.created_at).isoformat(),
                        }
                        for s in sorted(person.samples, key=lambda s: s.id)
                    ],
                }
                for person in people
            ]

    def load(self, people: Sequence[dict]) -> tuple[int, int]:
        """Add dumped people and samples in one transaction (merging into people of the same name,
        skipping photos a person holds already). Returns (people touched, samples added).
        Samples of another model (or centre) than the store holds are refused: kinds never mix."""
        added = 0
        touched: set[int] = set()
        enrolled: list[dict] = []
        incoming = {(sample["model"], sample.get("centre")) for entry in people for sample in entry["samples"]}
        with self.transaction() as session:
            held = held_kinds(session)
            if held and incoming - held:
                raise StoreError(
                    f"the samples to import hold embeddings of {describe_kinds(incoming)}; "
                    f"the store holds {describe_kinds(held)}"
                )
            for entry in people:
                name = check_name(entry["name"])
                rules = self.may_keep(session, name)
                person = session.scalar(select(Person).where(Person.name == name))
                if person is None:
                    person = Person(name=name, external_id=entry.get("external_id"), info=entry.get("metadata"))
                    if entry.get("created"):
                        person.created_at = datetime.fromisoformat(entry["created"])
                    session.add(person)
                    session.flush()
                    enrolled.append({"name": person.name, "person_id": person.id, "samples": len(entry["samples"])})
                held = set(session.scalars(select(FaceSample.source_sha256).where(FaceSample.person_id == person.id)))
                for sample in entry["samples"]:
                    if sample["source_sha256"] in held:
                        continue
                    held.add(sample["source_sha256"])
                    vector = np.asarray(sample["embedding"], dtype="<f4")
                    embedding, key_id = self._seal(vector.tobytes(), EMBEDDING)
                    crop, _ = self._seal(sample["crop_png"] if rules["keep_photos"] else b"", CROP)
                    session.add(
                        FaceSample(
                            person_id=person.id,
                            model=sample["model"],
                            centre=sample.get("centre"),  # archives of facerec before 0004 hold raw vectors
                            preprocessing=sample["preprocessing"],
                            dimension=int(vector.shape[0]),
                            embedding=embedding,
                            key_id=key_id,
                            crop=crop,
                            source_path=sample["source_path"],
                            source_sha256=sample["source_sha256"],
                            box=[float(v) for v in sample["box"]],
                            landmarks=[[float(x), float(y)] for x, y in sample["landmarks"]],
                            confidence=float(sample["confidence"]),
                            quality=sample["quality"],
                        )
                    )
                    added += 1
                    touched.add(person.id)
                person.updated_at = utcnow()
            if added:
                session.flush()
                self._changed(session, "samples", touched)
            for data in enrolled:  # last: outbox.emit's lock is taken after every other (no deadlock)
                outbox.emit(session, "person.enrolled", data)
        return len(people), added

    def replace_embeddings(
        self, model: str, centre: str | None, vectors: dict[int, np.ndarray], drop_settings: Sequence[str] = ()
    ) -> int:
        """Swap listed samples' embeddings for another kind's (another model's of the same stored
        crops, or the same vectors on another centre), in one transaction, dropping the settings
        named (calibrations made for the old kind). The preprocessing recorded is still the crop's."""
        with self.transaction() as session:
            touched: set[int] = set()
            for sample_id, vector in vectors.items():
                sample = session.get(FaceSample, sample_id)
                if sample is None:
                    raise UnknownPersonError(f"no face sample with id {sample_id}")
                vector = np.asarray(vector, dtype="<f4")
                self.write_sealed(sample, embedding=vector.tobytes())
                sample.dimension = int(vector.shape[0])
                sample.model, sample.centre = model, centre
                sample.preprocessing = dict(sample.preprocessing) | {"model": model, "centre": centre}
                touched.add(sample.person_id)
            for key in drop_settings:
                session.execute(delete(StoreSetting).where(StoreSetting.key == key))
            if vectors or drop_settings:
                session.flush()
                self._changed(session, "samples", touched)
        return len(vectors)

    def crop(self, sample_id: int) -> bytes:
        """One sample's aligned crop (PNG; b"" where photos are not kept). A read on someone's behalf
        (the HTTP API: an actor is set) is audited, as the person's face was shown."""
        with self.reading() as session:
            query = (
                select(FaceSample.crop, FaceSample.key_id, Person.name)
                .join(Person, Person.id == FaceSample.person_id)
                .where(FaceSample.id == int(sample_id))
            )
            row = session.execute(query).first()
        if row is None:
            raise UnknownPersonError(f"no face sample with id {sample_id}")
        crop = self._open(row[0], row[1], CROP)
        if _ACTOR.get() is not None:
            self.record("read_crop", row[2], sample=int(sample_id))
        return crop

    def crops(self, ids: Sequence[int] | None = None) -> list[tuple[int, bytes]]:
        """(sample id, PNG crop) of every sample, or of those listed."""
        query = select(FaceSample.id, FaceSample.crop, FaceSample.key_id).order_by(FaceSample.id)
        if ids is not None:
            query = query.where(FaceSample.id.in_([int(i) for i in ids]))
        with self.reading() as session:
            return [(sample_id, self._open(crop, key, CROP)) for sample_id, crop, key in session.execute(query)]

    def remove_setting(self, key: str) -> None:
        with self.transaction() as session:
            session.execute(delete(StoreSetting).where(StoreSetting.key == key))
            self._changed(session, "settings")
            self._audit(session, "settings", key, value=None)

    def put_setting(self, key: str, value: dict) -> None:
        with self.transaction() as session:
            session.merge(StoreSetting(key=key, value=value))
            self._changed(session, "settings")
            self._audit(session, "settings", key, value=value)

    def rename(self, old: str, new: str) -> PersonRecord:
        new = check_name(new)
        with self.transaction() as session:
            person = self._person(session, old)
            if new != person.name and session.scalar(select(Person.id).where(Person.name == new)) is not None:
                raise DuplicateNameError(f"a person named {new!r} exists already")
            old_name = person.name
            person.name, person.updated_at = new, utcnow()
            # Consent is recorded by name (before enrolment): it follows the person to the new one.
            session.execute(update(Consent).where(Consent.subject == old_name).values(subject=new))
            self._changed(session, "renamed", [person.id])
            self._audit(session, "rename", old_name, to=new)
            if new != old_name:
                data = {"name": new, "old_name": old_name, "person_id": person.id}
                outbox.emit(session, "person.renamed", data, outbox.person_groups(session, person.id))
            session.flush()
            return self._record(person, self._count(session, person.id))

    def remove(self, name: str) -> int:
        """Delete a person with every sample (embedding and crop). Returns the samples removed."""
        return self.erase(name)["samples"]

    def erase(self, name: str) -> dict:
        """Delete a person wholly: samples, centroid, attendance and spoof events (ON DELETE CASCADE).
        Returns the receipt (what was erased), also written to the audit."""
        with self.transaction() as session:
            person = self._person(session, name)
            receipt = self._biometric_counts(session, person.id) | {
                "attendance_events": session.scalar(
                    select(func.count(AttendanceEvent.id)).where(AttendanceEvent.person_id == person.id)
                )
                or 0,
                "person_row": 1,
            }
            groups = outbox.person_groups(session, person.id)
            session.delete(person)  # the database's ON DELETE CASCADE removes the samples, the centroid
            session.flush()
            self._changed(session, "removed", [person.id])
            self._audit(session, "remove", person.name, always=True, receipt=receipt)
            outbox.emit(session, "person.removed", {"name": person.name, "person_id": person.id}, groups)
        self._checkpoint()
        return receipt

    def _biometric_counts(self, session: Session, person_id: int) -> dict:
        """What of a person's biometric data the store holds now (an erasure receipt's numbers)."""
        samples = session.execute(
            select(func.count(FaceSample.id), func.coalesce(func.sum(func.length(FaceSample.crop)), 0)).where(
                FaceSample.person_id == person_id
            )
        ).one()
        crops = session.scalar(
            select(func.count(FaceSample.id)).where(FaceSample.person_id == person_id, func.length(FaceSample.crop) > 0)
        )
        centroids = session.scalar(select(func.count()).where(PersonVector.person_id == person_id)) or 0
        vectors = 0
        if self.postgresql and (self.pgvector or self._has_vector_column(session)):
            vectors = session.scalar(
                text("SELECT count(*) FROM person_vector WHERE person_id = :p AND centroid_v IS NOT NULL"),
                {"p": person_id},
            )
        snapshots = sum(
            session.scalar(
                select(func.count(table.id)).where(table.person_id == person_id, func.length(table.snapshot) > 0)
            )
            or 0
            for table in (AttendanceEvent, SpoofEvent)
        )
        return {
            "samples": samples[0],
            "embeddings": samples[0],
            "crops": crops or 0,
            "centroids": centroids,
            "pgvector_vectors": vectors or 0,
            "snapshots": snapshots,
        }

    def erase_biometrics_in(self, session: Session, person_id: int) -> dict:
        """Erase a person's biometric data in a caller's transaction, keeping the person and their
        attendance rows (without snapshots: those follow the attendance retention). The receipt."""
        receipt = self._biometric_counts(session, person_id)
        session.execute(delete(FaceSample).where(FaceSample.person_id == person_id))
        for table in (AttendanceEvent, SpoofEvent):
            session.execute(update(table).where(table.person_id == person_id).values(snapshot=b"", key_id=None))
        session.flush()
        self._changed(session, "samples", [person_id])  # the centroid (and its pgvector copy) goes
        return receipt

    def _checkpoint(self) -> None:
        """After an erasure on SQLite, the write-ahead log still holds the pages as they were: fold
        it into the database file (whose freed space secure_delete has zeroed) and empty it, so the
        erased face is gone from the disk, not only from the tables. PostgreSQL: see docs/privacy.md."""
        if make_url(self.url).get_backend_name() == "sqlite" and not self.read_only:
            connection = self.engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
            try:
                busy, *_ = connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                connection.close()
            if busy:  # a reader held an older snapshot: the next checkpoint folds the rest in
                log.warning("the store's write-ahead log could not be emptied after an erasure (a reader was busy)")

    # --- groups ----------------------------------------------------------------------------------------

    def group_add(self, group: str, names: Sequence[str]) -> list[str]:
        """Put enrolled people in ``group`` (created by its first member). Returns its members."""
        group = check_name(group, "group")
        with self.transaction() as session:
            for name in names:
                person = self._person(session, name)
                if session.get(GroupMember, (group, person.id)) is None:
                    session.add(GroupMember(group_name=group, person_id=person.id))
            session.flush()
            self._audit(session, "group_add", group, people=[check_name(n) for n in names])
            return self._members(session, group)

    def group_remove(self, group: str, names: Sequence[str]) -> list[str]:
        """Take people out of ``group`` (a group without members is gone). Returns its members."""
        group = check_name(group, "group")
        with self.transaction() as session:
            for name in names:
                person = self._person(session, name)
                session.execute(
                    delete(GroupMember).where(GroupMember.group_name == group, GroupMember.person_id == person.id)
                )
            self._audit(session, "group_remove", group, people=[check_name(n) for n in names])
            return self._members(session, group)

    def groups(self) -> dict[str, list[str]]:
        """Every group with its members (names, sorted)."""
        with self.reading() as session:
            rows = session.execute(
                select(GroupMember.group_name, Person.name)
                .join(Person, Person.id == GroupMember.person_id)
                .order_by(GroupMember.group_name, Person.name)
            )
            found: dict[str, list[str]] = {}
            for group, name in rows:
                found.setdefault(group, []).append(name)
            return found

    def group_members(self, group: str) -> list[str]:
        """The members of ``group``; UnknownPersonError if it has none (no such group)."""
        group = check_name(group, "group")
        with self.reading() as session:
            members = self._members(session, group)
        if not members:
            raise UnknownPersonError(f"no group named {group!r} (facerec group add {group} NAME...)")
        return members

    @staticmethod
    def _members(session: Session, group: str) -> list[str]:
        rows = session.scalars(
            select(Person.name)
            .join(GroupMember, GroupMember.person_id == Person.id)
            .where(GroupMember.group_name == group)
            .order_by(Person.name)
        )
        return list(rows)

    def remove_sample(self, sample_id: int) -> SampleRecord:
        with self.transaction() as session:
            sample = session.get(FaceSample, sample_id)
            if sample is None:
                raise UnknownPersonError(f"no face sample with id {sample_id}")
            record = self._sample_record(sample, sample.person.name)
            sample.person.updated_at = utcnow()
            person_id = sample.person_id
            session.delete(sample)
            session.flush()
            self._changed(session, "samples", [person_id])
            self._audit(session, "remove_sample", record.person, sample=record.id)
            return record
