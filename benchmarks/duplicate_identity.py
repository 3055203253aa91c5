"""What the duplicate-identity rule costs genuine enrolments, and what it catches.

    python benchmarks/duplicate_identity.py

Enrolment refuses a face that identification would name as someone else at the store's operating
point, against their centroid or one of their samples (facerec.identity.duplicates). On lfw_train
(../shared/data: 139 people, centred vectors of each photo's subject where it passes the quality
gate), as a store fills: every person is enrolled one by one with their first photo, then every
further photo is enrolled, one enrolment each, for its own person; each check is the one enrolment
makes (the nearest DUPLICATE_SUSPECTS centroids, their samples, the model's operating point for the
people enrolled then), and an accepted photo joins the gallery. Printed:

- new people refused: a first photo identified as someone enrolled before (a lookalike at the
  operating point: identification would name them as that person too);
- own photos refused: a further photo of an enrolled person refused as someone else (the cost);
- aliases caught: each further photo enrolled instead under a new name (its person's identity
  taken over), refused (the gallery as it stands when that photo comes; the alias is not added).

Each for the rule as built and for the rule it replaced (a sample of someone else at >= 0.85).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lfw_faces import embed, lfw_train_photos  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.embedding import space  # noqa: E402
from facerec.identity import duplicates, matching  # noqa: E402
from facerec.identity.enrollment.claims import DUPLICATE_SUSPECTS  # noqa: E402

OLD_BAR = 0.85  # the rule before: a sample of someone else at or above this


class Gallery:
    """Samples per person, grown one enrolment at a time, searched as the index would be."""

    def __init__(self, dim: int) -> None:
        self.people: list[str] = []
        self.sums = np.zeros((0, dim), np.float64)
        self.samples: dict[str, list[np.ndarray]] = {}

    def add(self, name: str, vector: np.ndarray) -> None:
        if name not in self.samples:
            self.people.append(name)
            self.sums = np.vstack([self.sums, np.zeros((1, self.sums.shape[1]))])
            self.samples[name] = []
        self.sums[self.people.index(name)] += vector
        self.samples[name].append(vector)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        centroids = self.sums / np.linalg.norm(self.sums, axis=1, keepdims=True)
        scores = centroids @ vector
        return [(self.people[i], float(scores[i])) for i in np.argsort(-scores)[:k]]

    def claim(self, name: str, vector: np.ndarray, threshold: float) -> duplicates.Claim | None:
        found = duplicates.claimed(
            name,
            vector[None],
            [self.nearest(vector, DUPLICATE_SUSPECTS)],
            lambda other: np.stack(self.samples[other]),
            threshold,
        )
        return found[0]

    def old_claim(self, name: str, vector: np.ndarray) -> bool:
        suspects = [other for other, _ in self.nearest(vector, DUPLICATE_SUSPECTS) if other != name]
        return any(float((np.stack(self.samples[o]) @ vector).max()) >= OLD_BAR for o in suspects)


def main() -> None:
    recognizer = FaceRecognizer()
    spec, centre = recognizer.embedder.spec, recognizer.embedder.centre
    photos = embed(recognizer, lfw_train_photos(), "lfw_train")
    rows = [i for i, s in enumerate(photos.subject) if s >= 0 and photos.usable[i][s]]
    vectors = space.centred(photos.subjects()[rows], centre)
    names = photos.names[rows]
    first = {name: i for i, name in reversed(list(enumerate(names)))}
    gallery = Gallery(vectors.shape[1])
    counts = dict.fromkeys(("new", "new_old", "own", "own_old", "alias", "alias_old"), 0)
    worst: list[str] = []
    for name, i in sorted(first.items()):
        threshold = matching.operating_point(spec, max(len(gallery.people), 1))
        claim = gallery.claim(name, vectors[i], threshold) if gallery.people else None
        counts["new"] += claim is not None
        counts["new_old"] += bool(gallery.people) and gallery.old_claim(name, vectors[i])
        if claim is None:
            gallery.add(name, vectors[i])
    further = [i for i, name in enumerate(names) if first[name] != i and name in gallery.samples]
    for i in further:
        name, vector = names[i], vectors[i]
        threshold = matching.operating_point(spec, len(gallery.people))
        claim = gallery.claim(name, vector, threshold)
        counts["own"] += claim is not None
        counts["own_old"] += gallery.old_claim(name, vector)
        if claim is not None and len(worst) < 5:
            worst.append(
                f"{Path(photos.paths[rows[i]]).name} as {claim.other} ({claim.similarity:.3f}, {claim.against})"
            )
        alias = gallery.claim(f"alias of {name}", vector, threshold)
        counts["alias"] += alias is not None and alias.other == name
        counts["alias_old"] += gallery.old_claim(f"alias of {name}", vector)
        if claim is None:
            gallery.add(name, vector)
    people, n = len(first), len(further)
    final = matching.operating_point(spec, len(gallery.people))
    print(f"lfw_train: {len(rows)} usable photos, {people} people; operating point with {people}: {final:.3f}")
    print("                               operating point    old rule (sample >= 0.85)")
    print(f"  new people refused          {counts['new']:4d} / {people:<4d}        {counts['new_old']:4d} / {people}")
    print(
        f"  own photos refused          {counts['own']:4d} / {n:<4d} ({counts['own'] / n:5.2%})"
        f"  {counts['own_old']:4d} / {n} ({counts['own_old'] / n:5.2%})"
    )
    print(
        f"  aliases caught              {counts['alias']:4d} / {n:<4d} ({counts['alias'] / n:5.1%})"
        f"  {counts['alias_old']:4d} / {n} ({counts['alias_old'] / n:5.1%})"
    )
    for line in worst:
        print(f"  refused: {line}")


if __name__ == "__main__":
    main()
