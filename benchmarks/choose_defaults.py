"""Choose a model's preprocessing defaults (margin, alignment, flip) on lfw_train, never on fold 1.

    python benchmarks/choose_defaults.py [--model casia-webface]

Builds 3000 same-person and 3000 different-person pairs from ../shared/data/lfw_train (139
people, none of them in LFW fold 1), embeds every photo under each setting, and prints 10-fold
accuracy, TAR at FAR 1e-3 and the best-accuracy cosine threshold. The winner goes into
weights/manifest.json by hand, with these figures in its note.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facerec.detection import choose  # noqa: E402
from facerec.detection.mtcnn import MTCNN  # noqa: E402
from facerec.embedding import evaluate  # noqa: E402
from facerec.embedding.embedder import Embedder, Preprocessing  # noqa: E402
from facerec.images import load_image  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lfw_train"


def build_pairs(people: dict[str, list[Path]], count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    same = [pair for photos in people.values() for pair in itertools.combinations(photos, 2)]
    same = [same[i] for i in rng.choice(len(same), count, replace=False)]
    names = sorted(people)
    different = set()
    while len(different) < count:
        a, b = rng.choice(len(names), 2, replace=False)
        different.add(
            (
                people[names[a]][rng.integers(len(people[names[a]]))],
                people[names[b]][rng.integers(len(people[names[b]]))],
            )
        )
    pairs = [(a, b, True) for a, b in same] + [(a, b, False) for a, b in sorted(different)]
    folds = rng.permutation(len(pairs)) % 10
    return pairs, folds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--only", help="one setting, e.g. 'crop,32,noflip,pad'")
    args = parser.parse_args()
    torch.set_num_threads(2)
    people = {d.name: sorted(d.glob("*.jpg")) for d in sorted(DATA.iterdir()) if d.is_dir()}
    pairs, folds = build_pairs(people, args.pairs)
    files = sorted({p for a, b, _ in pairs for p in (a, b)})
    detector = MTCNN()
    images, faces, missed = {}, {}, 0
    for path in files:
        image = load_image(path)
        found = choose.centre_weighted(detector.detect(image), image.shape[1], image.shape[0])
        if found is None:
            missed += 1
            found = choose.centre_face(image.shape[1], image.shape[0])
        images[path], faces[path] = image, found
    print(f"{len(pairs)} pairs over {len(files)} photos; detector missed {missed}")
    same = np.array([s for _, _, s in pairs])
    settings = [
        Preprocessing(margin=m, align=a, flip=f)
        for a in ("crop", "similarity")
        for m in (0, 14, 24, 32, 44)
        for f in (False, True)
    ]
    if args.only:
        kind, margin, flip, border = args.only.split(",")
        settings = [Preprocessing(margin=float(margin), align=kind, flip=flip == "flip", border=border)]
    for setting in settings:
        start = time.perf_counter()
        embedder = Embedder(args.model, preprocessing=setting)
        index = {p: i for i, p in enumerate(files)}
        vectors = np.concatenate(
            [
                embedder.embed_crops(np.stack([setting.crop(images[p], faces[p]) for p in files[i : i + 64]]))
                for i in range(0, len(files), 64)
            ]
        )
        sims = np.array([float(vectors[index[a]] @ vectors[index[b]]) for a, b, _ in pairs])
        result = evaluate.evaluate(sims, same, folds)
        print(
            f"align={setting.align:10s} margin={setting.margin:4.0f} flip={setting.flip!s:5s} "
            f"border={setting.border:5s} "
            f"accuracy {result.accuracy:.4f} +- {result.std:.4f}  TAR@FAR1e-3 {result.tar_at_far:.4f}  "
            f"threshold {evaluate.best_threshold(sims, same):.4f}  "
            f"FAR-1e-3 threshold {np.sort(sims[~same])[::-1][int(1e-3 * (~same).sum())]:.4f}  "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
