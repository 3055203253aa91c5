"""Impostor similarity quantiles of a model on lfw_train, for FAR-based identification thresholds.

    python benchmarks/impostor_quantiles.py [--model casia-webface]

Embeds the subject of every lfw_train photo with the model's defaults and takes every pair of
photos of different people (about 1.3 million): for each false accept rate, the similarity that
only that fraction of impostor pairs reaches. The printed table goes into the manifest
("impostor_quantiles"); facerec turns a target open-set false accept rate into a threshold for
the gallery's size with it (facerec.matching.threshold_for).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facerec import FaceRecognizer, choose  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lfw_train"
FARS = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    recognizer = FaceRecognizer(model=args.model)
    owners, vectors = [], []
    for person in sorted(d for d in DATA.iterdir() if d.is_dir()):
        for photo in sorted(person.glob("*.jpg")):
            pixels = recognizer.load(photo)
            face = choose.centre_weighted(recognizer.detector.detect(pixels), pixels.shape[1], pixels.shape[0])
            if face is None:
                continue
            owners.append(person.name)
            vectors.append(recognizer.embedder.embed_faces(pixels, [face])[0])
    v, owner = np.stack(vectors), np.array(owners)
    sims = v @ v.T
    upper = np.triu(np.ones_like(sims, dtype=bool), k=1)
    impostors = np.sort(sims[upper & (owner[:, None] != owner[None, :])])[::-1]
    table = [[far, round(float(impostors[int(far * len(impostors))]), 4)] for far in FARS]
    print(f"{len(impostors)} impostor pairs over {len(owner)} photos")
    print(json.dumps(table))


if __name__ == "__main__":
    main()
