"""PostgreSQL's pgvector: person_vector.centroid_v, a copy of each centroid as a ``vector`` that
PostgreSQL itself searches (facerec.identity.pg_index), written in the same transaction.

Apart from the repository so that everything that knows the extension (its column, its text form
of a vector, its index) is in one place; SQLite and PostgreSQL without it never reach this code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from facerec.errors import StoreError

# The sealed centroid of a row, opened: (blob, key id, dimension) -> vector.
Opener = Callable[[bytes, str | None, int], np.ndarray]
_SET_VECTOR = text("UPDATE person_vector SET centroid_v = CAST(:v AS vector) WHERE person_id = :p")


def vector_text(vector: np.ndarray) -> str:
    """pgvector's text form of a vector: [v1,v2,...], every float32 written so it reads back exact."""
    return "[" + ",".join(repr(float(v)) for v in np.asarray(vector, np.float32)) + "]"


def has_vector_column(session: Session) -> bool:
    """Whether person_vector has its ``vector`` copy (set up by this or another process)."""
    query = text(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'person_vector' AND column_name = 'centroid_v'"
    )
    return session.scalar(query) is not None


def available(engine: Engine) -> bool:
    """Whether this PostgreSQL server has the vector extension (installed or installable); never
    for another database."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as connection:
        return connection.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")) is not None


def enable(engine: Engine, dimension: int, open_centroid: Opener) -> None:
    """The extension, the vector column (filled from the centroids already held, opened with
    ``open_centroid``), and an HNSW index for ``dimension``. Idempotent, and cheap once done."""
    if not available(engine):
        raise StoreError(
            "this PostgreSQL server has no pgvector extension (see ../shared/vendor/README.md to build it), "
            "so --index pgvector cannot be used; --index faiss works everywhere"
        )
    dimension = int(dimension)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            connection.execute(text("ALTER TABLE person_vector ADD COLUMN IF NOT EXISTS centroid_v vector"))
            rows = connection.execute(
                text("SELECT person_id, centroid, dimension, key_id FROM person_vector WHERE centroid_v IS NULL")
            ).all()
            for person_id, blob, dim, key_id in rows:
                vector = open_centroid(blob, key_id, dim)
                connection.execute(_SET_VECTOR, {"v": vector_text(vector), "p": person_id})
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
        raise StoreError(f"cannot set up pgvector in {engine.url.render_as_string()}: {exc}") from None


def write_centroid(session: Session, person_id: int, centroid: np.ndarray) -> None:
    """Keep a person's ``vector`` copy in step with the centroid just written."""
    session.execute(_SET_VECTOR, {"v": vector_text(centroid), "p": person_id})


def count_vectors(session: Session, person_id: int) -> int:
    """A person's ``vector`` copies held (0 or 1): part of an erasure receipt."""
    query = text("SELECT count(*) FROM person_vector WHERE person_id = :p AND centroid_v IS NOT NULL")
    return session.scalar(query, {"p": person_id}) or 0
