"""Who is trained on and in which batches: a split by person, and P x K batches.

People are split into training and validation by person, never by image, so validation
measures faces the model has never seen. Batches hold P people with K photos each (photos
repeat for people with fewer than K), drawn from a seeded generator so a run is repeatable.
"""

from __future__ import annotations

import numpy as np


def split_people(people: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training person ids, validation person ids); only people with >= 2 photos can train or
    give positive pairs, so the others are left out of both."""
    ids, counts = np.unique(people, return_counts=True)
    usable = ids[counts >= 2]
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(usable)
    held = max(2, int(round(len(usable) * fraction))) if fraction > 0 else 0
    if len(usable) - held < 2:
        raise ValueError(f"{len(usable)} people with two or more photos: too few to train and validate")
    return np.sort(shuffled[held:]), np.sort(shuffled[:held])


def batches(people: np.ndarray, allowed: np.ndarray, p: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sample indices for one batch: P people of ``allowed``, K photos each."""
    chosen = rng.choice(allowed, size=min(p, len(allowed)), replace=False)
    rows = []
    for person in chosen:
        photos = np.flatnonzero(people == person)
        rows.append(rng.choice(photos, size=k, replace=len(photos) < k))
    return np.concatenate(rows)
