"""Unknown faces grouped by person: sightings of the same stranger, across sources and days, as one
cluster ("unknown 1", "unknown 2", ...), so a whole cluster is assigned to a person at once.

Agglomerative clustering with average linkage, cut at a similarity: two clusters merge while the
mean similarity between their members is at least ``threshold`` (the identification operating
point, so a cluster is what identification would call one person). Average linkage measured best
of the three linkages on lfw_train photos treated as sightings (benchmarks/unknown_clusters.py):
single linkage chains lookalikes together, complete linkage splits a person whose photos vary.
Pure numpy, O(n^2) memory: unknown sightings under review are hundreds, not millions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from facerec.recognizer import FaceRecognizer
    from facerec.store import Store

Linkage = str  # "average" | "single" | "complete"


def unknown_docs(store: Store, recognizer: FaceRecognizer | None = None) -> list[dict]:
    """The unknown sightings of ``store`` as the CLI (--json) and the API list them; given a
    ``recognizer`` (its models place them), each numbered (``cluster``) by the unknown person it is."""
    from facerec.store.unknowns import UnknownSightings

    rows = UnknownSightings(store).all()
    docs = [r.to_dict() for r in rows]
    if recognizer is not None:
        for doc, person in zip(docs, unknown_people(recognizer, rows), strict=True):
            doc["cluster"] = person
    return docs


def unknown_people(recognizer, sightings: list) -> list[int]:
    """The unknown person (1, 2, ...) each sighting is, at ``recognizer``'s identification operating
    point for its gallery (a cluster is what identification would call one person)."""
    from facerec.store.centroids import Centroids

    if not sightings:
        return []
    people = (
        len(recognizer.index)
        if Centroids(recognizer.store).count(recognizer.embedder.model, recognizer.embedder.centre_id)
        else 1
    )
    threshold = recognizer.identify_threshold(max(1, people), recognizer.store.revision())
    return [int(label) + 1 for label in cluster(np.stack([s.embedding for s in sightings]), threshold)]


def cluster(vectors: np.ndarray, threshold: float, linkage: Linkage = "average") -> np.ndarray:
    """A cluster number per vector (0, 1, ...: the largest cluster first, ties by first member)."""
    vectors = np.asarray(vectors, np.float64)
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    similarity = vectors @ vectors.T
    members = {i: [i] for i in range(n)}
    between = similarity.copy()  # cluster-to-cluster similarity under the linkage
    np.fill_diagonal(between, -np.inf)
    alive = np.ones(n, bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], between, -np.inf)
        a, b = (int(k) for k in np.unravel_index(int(np.argmax(masked)), masked.shape))
        if masked[a, b] < threshold:
            break
        size_a, size_b = len(members[a]), len(members[b])
        if linkage == "average":
            merged = (between[a] * size_a + between[b] * size_b) / (size_a + size_b)
        elif linkage == "single":
            merged = np.maximum(between[a], between[b])
        elif linkage == "complete":
            merged = np.minimum(between[a], between[b])
        else:
            raise ValueError(f"unknown linkage {linkage!r}")
        between[a], between[:, a] = merged, merged
        between[a, a] = -np.inf
        alive[b] = False
        members[a] += members.pop(b)
    groups = sorted(members.values(), key=lambda m: (-len(m), min(m)))
    labels = np.empty(n, np.int64)
    for number, group in enumerate(groups):
        labels[group] = number
    return labels
