"""Every face of the LFW photos in ../shared/data, embedded once and kept for the benchmarks that
measure on them (centre.py, impostor_quantiles.py, open_set.py).

For each photo: the network's own unit vector (not centred: the benchmarks centre them as they
measure) of every confident face, largest first, whether it passes enrolment's quality gate,
and which face is the photo's subject (the largest near the centre, as LFW photos are centred on
the person they are labelled with). Kept in the user cache, keyed by the model's sha256, its
preprocessing and the detector's settings; a change of any recomputes it (about 3 minutes).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facerec import FaceRecognizer  # noqa: E402
from facerec.detection import choose
from facerec.embedding import evaluate
from facerec.embedding.embedder import Embedder  # noqa: E402
from facerec.identity import quality
from facerec.runtime.weights import user_cache_dir  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LFW_TRAIN = DATA / "lfw_train"
LFW_FOLD1 = DATA / "lfw_fold1"


@dataclass(frozen=True)
class Photos:
    """Photos of labelled people, and their faces' vectors."""

    paths: list[Path]
    names: np.ndarray  # person of each photo
    faces: list[np.ndarray]  # per photo: its confident faces' raw unit vectors, largest first
    usable: list[np.ndarray]  # per photo and face: passes the quality gate
    subject: np.ndarray  # per photo: the index of its subject in faces (-1: no face found)

    def subjects(self) -> np.ndarray:
        """One vector per photo: its subject's (a zero vector where no face was found)."""
        dim = next(len(f[0]) for f in self.faces if len(f))
        return np.stack(
            [f[i] if i >= 0 else np.zeros(dim, np.float32) for f, i in zip(self.faces, self.subject, strict=True)]
        )

    def people(self) -> list[str]:
        return sorted(set(self.names.tolist()))


def lfw_train_photos() -> list[Path]:
    return sorted(p for d in sorted(LFW_TRAIN.iterdir()) if d.is_dir() for p in sorted(d.glob("*.jpg")))


def lfw_fold1_photos() -> list[Path]:
    pairs = evaluate.read_pairs(LFW_FOLD1 / "pairs.txt", LFW_FOLD1 / "lfw")
    return sorted({p for pair in pairs for p in (pair.first, pair.second)})


def embed(recognizer: FaceRecognizer, paths: list[Path], label: str) -> Photos:
    """The faces of ``paths`` (a person's photos are in a folder named after them)."""
    precision = recognizer.embedder.precision
    raw = Embedder(recognizer.embedder.spec, preprocessing=recognizer.preprocessing, centre=False, precision=precision)
    settings = {
        "sha256": raw.spec.files["weights"].sha256,
        "precision": raw.precision,
        "preprocessing": repr(raw.preprocessing),
        "detector": repr(recognizer.detector.config),
        "gate": repr(recognizer.quality_gate),
        "files": [str(p) for p in paths],
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    cache = user_cache_dir() / "benchmarks" / f"{label}-{raw.model}-{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            counts = data["counts"]
            splits = np.cumsum(counts)[:-1]
            return Photos(
                list(paths),
                data["names"],
                np.split(data["vectors"], splits),
                np.split(data["usable"], splits),
                data["subject"],
            )
    faces, usable, subject = [], [], []
    for done, path in enumerate(paths, start=1):
        pixels = recognizer.load(path)
        found = sorted(choose.confident(recognizer.detector.detect(pixels)), key=lambda f: -f.area)
        centre = choose.centre_weighted(found, pixels.shape[1], pixels.shape[0])
        crops = raw.crops(pixels, found)
        faces.append(raw.embed_crops(crops))
        gate = recognizer.quality_gate
        usable.append(
            np.array([not quality.problems(quality.measure(f, c), gate) for f, c in zip(found, crops, strict=True)])
        )
        subject.append(found.index(centre) if centre is not None else -1)
        if done % 200 == 0:
            print(f"  {label}: {done}/{len(paths)} photos embedded", file=sys.stderr, flush=True)
    names = np.array([p.parent.name for p in paths])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache,
        names=names,
        counts=np.array([len(f) for f in faces]),
        vectors=np.concatenate(faces),
        usable=np.concatenate(usable),
        subject=np.array(subject),
    )
    return Photos(list(paths), names, faces, usable, np.array(subject))
