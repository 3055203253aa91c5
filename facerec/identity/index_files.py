"""Which person index a recognizer searches, and where its faiss file lives beside the store.

A store of one kind of vector (model and centre) has one index: pgvector's inside PostgreSQL where
the store offers it, or a faiss file saved beside the store (its name carries the kind, so two
kinds, or two stores in one folder, never share a file). The choice is made here, once, for the
recognizer and for every command that rebuilds an index.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from facerec.errors import FacerecError

if TYPE_CHECKING:
    from facerec.embedding.embedder import Embedder
    from facerec.identity.index import PersonIndex
    from facerec.identity.pg_index import PgVectorIndex
    from facerec.store import Store

    PeopleIndex = PersonIndex | PgVectorIndex  # either answers the same questions

IndexKind = Literal["auto", "faiss", "pgvector"]
INDEX_KINDS: tuple[IndexKind, ...] = ("auto", "faiss", "pgvector")


def check_index_kind(kind: str) -> IndexKind:
    """An index kind someone asked for, refused unless auto, faiss or pgvector."""
    if kind not in INDEX_KINDS:
        raise FacerecError(f"unknown index {kind!r}; use auto, faiss or pgvector")
    return cast(IndexKind, kind)


def index_file_stem(store: Store, model: str, centre: str | None) -> Path:
    """Where the faiss index of ``model``'s vectors on ``centre`` is saved for ``store``
    (``.faiss`` and ``.json`` are added to it)."""
    from facerec.identity.index import index_stem

    return index_stem(store, f"{model}-{centre or 'raw'}")


def open_person_index(store: Store, embedder: Embedder, kind: IndexKind = "auto") -> PeopleIndex:
    """The index of ``embedder``'s kind of vector in ``store`` (not yet brought up to date):
    ``auto`` is pgvector where the store has it, else faiss."""
    if kind == "auto":
        kind = "pgvector" if store.pgvector_available() else "faiss"
    if kind == "pgvector":
        from facerec.identity.pg_index import PgVectorIndex

        return PgVectorIndex(store, embedder.model, embedder.centre_id, embedder.dimension)
    from facerec.identity.index import PersonIndex

    return PersonIndex(
        store, embedder.model, embedder.centre_id, index_file_stem(store, embedder.model, embedder.centre_id)
    )
