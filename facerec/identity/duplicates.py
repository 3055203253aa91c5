"""The duplicate-identity rule: a face that identification would name as someone else enrolled is
not enrolled under another name.

Whoever may enrol could otherwise give a colleague's face a second name (an alias that checks in
for them, or competes with them at every check-in). The rule is the operating point itself, not a
stricter bar: a face is someone else's when it reaches the threshold identification names people
at, against their centroid (what identification compares) or against one of their samples (the
same photo, or a near copy, scores about 1 against its own sample). Every enrolment path calls
:func:`claimed` (photos, unknown sightings assigned, video), so the rule cannot differ between
them; ``allow_duplicate`` (twins, for admin keys) is decided by the caller.

Pure over arrays: the caller gives each face's nearest centroids (an index search) and a way to
read a person's samples. What the rule costs genuine enrolments: benchmarks/duplicate_identity.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Claim:
    """Who a face already is: the person, the similarity, and against what (``centroid`` or
    ``sample``)."""

    other: str
    similarity: float
    against: str

    def reason(self, threshold: float) -> str:
        return (
            f"this face is enrolled already as {self.other!r} (similarity {self.similarity:.2f} to their "
            f"{self.against}, identification names them from {threshold:.2f}): the same person under another "
            "name? (an admin may allow it for twins: --allow-duplicate, allow_duplicate=true)"
        )


def claimed(
    name: str,
    vectors: np.ndarray,
    nearest: Sequence[Sequence[tuple[str, float]]],
    samples_of: Callable[[str], np.ndarray],
    threshold: float,
) -> list[Claim | None]:
    """For each face to enrol as ``name``: the other person it would be identified as, or None.

    ``nearest[i]``: face i's nearest people by centroid similarity, best first (name may be among
    them: never a claim on oneself); ``samples_of(person)``: that person's sample vectors (N x D),
    read once for all faces. The strongest claim (centroid or sample) is reported."""
    vectors = np.asarray(vectors, np.float32)
    suspects = sorted({other for row in nearest for other, _ in row if other != name})
    best: list[Claim | None] = [None] * len(vectors)

    def stronger(i: int, claim: Claim) -> None:
        current = best[i]
        if claim.similarity >= threshold and (current is None or claim.similarity > current.similarity):
            best[i] = claim

    for i, row in enumerate(nearest):
        for other, similarity in row:
            if other != name:
                stronger(i, Claim(other, float(similarity), "centroid"))
    for other in suspects:
        held = np.asarray(samples_of(other), np.float32)
        if held.size == 0:
            continue
        for i, similarity in enumerate((vectors @ held.T).max(axis=1)):
            stronger(i, Claim(other, float(similarity), "sample"))
    return best
