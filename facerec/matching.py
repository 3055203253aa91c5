"""Matching faces to people: per-person scores from a gallery of samples, names or ``unknown``.

Pure functions over arrays, so the logic is tested on synthetic vectors with known answers.
A person's score for a probe is the cosine similarity to the best-matching of their samples
("best"), or to the normalised mean of their samples ("centroid").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Aggregate = Literal["best", "centroid"]


@dataclass(frozen=True)
class Candidate:
    name: str
    similarity: float


@dataclass(frozen=True)
class Match:
    """The answer for one probe: a name (None = unknown) and the top candidates."""

    name: str | None
    similarity: float
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class Gallery:
    """Enrolled vectors grouped by person: what matching needs, derived from the store."""

    names: tuple[str, ...]  # one per person
    centroids: np.ndarray  # people x D, unit length
    sample_owner: np.ndarray  # samples: index into names
    samples: np.ndarray  # samples x D

    @classmethod
    def build(cls, sample_names: list[str], vectors: np.ndarray) -> Gallery:
        # Linear in the number of samples (np.unique + one scatter-add), so a rebuild over a large
        # gallery does not compare every sample with every person.
        unique, owner = np.unique(np.asarray(sample_names, dtype=str), return_inverse=True)
        names = tuple(unique.tolist())
        owner = owner.astype(np.int64).reshape(-1)
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        sums = np.zeros((len(names), dim), np.float64)
        np.add.at(sums, owner, vectors)
        norms = np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return cls(names, (sums / norms).astype(np.float32), owner, np.asarray(vectors, np.float32))

    def __len__(self) -> int:
        return len(self.names)


def person_scores(gallery: Gallery, probes: np.ndarray, aggregate: Aggregate = "centroid") -> np.ndarray:
    """probes x people matrix of scores."""
    probes = np.asarray(probes, np.float32)
    if aggregate == "centroid":
        return probes @ gallery.centroids.T
    sims = probes @ gallery.samples.T
    scores = np.full((len(probes), len(gallery)), -1.0, np.float32)
    for person in range(len(gallery)):
        scores[:, person] = sims[:, gallery.sample_owner == person].max(axis=1)
    return scores


def threshold_for(quantiles: tuple[tuple[float, float], ...], far: float) -> float:
    """The similarity that impostor pairs reach with probability ``far``: log-linear interpolation
    in a (false accept rate, similarity) table, clamped to its ends."""
    fars = np.log10([q[0] for q in quantiles])[::-1]  # ascending
    sims = np.array([q[1] for q in quantiles])[::-1]
    return float(np.interp(np.log10(max(far, 1e-12)), fars, sims))


def decide(scores: np.ndarray, names: tuple[str, ...], threshold: float, top_k: int = 1) -> list[Match]:
    """Best person per probe if at or above the threshold (else unknown), with the top-k candidates."""
    matches = []
    for row in np.atleast_2d(scores):
        if len(names) == 0:
            matches.append(Match(None, float("nan"), ()))
            continue
        order = np.argsort(-row, kind="stable")[: max(top_k, 1)]
        candidates = tuple(Candidate(names[i], float(row[i])) for i in order)
        best = candidates[0]
        matches.append(Match(best.name if best.similarity >= threshold else None, best.similarity, candidates))
    return matches


def open_set_threshold(gallery: Gallery, far: float) -> float:
    """The threshold at which a stranger is named with probability ``far``, estimated on the
    gallery itself: each person in turn plays the stranger, their samples scored against every
    other person's centroid; the threshold lets through a ``far`` fraction of those best scores.
    """
    if len(gallery) < 2:
        raise ValueError("calibration needs at least two people")
    best_wrong = []
    for person in range(len(gallery)):
        others = np.delete(gallery.centroids, person, axis=0)
        probes = gallery.samples[gallery.sample_owner == person]
        best_wrong.extend((probes @ others.T).max(axis=1).tolist())
    return float(np.quantile(best_wrong, 1.0 - far))
