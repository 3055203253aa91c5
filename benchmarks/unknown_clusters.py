"""How unknown sightings are grouped: agglomerative clustering's linkages, measured on lfw_train.

    python benchmarks/unknown_clusters.py

lfw_train photos of 40 random people (about 470 photos) stand for unknown sightings; each linkage
(average, single, complete) is cut at the identification operating point for a small gallery and
for 20 people; printed: pairwise precision (two sightings put together are the same person),
pairwise recall (two sightings of one person are put together), and clusters against people.
Repeated over 5 draws.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lfw_faces import embed, lfw_train_photos  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.attendance.clusters import cluster  # noqa: E402
from facerec.embedding import space  # noqa: E402
from facerec.identity import matching  # noqa: E402


def pairwise(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    first, second = np.triu_indices(len(labels), 1)
    together, same = labels[first] == labels[second], truth[first] == truth[second]
    return float((together & same).sum() / max(together.sum(), 1)), float((together & same).sum() / max(same.sum(), 1))


def main() -> None:
    recognizer = FaceRecognizer()
    photos = embed(recognizer, lfw_train_photos(), "lfw_train")
    found = photos.subject >= 0
    vectors = space.centred(photos.subjects()[found], recognizer.embedder.centre)
    names = photos.names[found]
    spec = recognizer.embedder.spec
    people = np.unique(names)
    for gallery in (1, 20):
        threshold = matching.operating_point(spec, gallery)
        print(f"cut at the operating point for {gallery} people enrolled: similarity {threshold:.3f}")
        for linkage in ("average", "single", "complete"):
            rows = []
            for draw in range(5):
                chosen = np.random.default_rng(draw).choice(people, 40, replace=False)
                mask = np.isin(names, chosen)
                labels = cluster(vectors[mask], threshold, linkage)
                rows.append((*pairwise(labels, names[mask]), labels.max() + 1))
            precision, recall, clusters = np.mean(rows, axis=0)
            print(
                f"  {linkage:8s} precision {precision:.3f}  recall {recall:.3f}  clusters {clusters:.0f} for 40 people"
            )


if __name__ == "__main__":
    main()
