"""Store: the unit of work every repository of the identity store shares.

It holds the engine (opened by facerec.store.engine), the transactions, the sealing of biometric
columns, and the store revision with its change log. Every call that changes something runs as
one unit of work: it commits whole or not at all (a failed or killed enrolment leaves the store as
it was) and bumps the store revision, which derived read models (the faiss index) compare against
to know whether they are current. The records themselves are read and written by one class per
kind (facerec.store.people, samples, centroids, groups, settings, audit, archive, and
attendance_log, api_keys, privacy, subscriptions), each made over a Store: ``Groups(store)``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import cast

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from facerec.errors import EncryptionKeyError, StoreUnavailableError
from facerec.store import pgvector
from facerec.store.centroids import Centroids
from facerec.store.engine import READ_ONLY, backend, open_engine, shown, store_url
from facerec.store.engine import default_url as default_url  # re-exported: facerec.store imports it here
from facerec.store.models import (
    CENTROID,
    EMBEDDING,
    SEALED_COLUMNS,
    SEALED_TABLES,
    ChangeLog,
    StoreState,
)
from facerec.store.sealing import Keyring

log = logging.getLogger(__name__)

_REVISION = select(StoreState.revision).where(StoreState.id == 1)
# The change log keeps the last CHANGE_LOG_KEPT revisions (pruned every CHANGE_LOG_PRUNE_EVERY):
# a process whose index is further behind than that rebuilds it instead of catching up.
CHANGE_LOG_KEPT = 100_000
CHANGE_LOG_PRUNE_EVERY = 1_000


class Store:
    """People and their face samples in SQL (SQLite by default, PostgreSQL by URL).

    ``keyring`` (default: the key of ``$FACEREC_KEY_FILE`` / ``$FACEREC_KEY``, see
    facerec.store.sealing) seals embeddings, centroids and crops as they are written; a store that
    holds rows sealed by a key the keyring lacks refuses to open, before anything is read."""

    def __init__(self, url: str | None = None, keyring: Keyring | None = None) -> None:
        self.url = store_url(url) if url else default_url()
        self.keyring = Keyring.from_environment() if keyring is None else keyring
        self.engine, self.read_only = open_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self._readers = sessionmaker(self._read_engine, expire_on_commit=False)
        # PostgreSQL with pgvector: person_vector.centroid_v, a copy of each centroid as a `vector`
        # that PostgreSQL itself searches (facerec.identity.pg_index), written in the same transaction.
        self.postgresql = backend(self.url) == "postgresql"
        self.pgvector = False  # known to have the column (checked again where a centroid is written)
        self._check_keys()

    def close(self) -> None:
        self.engine.dispose()

    # --- sealing ------------------------------------------------------------------------------------

    def sealed_with(self) -> set[str]:
        """The ids of the keys that sealed rows held now. Read key by key from each table's index on
        key_id (the least id above the last found), not by scanning it: a handful of index probes
        at any size, which is what a cold start pays for the check."""
        found: set[str] = set()
        with self.reading() as session:
            for table in SEALED_TABLES:
                column = table.__table__.c.key_id
                key_id = session.scalar(select(func.min(column)))
                while key_id is not None:
                    found.add(key_id)
                    key_id = session.scalar(select(func.min(column)).where(column > key_id))
        return found

    def _check_keys(self) -> None:
        """Refuse a store whose data some key we lack sealed: nothing is decrypted or written."""
        missing = self.sealed_with() - self.keyring.ids
        if not missing:
            return
        where = shown(self.url)
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

    def seal(self, data: bytes, what: str) -> tuple[bytes, str | None]:
        """``data`` sealed as column ``what`` (see facerec.store.models.EMBEDDING), with the key id."""
        return self.keyring.seal(data, what)

    def unseal(self, blob: bytes, key_id: str | None, what: str) -> bytes:
        return self.keyring.open(blob, key_id, what)

    def vector(self, blob: bytes, key_id: str | None, dimension: int, what: str = EMBEDDING) -> np.ndarray:
        """A sealed float32 vector, opened."""
        return np.frombuffer(self.unseal(blob, key_id, what), dtype="<f4", count=dimension)

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
            sealed, used = self.seal(data, f"{table.__tablename__}.{column}")
            setattr(row, column, sealed)
            key_id = key_id or used
        row.key_id = key_id

    def read_sealed(self, row, column: str) -> bytes:
        """The plain bytes of a sealed column of an ORM ``row``."""
        return self.unseal(getattr(row, column), row.key_id, f"{type(row).__tablename__}.{column}")

    # --- pgvector (PostgreSQL only) -----------------------------------------------------------------

    def pgvector_available(self) -> bool:
        """Whether this PostgreSQL server has the vector extension (installed or installable)."""
        return self.postgresql and pgvector.available(self.engine)

    def enable_pgvector(self, dimension: int) -> None:
        """Make PostgreSQL able to search the centroids itself (see facerec.store.pgvector.enable);
        every later centroid write keeps the column in step."""
        pgvector.enable(self.engine, dimension, lambda blob, key_id, dim: self.vector(blob, key_id, dim, CENTROID))
        self.pgvector = True

    def uses_pgvector(self, session: Session) -> bool:
        """Whether centroids have a pgvector copy to keep in step (another process may have set
        pgvector up since this one opened the store: asked of the database until it is known)."""
        if self.postgresql and (self.pgvector or pgvector.has_vector_column(session)):
            self.pgvector = True
            return True
        return False

    # --- transactions -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A consistent view for reads that change nothing; on SQLite it takes no write lock."""
        try:
            with self._readers.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: Exception) -> StoreUnavailableError:
        """What a database failure means to the person who asked (the driver's words kept last)."""
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = shown(self.url)
        if "readonly" in reason or "read-only" in reason:
            return StoreUnavailableError(f"the store at {where} is read-only: nothing was changed ({reason})")
        if "disk is full" in reason or "No space left" in reason:
            return StoreUnavailableError(f"the disk holding the store at {where} is full: nothing was changed")
        if "locked" in reason:
            return StoreUnavailableError(f"the store at {where} is busy (another writer): try again ({reason})")
        return StoreUnavailableError(f"the store at {where} cannot be reached: {reason}")

    def checkpoint(self) -> None:
        """After an erasure on SQLite, the write-ahead log still holds the pages as they were: fold
        it into the database file (whose freed space secure_delete has zeroed) and empty it, so the
        erased face is gone from the disk, not only from the tables. PostgreSQL: see docs/privacy.md."""
        if backend(self.url) == "sqlite" and not self.read_only:
            connection = self.engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
            try:
                sqlite = cast(sqlite3.Connection, connection.driver_connection)
                busy, *_ = sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                connection.close()
            if busy:  # a reader held an older snapshot: the next checkpoint folds the rest in
                log.warning("the store's write-ahead log could not be emptied after an erasure (a reader was busy)")

    # --- the revision and the change log ------------------------------------------------------------

    def revision(self) -> int:
        """Bumped by every change. Read before each identify, so it skips the ORM session (half
        the time of one: 0.5 against 0.9 ms with the caches cold, as they are after a photo)."""
        try:
            with self._read_engine.connect() as connection:
                return connection.scalar(_REVISION) or 0
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None

    def changed(self, session: Session, kind: str, people: Iterable[int] = ()) -> int:
        """Record a change in the caller's transaction: the store revision goes up by one, the
        change log says which people it touched, and the centroids of people whose samples
        changed are made again from their samples. Returns the new revision."""
        session.execute(update(StoreState).where(StoreState.id == 1).values(revision=StoreState.revision + 1))
        revision = session.scalar(_REVISION) or 0
        touched = sorted(set(people))
        if kind == "samples":
            centroids = Centroids(self)
            for person_id in touched:
                centroids.update_in(session, person_id)
        logged: list[int | None] = [*touched] or [None]  # a change of no one in particular: one row
        session.add_all([ChangeLog(revision=revision, person_id=p, kind=kind) for p in logged])
        if revision % CHANGE_LOG_PRUNE_EVERY == 0:
            session.execute(delete(ChangeLog).where(ChangeLog.revision <= revision - CHANGE_LOG_KEPT))
        return revision

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
