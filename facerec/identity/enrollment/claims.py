"""Is a face someone else's already? The search that feeds the duplicate-identity rule.

:mod:`facerec.identity.duplicates` holds the rule itself, pure over arrays; this module does the
searching around it (the nearest centroids name the suspects, whose samples are then compared),
so enrollment, unknown sightings assigned to a person and the recognizer all ask the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from facerec.errors import DuplicateIdentityError
from facerec.identity import duplicates, search

if TYPE_CHECKING:
    from facerec.store import Store

# People whose centroids and samples an enrollment photo is compared with (the nearest centroids),
# to find a face that is someone else's already (facerec.identity.duplicates).
DUPLICATE_SUSPECTS = 5


def claims(
    name: str,
    vectors: np.ndarray,
    index: search.Searchable,
    threshold: Callable[[int], float],
    store: Store,
    model: str,
) -> tuple[list[duplicates.Claim | None], float]:
    """Who each face (unit vectors of the index's kind) already is, if enrolled as ``name``
    (None each where no one), and the threshold that decided: ``threshold(people)`` is the
    operating point identification uses now. ``name`` is a checked name; the suspects' samples
    are read from ``store`` (``model``'s vectors)."""
    from facerec.store.samples import Samples

    vectors = np.asarray(vectors, np.float32).reshape(len(vectors), -1)
    if not len(vectors) or not len(index):
        return [None] * len(vectors), float("nan")
    limit = threshold(len(index))
    suspects = search.nearest(index, vectors, DUPLICATE_SUSPECTS)
    held = Samples(store)

    def samples_of(other: str) -> np.ndarray:
        return held.embeddings(model, person=other)[2]

    return duplicates.claimed(name, vectors, suspects, samples_of, limit), limit


def refuse(found: Sequence[duplicates.Claim | None], threshold: float, what: Sequence[str]) -> None:
    """DuplicateIdentityError naming who, if any face is claimed (``what`` labels each face for
    the message): the callers that take all faces or none (assigning sightings) stop here."""
    refused = [f"{label}: {claim.reason(threshold)}" for label, claim in zip(what, found, strict=True) if claim]
    if refused:
        raise DuplicateIdentityError("; ".join(refused))
