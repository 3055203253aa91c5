"""Identification in PostgreSQL with pgvector: the centroids' ``vector`` copy and its HNSW index.

PostgreSQL answers "who is nearest?" itself, so any number of API servers on any machines share
one index with no local copy, and see every enrolment or removal at its commit: the centroid and
its vector are written in the change's own transaction (facerec.store.centroids). HNSW rather than
IVFFlat: it needs no training (IVFFlat's lists are fixed by the rows present when it is built, so
a gallery that grows would need rebuilding) and measured recall@1 1.000 at 10,000 people
(benchmarks/identity_speed.py). Searches widen HNSW's candidate list (``ef_search``) for recall.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from facerec.store import Store
from facerec.store.centroids import Centroids
from facerec.store.pgvector import vector_text

EF_SEARCH = 200


class PgVectorIndex:
    """The same questions as facerec.identity.index.PersonIndex, asked of PostgreSQL."""

    rebuilds = 0  # nothing is ever rebuilt here

    def __init__(self, store: Store, model: str, centre: str | None, dimension: int) -> None:
        store.enable_pgvector(dimension)
        self.store, self.model, self.centre, self.dimension = store, model, centre, int(dimension)
        self.revision = -1
        self._people = 0

    def current(self, revision: int | None = None, progress=None) -> PgVectorIndex:
        """Nothing to catch up: the count of people is read again when the store has changed."""
        revision = self.store.revision() if revision is None else revision
        if revision != self.revision:
            self._people = Centroids(self.store).count(self.model, self.centre)
            self.revision = revision
        return self

    def __len__(self) -> int:
        return self._people

    def rebuild(self, progress=None) -> PgVectorIndex:
        """The vectors are the store's own rows: refill any missing, and count again."""
        self.store.enable_pgvector(self.dimension)
        self.revision = -1
        return self.current(progress=progress)

    def search(self, probes: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Each probe's k nearest people, best first, as (name, similarity).

        The nearest-neighbour part reads person_vector alone, ordered by the indexed expression,
        so PostgreSQL walks the HNSW graph (a filter on the kind of vector would let the planner
        prefer the kind's b-tree and compute every distance: 60 ms against 3 at 10,000 people);
        the kind is checked on the few rows it returns (the recognizer refuses stores that mix).
        """
        d = self.dimension  # an int: part of the index's expression, written into the query
        query = text(
            "SELECT p.name, nearest.similarity, nearest.model, nearest.centre FROM ("
            f"  SELECT person_id, model, centre,"
            f"    -(centroid_v::vector({d}) <#> CAST(:probe AS vector({d}))) AS similarity"
            f"  FROM person_vector WHERE dimension = {d}"
            f"  ORDER BY centroid_v::vector({d}) <#> CAST(:probe AS vector({d})) LIMIT :k"
            ") AS nearest JOIN person p ON p.id = nearest.person_id"
        )
        out = []
        with self.store.reading() as session:
            session.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, int(k))}"))
            for probe in np.asarray(probes, np.float32):
                rows = session.execute(query, {"probe": vector_text(probe), "k": int(k)})
                found = [
                    (name, float(s)) for name, s, model, centre in rows if (model, centre) == (self.model, self.centre)
                ]
                out.append(sorted(found, key=lambda r: -r[1]))
        return out
