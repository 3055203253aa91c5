"""Make a model's centre vector on lfw_train, and measure what centring does, with and without.

    python benchmarks/centre.py [--model casia-webface] [--write]

The centre is the mean of the network's unit vectors of the subject of every lfw_train photo
(139 people, none of them in LFW fold 1). Centring subtracts it before the L2 normalisation, as
FaceNet's ``validate_on_lfw --subtract_mean`` does; this prints, with and without it:

- LFW fold 1 (300 same + 300 different pairs, its own threshold), the centre from lfw_train;
- 10-fold cross-validation over lfw_train, split by person: in each fold every same-person pair of
  that fold's people and as many different-person pairs, the threshold chosen on the other nine
  folds and the centre computed without the test fold's people;
- the best-accuracy threshold on choose_defaults.py's 3000 + 3000 lfw_train pairs (the model's
  verification threshold in the manifest).

``--write`` saves the centre as weights/<model folder>/<weights stem>-centre.npy and prints the
manifest entry (file and provenance) to paste.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from choose_defaults import build_pairs  # noqa: E402
from lfw_faces import LFW_FOLD1, embed, lfw_fold1_photos, lfw_train_photos  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.embedding import (
    evaluate,
    space,  # noqa: E402
)
from facerec.runtime import weights

FOLDS = 10


def fold1(photos, centre) -> evaluate.Result:
    vectors = space.centred(photos.subjects(), centre)
    index = {str(p): i for i, p in enumerate(photos.paths)}
    pairs = evaluate.read_pairs(LFW_FOLD1 / "pairs.txt", LFW_FOLD1 / "lfw")
    sims = np.array([vectors[index[str(p.first)]] @ vectors[index[str(p.second)]] for p in pairs])
    return evaluate.evaluate(sims, np.array([p.same for p in pairs]), np.zeros(len(pairs), int))


def by_person(photos, centred: bool, seed: int = 0) -> evaluate.Result:
    """10-fold cross-validation over people: nothing of a test fold's people is seen outside it."""
    rng = np.random.default_rng(seed)
    people = photos.people()
    fold_of_person = dict(zip(people, rng.permutation(len(people)) % FOLDS, strict=True))
    fold = np.array([fold_of_person[n] for n in photos.names])
    raw = photos.subjects()
    sims, same, folds = [], [], []
    for k in range(FOLDS):
        members = np.flatnonzero(fold == k)
        centre = raw[fold != k].mean(axis=0) if centred else None
        vectors = space.centred(raw[members], centre)
        first, second = np.triu_indices(len(members), 1)
        alike = photos.names[members][first] == photos.names[members][second]
        different = rng.choice(np.flatnonzero(~alike), int(alike.sum()), replace=False)
        chosen = np.concatenate([np.flatnonzero(alike), different])
        sims.append(np.einsum("ij,ij->i", vectors[first[chosen]], vectors[second[chosen]]))
        same.append(alike[chosen])
        folds.append(np.full(len(chosen), k))
    return evaluate.evaluate(np.concatenate(sims), np.concatenate(same), np.concatenate(folds))


def verification_threshold(photos, centre) -> float:
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(photos.names):
        by_name.setdefault(str(name), []).append(i)
    pairs, _folds = build_pairs(by_name, 3000)
    vectors = space.centred(photos.subjects(), centre)
    sims = np.array([vectors[a] @ vectors[b] for a, b, _ in pairs])
    return evaluate.best_threshold(sims, np.array([s for _, _, s in pairs]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--write", action="store_true", help="save the centre into weights/ and print its entry")
    args = parser.parse_args()
    recognizer = FaceRecognizer(model=args.model)
    train = embed(recognizer, lfw_train_photos(), "lfw_train")
    test = embed(recognizer, lfw_fold1_photos(), "lfw_fold1")
    found = train.subject >= 0
    centre = train.subjects()[found].mean(axis=0).astype(np.float32)
    print(
        f"centre: mean of {found.sum()} photos of {len(train.people())} people (lfw_train); "
        f"|c| = {np.linalg.norm(centre):.4f}"
    )
    for label, c in (("without centring", None), ("centred", centre)):
        r = fold1(test, c)
        print(
            f"LFW fold 1, {label:17s} accuracy {r.accuracy:.4f}  TAR@FAR=1e-3 {r.tar_at_far:.4f}  "
            f"threshold {r.threshold:.4f}"
        )
    for label, centred in (("without centring", False), ("centred", True)):
        r = by_person(train, centred)
        print(
            f"lfw_train 10-fold by person, {label:17s} accuracy {r.accuracy:.4f} +- {r.std:.4f}  "
            f"TAR@FAR=1e-3 {r.tar_at_far:.4f}"
        )
    for label, c in (("without centring", None), ("centred", centre)):
        print(f"verification threshold (3000 + 3000 lfw_train pairs), {label}: {verification_threshold(train, c):.4f}")
    if args.write:
        spec = recognizer.embedder.spec
        stem = Path(spec.files["weights"].path)
        relative = stem.with_name(f"{stem.stem}-centre.npy")
        target = weights.package_weights_dir() / relative
        np.save(target, centre, allow_pickle=False)
        data = target.read_bytes()
        entry = {
            "files": {"centre": {"path": str(relative), "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}},
            "centre": {
                "data": "../shared/data/lfw_train: LFW people with 10 or more photos, none of them in LFW fold 1",
                "people": len(train.people()),
                "photos": int(found.sum()),
                "date": datetime.date.today().isoformat(),
                "made_by": "python benchmarks/centre.py --write",
                "how": "mean of the network's unit vectors of each photo's subject (the largest face near the centre), "
                "the model's preprocessing; float32 .npy",
            },
        }
        print(f"wrote {target}; manifest entry:")
        print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
