"""Asking a person index who faces are: the nearest people, and the names they give.

Identification and the duplicate-identity check both search the index of centroids (faiss or
pgvector); the searching, one BLAS thread per call, and the rule that an empty gallery is the
caller's mistake live here, so both ask the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from facerec.errors import StoreError
from facerec.identity import matching
from facerec.runtime.settings import single_threaded_blas


class Searchable(Protocol):
    """What a search needs of an index (a faiss PersonIndex or a PgVectorIndex)."""

    def __len__(self) -> int: ...

    def search(self, probes: np.ndarray, k: int) -> list[list[tuple[str, float]]]: ...


def nearest(index: Searchable, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """Each vector's ``k`` nearest people by centroid, (name, similarity) best first. One BLAS
    thread: searches run beside each other on the server's threads, not inside one another."""
    with single_threaded_blas():
        return index.search(np.asarray(vectors, np.float32), k)


def identify_vectors(
    index: Searchable, vectors: np.ndarray, top_k: int, threshold: Callable[[int], float]
) -> list[matching.Match]:
    """Who each vector is: its ``top_k`` candidates, named at ``threshold(people enrolled)``
    (asked only once there is something to name). StoreError when no one is enrolled."""
    if not len(index):
        raise StoreError("no one is enrolled yet: enrol people first (facerec enroll NAME PHOTOS...)")
    if len(vectors) == 0:
        return []
    ranked = nearest(index, vectors, max(top_k, 2))
    return matching.decide_ranked(ranked, threshold(len(index)), top_k)
