"""A model's impostor table on lfw_train: what identification's threshold for N people is made of.

    python benchmarks/impostor_quantiles.py [--model casia-webface]

Identification compares a face with each enrolled person's centroid (the normalised mean of their
samples), so the table is made of the same comparison with strangers: for each of 10 draws, every
lfw_train person's centroid of a random half of their photos (as enrolment would make it) against
the subject of every photo of every other person, on the model's centred vectors: about 2.2
million impostor scores. For each false accept rate it prints the similarity that only that
fraction of them reach; the table goes into the manifest ("impostor_quantiles"), where
facerec.identity.matching.threshold_for turns open_set_far / N into the threshold for N people.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lfw_faces import embed, lfw_train_photos  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.embedding import space  # noqa: E402

FARS = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6]
DRAWS = 10


def impostor_scores(vectors: np.ndarray, names: np.ndarray, draws: int = DRAWS, seed: int = 1) -> np.ndarray:
    """Centroid-against-stranger similarities, highest first (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    people = np.unique(names)
    scores = []
    for _ in range(draws):
        centroids = []
        for person in people:
            own = np.flatnonzero(names == person)
            centroids.append(vectors[rng.choice(own, max(1, len(own) // 2), replace=False)].mean(axis=0))
        similarities = vectors @ space.unit(np.stack(centroids)).T
        scores.append(similarities[names[:, None] != people[None, :]])
    return np.sort(np.concatenate(scores))[::-1]


def table(scores: np.ndarray, least: int = 20) -> list[list[float]]:
    """[false accept rate, similarity] rows, for the rates at least ``least`` scores estimate: the
    rarer ones rest on a handful of pairs (on lfw_train, mostly its mislabelled photos: a photo
    labelled Erdogan that shows Abdullah Gul). Beyond the last row, thresholds stay at its value."""
    return [[far, round(float(scores[int(far * len(scores))]), 4)] for far in FARS if far * len(scores) >= least]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    recognizer = FaceRecognizer(model=args.model)
    photos = embed(recognizer, lfw_train_photos(), "lfw_train")
    found = photos.subject >= 0
    vectors = space.centred(photos.subjects()[found], recognizer.embedder.centre)
    scores = impostor_scores(vectors, photos.names[found])
    print(f"{len(scores)} impostor scores: {DRAWS} draws of {len(set(photos.names))} centroids x other people's photos")
    print(json.dumps(table(scores)))


if __name__ == "__main__":
    main()
