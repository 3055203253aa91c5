"""Training data: aligned face crops per person, from a folder of identity folders or a store export.

Faces are detected and aligned once, with the base model's preprocessing, and the crops kept in
the cache folder under a key of every file (path, size, mtime) and setting that shaped them, so
epochs, resumed runs and repeated runs never run MTCNN again. Photos without exactly one
confident face are reported and skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from facerec.attendance.sources import IMAGE_SUFFIXES
from facerec.detection import choose
from facerec.detection.mtcnn import MTCNN, DetectorConfig
from facerec.embedding.embedder import Preprocessing
from facerec.errors import FacerecError
from facerec.files import write_atomically
from facerec.identity.enrollment import Skipped
from facerec.images import load_image


@dataclass
class CropSet:
    names: list[str]  # person names; a person's id is its index
    people: np.ndarray  # person id of each crop
    crops: np.ndarray  # N x S x S x 3 uint8
    files: list[str]
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> dict:
        return {"people": len(self.names), "photos": len(self.files), "skipped": len(self.skipped)}


def load(
    data: Path,
    detector: MTCNN,
    preprocessing: Preprocessing,
    cache: Path | None,
    progress: Callable[[int, int], None] | None = None,
    largest: bool = False,
) -> CropSet:
    """Crops of ``data``: a folder ``data/<person>/<photos>`` or an archive from ``facerec export``;
    with ``largest``, the largest face of a photo with several. The crops are ``preprocessing``'s
    (the base model's), so no network needs loading to make them."""
    data = Path(data)
    if data.is_file() and zipfile.is_zipfile(data):
        return _from_archive(data, preprocessing.image_size)
    if not data.is_dir():
        raise FacerecError(f"{data}: neither a folder of identity folders nor a facerec export archive")
    listing = [
        (person.name, photo)
        for person in sorted(p for p in data.iterdir() if p.is_dir())
        for photo in sorted(person.iterdir())
        if photo.is_file() and photo.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not listing:
        raise FacerecError(f"{data}: no photos found in identity folders ({data}/<person>/<photo>.jpg)")
    key = _key(listing, detector.config, preprocessing, largest)
    target = cache / f"crops-{key[:20]}.npz" if cache else None
    if target is not None and target.is_file():
        try:
            return _read(target)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is recomputed
    crops, people, files, skipped, names = [], [], [], [], []
    for done, (person, photo) in enumerate(listing, start=1):
        try:
            pixels = load_image(photo)
            face = choose.only_face(detector.detect(pixels), str(photo), largest=largest)
            crop = preprocessing.crop(pixels, face)
        except FacerecError as exc:
            skipped.append(Skipped(str(photo), str(exc).removeprefix(f"{photo}: ")))
        else:
            if person not in names:
                names.append(person)
            crops.append(crop)
            people.append(names.index(person))
            files.append(str(photo))
        if progress:
            progress(done, len(listing))
    size = preprocessing.image_size
    result = CropSet(
        names,
        np.array(people, np.int64),
        np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8),
        files,
        skipped,
    )
    if target is not None:
        _write(target, result)
    return result


def _key(listing: list[tuple[str, Path]], config: DetectorConfig, preprocessing: Preprocessing, largest: bool) -> str:
    stats = [
        (person, str(photo.resolve()), photo.stat().st_size, photo.stat().st_mtime_ns) for person, photo in listing
    ]
    settings = [repr(preprocessing), repr(config), largest]
    return hashlib.sha256(json.dumps([stats, settings]).encode()).hexdigest()


def _write(target: Path, crops: CropSet) -> None:
    meta = {"names": crops.names, "files": crops.files, "skipped": [[s.file, s.reason] for s in crops.skipped]}

    def arrays(temporary: Path) -> None:
        with open(temporary, "wb") as handle:  # a handle: np.savez would add ".npz" to a path
            np.savez(handle, crops=crops.crops, people=crops.people, meta=json.dumps(meta))

    with contextlib.suppress(OSError):  # no cache: the next run detects again
        write_atomically(target, arrays)


def _read(target: Path) -> CropSet:
    with np.load(target, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        return CropSet(
            meta["names"], data["people"], data["crops"], meta["files"], [Skipped(f, r) for f, r in meta["skipped"]]
        )


def _from_archive(source: Path, size: int) -> CropSet:
    from facerec.store import archive

    names, people, crops, files = [], [], [], []
    for person in archive.read(source):
        for sample in person["samples"]:
            crop = np.asarray(Image.open(io.BytesIO(sample["crop_png"])).convert("RGB"))
            if crop.shape[:2] != (size, size):
                raise FacerecError(f"{source}: crops are {crop.shape[1]}x{crop.shape[0]}, the model takes {size}")
            if person["name"] not in names:
                names.append(person["name"])
            people.append(names.index(person["name"]))
            crops.append(crop)
            files.append(sample["source_path"])
    if not crops:
        raise FacerecError(f"{source}: the archive holds no face samples")
    return CropSet(names, np.array(people, np.int64), np.stack(crops), files)
