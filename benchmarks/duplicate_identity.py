"""How alike a face must be to another person's sample before enrolment calls it the same person.

    python benchmarks/duplicate_identity.py

Enrolment refuses a photo whose face matches a sample of someone else at or above
``matching.DUPLICATE_SIMILARITY`` (the same photo, or the same person, under another name: an
identity taken over). On the LFW photos of ../shared/data (lfw_train and lfw_fold1, centred
vectors of each photo's subject), printed per bar: the share of same-person pairs of different
photos at or above it (the same person under two names: caught), and the number of pairs of
different people at or above it (lookalikes refused: should be none but label noise), with the
highest such pair.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lfw_faces import embed, lfw_fold1_photos, lfw_train_photos  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.embedding import space  # noqa: E402
from facerec.identity.matching import DUPLICATE_SIMILARITY  # noqa: E402

BARS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def main() -> None:
    recognizer = FaceRecognizer()
    centre = recognizer.embedder.centre
    for label, paths in (("lfw_train", lfw_train_photos()), ("lfw_fold1", lfw_fold1_photos())):
        photos = embed(recognizer, paths, label)
        found = photos.subject >= 0
        vectors = space.centred(photos.subjects()[found], centre)
        names = photos.names[found]
        scores = vectors @ vectors.T
        upper = np.triu(np.ones_like(scores, bool), 1)
        same = (names[:, None] == names[None, :]) & upper
        other = (names[:, None] != names[None, :]) & upper
        genuine, impostor = scores[same], scores[other]
        print(f"{label}: {len(vectors)} photos, {same.sum()} same-person pairs, {other.sum()} of different people")
        for bar in BARS:
            marker = "  <- DUPLICATE_SIMILARITY" if abs(bar - DUPLICATE_SIMILARITY) < 1e-9 else ""
            worst = impostor.max()
            print(
                f"  >= {bar:.2f}: same person {np.mean(genuine >= bar):6.1%}   different people "
                f"{int((impostor >= bar).sum()):4d} (highest {worst:.3f}){marker}"
            )


if __name__ == "__main__":
    main()
