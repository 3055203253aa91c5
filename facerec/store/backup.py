"""A consistent copy of a live store, and putting one back.

SQLite: the online backup API copies the database page by page inside one read transaction, so
the copy is the store as it stood at one moment, whole, while enrolments and check-ins go on
(WAL: the copy never blocks a writer). It is written beside the target and renamed into place,
so a failed backup never leaves half a file under the name asked for.

PostgreSQL has its own tools for this, better than any we would write: ``pg_dump`` takes a
consistent snapshot of a live database and ``pg_restore`` brings it back (see
:func:`postgresql_guidance`).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.engine import make_url

from facerec.errors import StoreError
from facerec.store import migrations
from facerec.store.models import ChangeLog, StoreState
from facerec.store.repository import Store

PAGES_PER_STEP = -1  # the whole database in one step: one snapshot, the copy consistent


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    people: int
    samples: int
    revision: int
    size: int


def postgresql_guidance(url: str) -> str:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=True)
    return (
        "facerec backup and restore copy SQLite stores; a PostgreSQL store is backed up with PostgreSQL's "
        f"own tools, consistent while facerec runs:\n  pg_dump --format=custom --file=BACKUP '{plain}'\n"
        f"and restored (replacing what is there) with:\n  pg_restore --clean --if-exists --dbname='{plain}' BACKUP"
    )


def _sqlite_path(store: Store) -> Path:
    url = make_url(store.url)
    if url.get_backend_name() != "sqlite":
        raise StoreError(postgresql_guidance(store.url))
    if not url.database or url.database == ":memory:":
        raise StoreError("an in-memory store has nothing to back up")
    return Path(url.database)


def describe(path: Path) -> BackupInfo:
    """What a backup file holds; StoreError if it is not a facerec store."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"person", "face_sample", "store_state", "alembic_version"} <= tables:
                raise StoreError(f"{path}: not a facerec store (no person, face_sample or store_state table)")
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            if version is None or version[0] > migrations.HEAD:
                raise StoreError(f"{path}: made by a newer facerec (schema {version and version[0]})")
            people = connection.execute("SELECT count(*) FROM person").fetchone()[0]
            samples = connection.execute("SELECT count(*) FROM face_sample").fetchone()[0]
            revision = connection.execute("SELECT revision FROM store_state WHERE id = 1").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a facerec store ({exc})") from None
    return BackupInfo(path, people, samples, revision[0] if revision else 0, path.stat().st_size)


def backup(store: Store, target: str | os.PathLike) -> BackupInfo:
    """Copy the live store to ``target`` (replaced if it exists), consistent as of one moment."""
    source = _sqlite_path(store)
    target = Path(target)
    if target.resolve() == source.resolve():
        raise StoreError(f"{target} is the store itself: back it up to another file")
    partial = target.with_name(target.name + ".partial")
    try:
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as live,
            closing(sqlite3.connect(partial)) as copy,
        ):
            live.backup(copy, pages=PAGES_PER_STEP)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"cannot back up {source} to {target}: {exc}") from None
    return describe(target)


def restore(store: Store, source: str | os.PathLike) -> BackupInfo:
    """Replace the store's whole content with the backup's (one transaction: on failure the
    store is as it was). Every process's identification index then rebuilds itself: the store
    revision moves past any they hold and the change log starts afresh."""
    target = _sqlite_path(store)
    info = describe(Path(source))
    before = store.revision()
    try:
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup_file,
            closing(sqlite3.connect(target, timeout=30)) as live,
        ):
            backup_file.backup(live, pages=PAGES_PER_STEP)
            live.execute("PRAGMA journal_mode=WAL")  # as every connection of the store expects
    except sqlite3.Error as exc:
        raise StoreError(f"cannot restore {source} into {target}: {exc}") from None
    restored = Store(store.url)  # brings an older backup's schema up to date
    with restored.transaction() as session:
        session.execute(delete(ChangeLog))
        session.execute(update(StoreState).where(StoreState.id == 1).values(revision=max(before, info.revision) + 1))
    restored.close()
    return info
