"""People's centroids: one normalised mean of a person's sample embeddings, per person, that
identification compares probes against (the faiss index is built from them, pgvector searches
its copy). Made again from the samples in the transaction of every change to them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facerec.store import pgvector
from facerec.store.models import CENTROID, EMBEDDING, FaceSample, Person, PersonVector
from facerec.store.vectors import same_centre, unpack

if TYPE_CHECKING:
    from facerec.store.repository import Store


class Centroids:
    """The centroids of one store: kept in step with the samples, read by the identification index."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def update_in(self, session: Session, person_id: int) -> None:
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
        vectors = [self.store.vector(blob, key, dim, EMBEDDING) for *_, dim, blob, key in rows]
        total = np.sum(vectors, axis=0, dtype=np.float64)
        centroid = (total / max(float(np.linalg.norm(total)), 1e-12)).astype("<f4")
        sealed, key_id = self.store.seal(centroid.tobytes(), CENTROID)
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
        if self.store.uses_pgvector(session):
            pgvector.write_centroid(session, person_id, centroid)

    def of_kind(
        self, model: str, centre: str | None, people: Iterable[int] | None = None, *, after: int = 0, limit: int = 0
    ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(person ids, names, centroids) of one kind of vector, by person id: every person's in
        chunks (ids above ``after``, at most ``limit``), or those of ``people``."""
        query = (
            select(
                PersonVector.person_id, Person.name, PersonVector.centroid, PersonVector.dimension, PersonVector.key_id
            )
            .join(Person, Person.id == PersonVector.person_id)
            .where(PersonVector.model == model, same_centre(PersonVector.centre, centre))
            .order_by(PersonVector.person_id)
        )
        if people is not None:
            query = query.where(PersonVector.person_id.in_([int(p) for p in people]))
        else:
            query = query.where(PersonVector.person_id > after)
            if limit:
                query = query.limit(limit)
        with self.store.reading() as session:
            rows = session.execute(query).all()
        return unpack([(r[0], r[1], self.store.unseal(r[2], r[4], CENTROID), r[3]) for r in rows])

    def count(self, model: str, centre: str | None) -> int:
        """People with a centroid of this kind: the gallery's size, as identification counts it."""
        with self.store.reading() as session:
            query = select(func.count(PersonVector.person_id)).where(
                PersonVector.model == model, same_centre(PersonVector.centre, centre)
            )
            return session.scalar(query) or 0

    def kinds(self) -> set[tuple[str, str | None]]:
        """The kinds of vector the samples hold: (model, centre) pairs. Only one kind is comparable.
        Read from the people's centroids (one row a person, indexed), not from every sample."""
        with self.store.reading() as session:
            rows = session.execute(select(PersonVector.model, PersonVector.centre).distinct())
            return {(model, centre) for model, centre in rows}

    def models(self) -> set[str]:
        return {model for model, _centre in self.kinds()}
