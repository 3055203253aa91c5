"""The open-set operating point: enrolled people named right against strangers named, per gallery size.

    python benchmarks/open_set.py [--model casia-webface] [--draws 50] [--precision auto]

On lfw_train (139 people) and, held out, on LFW fold 1's people (163 of them with two photos or
more; the 272 with one photo only ever play strangers): for each gallery size N (5 to 100), draws
of N people are enrolled with the first half of their photos as `facerec enroll --largest` makes
their samples (facerec.identity.matching.pick_faces), and every other photo is identified as
`facerec identify` does (person centroids, facerec.identity.matching.decide). A photo of an enrolled person
is "named right" when its subject is named as that person; "strangers named" is the share of
photos of people outside the gallery that get any name. Counts are pooled over the draws.

Rules printed (the model's default is marked): the threshold for N people from the impostor table
(facerec.identity.matching.threshold_for at open_set_far / N) at several open_set_far; with the vectors
not centred (and a table made the same way on them); with enrolment taking the largest face of a
photo of several instead of the one like the person's other photos.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from impostor_quantiles import impostor_scores, table  # noqa: E402
from lfw_faces import Photos, embed, lfw_fold1_photos, lfw_train_photos  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.embedding import space  # noqa: E402
from facerec.identity import matching

SIZES = (5, 10, 20, 50, 100)
# casia-webface's best-accuracy threshold without centring (benchmarks/centre.py): the bar for
# "looks like the person's other photos" on vectors that are not centred.
RAW_VERIFICATION_THRESHOLD = 0.3997


def centroids(photos: Photos, centre, threshold: float, consistent: bool) -> dict[str, np.ndarray]:
    """Each person's centroid from the first half of their photos, as enrolment would make it:
    ``consistent``, with facerec's choice of face (matching.pick_faces, ``threshold`` the
    model's verification threshold); otherwise the largest face of each photo, if usable. People
    of one photo, or whose enrolment photos give no sample, are left out (they cannot enrol)."""
    rows = {}
    for person in photos.people():
        mine = np.flatnonzero(photos.names == person)
        enroll = [i for i in mine[: len(mine) // 2] if photos.usable[i].any()]
        if consistent:
            candidates = [space.centred(photos.faces[i][photos.usable[i]], centre) for i in enroll]
            several = [len(photos.faces[i]) > 1 for i in enroll]
            largest = [bool(photos.usable[i][0]) for i in enroll]
            picks = matching.pick_faces(candidates, several, largest, np.zeros((0, 0)), threshold)
            chosen = [c[k] for c, (k, _) in zip(candidates, picks, strict=True) if k is not None]
        else:
            chosen = [space.centred(photos.faces[i][:1], centre)[0] for i in enroll if photos.usable[i][0]]
        if chosen:
            rows[person] = space.unit(np.mean(chosen, axis=0))
    return rows


def curve(photos: Photos, centre, quantiles, fars, threshold: float, consistent: bool, draws: int, seed: int = 0):
    """{N: {far: (named right, strangers named)}} pooled over ``draws`` galleries of each size."""
    rng = np.random.default_rng(seed)
    enrolled = centroids(photos, centre, threshold, consistent)
    eligible = sorted(enrolled)
    subjects = space.centred(photos.subjects(), centre)
    found = photos.subject >= 0
    result = {}
    for size in SIZES:
        right = {far: 0 for far in fars}
        named = {far: 0 for far in fars}
        genuine = strangers = 0
        for _ in range(draws):
            gallery = sorted(rng.choice(eligible, size, replace=False).tolist())
            cents = np.stack([enrolled[p] for p in gallery])
            probes, truth = [], []
            for person_index, person in enumerate(gallery):
                mine = np.flatnonzero(photos.names == person)
                probes += mine[len(mine) // 2 :].tolist()
                truth += [person_index] * (len(mine) - len(mine) // 2)
            outside = np.flatnonzero(~np.isin(photos.names, gallery)).tolist()
            probes += outside
            truth += [-1] * len(outside)
            probes, truth = np.array(probes), np.array(truth)
            scores = subjects[probes] @ cents.T
            best = scores.argmax(axis=1)
            similarity = scores.max(axis=1)
            seen = found[probes]
            genuine += int((truth >= 0).sum())
            strangers += int((truth < 0).sum())
            for far in fars:
                limit = matching.threshold_for(quantiles, far / size)
                accepted = seen & (similarity >= limit)
                right[far] += int((accepted & (truth >= 0) & (best == truth)).sum())
                named[far] += int((accepted & (truth < 0)).sum())
        result[size] = {far: (right[far] / genuine, named[far] / strangers) for far in fars}
    return result


def show(title: str, result, fars, default: float | None) -> None:
    print(f"\n{title}\n  open_set_far  " + "  ".join(f"N={n:<3d} right / strangers" for n in SIZES))
    for far in fars:
        mark = " <- default" if far == default else ""
        cells = "  ".join(f"{result[n][far][0]:.3f} / {result[n][far][1]:.4f}     " for n in SIZES)
        print(f"  {far:<12g}  {cells}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument("--precision", default="auto", help="the embedder's (auto: as facerec runs by default)")
    args = parser.parse_args()
    recognizer = FaceRecognizer(model=args.model, precision=args.precision)
    embedder = recognizer.embedder
    train = embed(recognizer, lfw_train_photos(), "lfw_train")
    fold1 = embed(recognizer, lfw_fold1_photos(), "lfw_fold1")
    default = embedder.spec.open_set_far
    fars = sorted({0.002, 0.004, default, 0.016, 0.05})
    print(
        f"model {embedder.model} ({embedder.precision}): threshold for N people from the impostor table "
        "at open_set_far / N "
        f"(default open_set_far {default:g}); {args.draws} galleries per size, pooled"
    )
    quantiles = embedder.spec.impostor_quantiles
    print("thresholds: " + ", ".join(f"N={n}: {matching.threshold_for(quantiles, default / n):.3f}" for n in SIZES))
    found = train.subject >= 0
    raw_table = tuple(map(tuple, table(impostor_scores(train.subjects()[found], train.names[found]))))
    verify = embedder.threshold
    raw_verify = RAW_VERIFICATION_THRESHOLD
    for label, photos in (("lfw_train", train), ("LFW fold 1 (held out: no tuning saw these people)", fold1)):
        show(
            f"{label}, centred, enrolment picks the face like the person's other photos (the default rule)",
            curve(photos, embedder.centre, quantiles, fars, verify, True, args.draws),
            fars,
            default,
        )
    show(
        "lfw_train, centred, enrolment takes the largest face",
        curve(train, embedder.centre, quantiles, fars, verify, False, args.draws),
        fars,
        default,
    )
    show(
        "lfw_train, not centred (its own impostor table), enrolment picks the face like the others",
        curve(train, None, raw_table, fars, raw_verify, True, args.draws),
        fars,
        None,
    )


if __name__ == "__main__":
    main()
