"""Where the store lives and how its engine is opened: the home folder, database URLs, and
SQLite's connection set-up (pragmas, who takes the write lock, read-only files).

Apart from the repository so that opening a database (a question of files, URLs and drivers) is
read in one place, and the repository only asks for an engine that is ready for its transactions.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from facerec.errors import StoreError, StoreUnavailableError
from facerec.store import migrations

HOME_ENV = "FACEREC_HOME"
BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "facerec_read_only"  # execution option of the connections reads go through
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def facerec_home() -> Path:
    """``$FACEREC_HOME``, else ``$XDG_DATA_HOME/facerec`` (``~/.local/share/facerec``)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "facerec"


def default_url() -> str:
    return f"sqlite:///{facerec_home() / 'facerec.db'}"


def store_url(value: str) -> str:
    """A database URL as given, or the URL of a SQLite store for a plain path (``people.db``,
    ``/tmp/x.db``: what people type first) that ends in .db, .sqlite or .sqlite3 or is a file.
    Other text stays as it is, to be refused as not a URL, rather than become a stray file."""
    path = Path(value).expanduser()
    if "://" not in value and (path.suffix.lower() in SQLITE_SUFFIXES or path.is_file()):
        return f"sqlite:///{path.absolute()}"
    return value


def backend(url: str) -> str:
    """The database kind a URL names ("sqlite", "postgresql"); StoreError if it is not a URL."""
    try:
        return make_url(url).get_backend_name()
    except ArgumentError:
        raise StoreError(
            f"not a database URL: {url!r} (a SQLite file: PATH.db or sqlite:///PATH; "
            "PostgreSQL: postgresql+psycopg://USER@HOST/DB)"
        ) from None


def shown(url: str) -> str:
    """A URL as messages show it (any password hidden)."""
    return make_url(url).render_as_string()


def read_only_file(url: str) -> bool:
    """A SQLite store that exists but whose folder cannot be written (a read-only mount)."""
    path = make_url(url).database
    if not path or path == ":memory:":
        return False
    return Path(path).is_file() and not os.access(Path(path).parent, os.W_OK)


def sqlite_engine(url: str, read_only: bool = False) -> Engine:
    """A SQLite engine whose connections keep the store's rules: WAL, a busy timeout, foreign keys,
    erased rows overwritten, and the write lock taken at the start of a change."""
    path = str(make_url(url).database or "")
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


def open_engine(url: str) -> tuple[Engine, bool]:
    """(an engine on the store at ``url``, upgraded to the current schema, whether it is read-only).

    A SQLite store on a read-only file system (or a file we may not write) is opened as it stands,
    so whatever only reads (identify, list, report) keeps working; every change is then refused
    with StoreUnavailableError."""
    kind = backend(url)
    try:
        engine = sqlite_engine(url) if kind == "sqlite" else create_engine(url, pool_pre_ping=True)
        with engine.begin() as connection:
            migrations.upgrade(connection)
    except (OperationalError, OSError) as exc:
        if kind != "sqlite" or not read_only_file(url):
            raise StoreError(f"cannot open the store at {shown(url)}: {exc}") from None
        return open_read_only(url), True
    return engine, False


def open_read_only(url: str) -> Engine:
    """SQLite cannot open a WAL database read-only without its -shm file, so it is opened
    immutable: nothing else can be writing to it. Refused if its schema is not this facerec's."""
    engine = sqlite_engine(url, read_only=True)
    try:
        with engine.connect() as connection:
            revision = migrations.current(connection)
    except OperationalError as exc:
        raise StoreError(f"cannot open the store at {url} (read-only): {exc}") from None
    if revision != migrations.HEAD:
        raise StoreUnavailableError(
            f"the store at {url} is read-only and at schema revision {revision}, older than this "
            f"facerec's {migrations.HEAD}: open it once where it can be written to upgrade it"
        )
    return engine
