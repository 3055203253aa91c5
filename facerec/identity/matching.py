"""Matching faces to people: per-person scores from a gallery of samples, names or ``unknown``.

Pure functions over arrays, so the logic is tested on synthetic vectors with known answers.
A person's score for a probe is the cosine similarity to the best-matching of their samples
("best"), or to the normalised mean of their samples ("centroid").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from facerec.embedding.space import unit

Aggregate = Literal["best", "centroid"]


@dataclass(frozen=True)
class Candidate:
    name: str
    similarity: float


@dataclass(frozen=True)
class Match:
    """The answer for one probe: a name (None = unknown), the top candidates, and what decided:
    the threshold applied and the margin of the best person over the second (None with one)."""

    name: str | None
    similarity: float
    candidates: tuple[Candidate, ...]
    threshold: float = float("nan")
    margin: float | None = None


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


def pick_faces(
    candidates: list[np.ndarray],
    several: list[bool],
    largest_usable: list[bool],
    held: np.ndarray,
    threshold: float,
) -> list[tuple[int | None, float | None]]:
    """Which face of each enrolment photo is the person: (row of its candidates, or None to skip
    the photo; the similarity that decided, or None where nothing was compared).

    ``candidates[i]`` holds photo i's usable faces' vectors, largest first; ``several[i]`` says it
    had other confident faces; ``largest_usable[i]`` that its largest face is among them. A photo
    of one face gives it. Of several, the face most like the person's reference (the centroid of
    the photos of one face and the ``held`` samples) is taken, and the photo skipped when even that
    one is below ``threshold``. With nothing to compare to, the largest face, if it is usable.
    """
    known = [vectors[0] for vectors, many in zip(candidates, several, strict=True) if not many]
    known += list(held)
    reference = unit(np.mean(known, axis=0)) if known else None
    picks: list[tuple[int | None, float | None]] = []
    for vectors, many, usable in zip(candidates, several, largest_usable, strict=True):
        if not many:
            picks.append((0, None))
        elif reference is None:
            picks.append((0 if usable else None, None))
        else:
            similarity = vectors @ reference
            best = int(np.argmax(similarity))
            picks.append((best if similarity[best] >= threshold else None, float(similarity[best])))
    return picks


def operating_point(spec, people: int) -> float:
    """Similarity a face needs to be named among ``people`` enrolled, for a model (its
    weights.ModelSpec): its target open-set false accept rate spread over that many comparisons,
    turned into a similarity by its impostor table (person centroid against a stranger's photo;
    see the manifest and benchmarks/open_set.py). A model without a table: its verification
    threshold."""
    if not spec.impostor_quantiles:
        return float(spec.threshold if spec.threshold is not None else 0.5)
    return threshold_for(spec.impostor_quantiles, spec.open_set_far / max(people, 1))


def threshold_for(quantiles: tuple[tuple[float, float], ...], far: float) -> float:
    """The similarity that impostor pairs reach with probability ``far``: log-linear interpolation
    in a (false accept rate, similarity) table, clamped to its ends."""
    fars = np.log10([q[0] for q in quantiles])[::-1]  # ascending
    sims = np.array([q[1] for q in quantiles])[::-1]
    return float(np.interp(np.log10(max(far, 1e-12)), fars, sims))


def decide(scores: np.ndarray, names: tuple[str, ...], threshold: float, top_k: int = 1) -> list[Match]:
    """Best person per probe if at or above the threshold (else unknown), with the top-k
    candidates; ``scores`` is probes x people."""
    scores = np.atleast_2d(scores)
    order = np.argsort(-scores, axis=1, kind="stable")[:, : max(top_k, 2)]
    ranked = [[(names[i], float(row[i])) for i in kept] for row, kept in zip(scores, order, strict=True)]
    return decide_ranked(ranked, threshold, top_k)


def decide_ranked(ranked: list[list[tuple[str, float]]], threshold: float, top_k: int = 1) -> list[Match]:
    """:func:`decide` on each probe's candidates already ranked, best first ((name, similarity)
    pairs, at least two where the gallery has two people, for the margin): what a search gives."""
    matches = []
    for candidates in ranked:
        if not candidates:
            matches.append(Match(None, float("nan"), (), threshold))
            continue
        margin = candidates[0][1] - candidates[1][1] if len(candidates) > 1 else None
        kept = tuple(Candidate(name, similarity) for name, similarity in candidates[: max(top_k, 1)])
        best = kept[0]
        name = best.name if best.similarity >= threshold else None
        matches.append(Match(name, best.similarity, kept, threshold, margin))
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
