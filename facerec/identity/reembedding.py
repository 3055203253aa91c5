"""Re-embedding: bring every stored vector to one model's kind, so vectors of two kinds never mix.

A store made with another model, or with this model before its vectors were centred, cannot be
searched by this recognizer (FaceRecognizer refuses it). Vectors of the same model on a known
centre are re-centred exactly, in arithmetic; any other is embedded again from its stored crop.
It needs the store (samples, unknown sightings, the calibration to drop), so it lives with
identity, above the store, and is handed the target embedder.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from facerec.embedding import space
from facerec.errors import StoreError
from facerec.identity import calibration

if TYPE_CHECKING:
    from facerec.embedding.embedder import Embedder
    from facerec.store import Store

# Crops embedded again per call of the network (and per progress report).
CHUNK = 64


@dataclass(frozen=True)
class Reembedded:
    """What :meth:`FaceRecognizer.reembed` changed."""

    model: str
    recentred: int  # samples moved to the model's centre arithmetically
    reembedded: int  # samples embedded again from their crops
    sightings: int  # unknown sightings changed either way
    calibration_dropped: bool  # a calibrated threshold for the old vectors was removed

    @property
    def samples(self) -> int:
        return self.recentred + self.reembedded


def reembed(store: Store, target: Embedder, progress: Callable[[int, int], None] | None = None) -> Reembedded:
    """Move every sample and unknown sighting of ``store`` to ``target``'s kind, in one
    transaction each; a calibrated threshold made for other vectors is dropped with the samples."""
    from facerec.store.centroids import Centroids
    from facerec.store.samples import Samples
    from facerec.store.unknowns import UnknownSightings

    held, unknowns = Samples(store), UnknownSightings(store)
    samples, sample_crops = moved(Centroids(store).models(), held.vectors, held.crops, target)
    sightings, sighting_crops = moved(unknowns.models(), unknowns.vectors, unknowns.snapshots, target)
    missing = sum(1 for _, png in sample_crops if not png)
    if missing:
        raise StoreError(
            f"{missing} samples have no photo (the store keeps no photos: facerec privacy --keep-photos off), "
            f"so they cannot be embedded again with {target.model}: enrol those people again from their photos"
        )
    vectors = _embed_again(sample_crops + sighting_crops, target, progress)
    calibrated = calibration.read_calibration(store, target.model)
    stale = (
        [calibration.threshold_key(target.model)]
        if calibrated and not calibration.made_for(calibrated, target.centre_id)
        else []
    )
    for sample_id, _ in sample_crops:
        samples[sample_id] = vectors.pop(sample_id)
    count = held.replace_embeddings(target.model, target.centre_id, samples, drop_settings=stale)
    for sighting_id, _ in sighting_crops:
        sightings[sighting_id] = vectors.pop(sighting_id)
    unknowns.replace_embeddings(target.model, target.centre_id, sightings)
    return Reembedded(target.model, count - len(sample_crops), len(sample_crops), len(sightings), bool(stale))


def _embed_again(
    again: list[tuple[int, bytes]], target: Embedder, progress: Callable[[int, int], None] | None
) -> dict[int, np.ndarray]:
    """The vectors of these (id, PNG crop) pairs, by id, embedded CHUNK at a time."""
    vectors: dict[int, np.ndarray] = {}
    for start in range(0, len(again), CHUNK):
        chunk = again[start : start + CHUNK]
        crops = np.stack([np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for _, png in chunk])
        vectors.update(zip((i for i, _ in chunk), target.embed_crops(crops), strict=True))
        if progress:
            progress(min(start + CHUNK, len(again)), len(again))
    return vectors


def moved(
    models: set[str], read: Callable, crops_of: Callable, target: Embedder
) -> tuple[dict[int, np.ndarray], list[tuple[int, bytes]]]:
    """The vectors that are not of ``target``'s kind: those of its model on a centre we know
    (none, or its own), re-centred; and (id, crop) of the others, to be embedded again.
    ``read(model)`` gives (ids, centres, vectors) of one model, ``crops_of(ids)`` (id, crop) pairs."""
    known = {None: None, target.centre_id: target.centre}
    recentred: dict[int, np.ndarray] = {}
    again: list[int] = []
    for model in sorted(models):
        ids, centres, vectors = read(model)
        for centre in set(centres):
            rows = np.array([c == centre for c in centres])
            if model != target.model or centre not in known:
                again.extend(ids[rows].tolist())
            elif centre != target.centre_id:
                moved_rows = space.recentre(vectors[rows], known[centre], target.centre)
                recentred.update(zip(ids[rows].tolist(), moved_rows, strict=True))
    return recentred, crops_of(again) if again else []
