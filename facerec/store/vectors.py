"""Kinds of vector and the arrays rows become: helpers the samples, the centroids, the archive
and the attendance log share, so that "which kinds does the store hold" means one thing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from facerec.store.models import FaceSample


def held_kinds(session: Session) -> set[tuple[str, str | None]]:
    """The (model, centre) pairs of the samples, read in a caller's transaction."""
    return {
        (model, centre) for model, centre in session.execute(select(FaceSample.model, FaceSample.centre).distinct())
    }


def same_centre(column, centre: str | None):
    """A filter on a centre column: SQL's ``= NULL`` never holds, so no centre is ``IS NULL``."""
    return column.is_(None) if centre is None else column == centre


def describe_kinds(kinds: set[tuple[str, str | None]]) -> str:
    """Kinds of vector as people read them: "casia-webface (centred on 1a2b...)", "... (not centred)"."""
    return ", ".join(
        f"{model} ({f'centred on {centre}' if centre else 'not centred'})" for model, centre in sorted(kinds, key=str)
    )


def unpack(rows: Sequence[tuple[Any, Any, bytes, int]]) -> tuple[np.ndarray, list, np.ndarray]:
    """(ids, a column, N x D float32 vectors) from rows of (id, column, embedding blob, dimension)."""
    if not rows:
        return np.zeros(0, np.int64), [], np.zeros((0, 0), np.float32)
    vectors = np.stack([np.frombuffer(blob, dtype="<f4", count=dim) for _, _, blob, dim in rows])
    return np.array([r[0] for r in rows], np.int64), [r[1] for r in rows], vectors.astype(np.float32)
