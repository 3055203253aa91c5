"""Verification accuracy on labelled photo pairs (the LFW protocol), from photos to the result.

:mod:`facerec.embedding.evaluate` does the protocol's maths on similarities alone; this module
turns the photos into those similarities (one face a photo, embedded once, cached by the settings
that made the vector) and hands them over. The detector is asked for only when a photo is not
cached, so a fully cached run never loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facerec.detection import choose
from facerec.embedding import evaluate
from facerec.types import Face

if TYPE_CHECKING:
    from facerec.detection.mtcnn import DetectorConfig
    from facerec.embedding.cache import EmbeddingCache
    from facerec.embedding.embedder import Embedder


def cache_settings(embedder: Embedder, detector_config: DetectorConfig) -> dict:
    """Everything that made a cached vector: a change to any of them makes it stale."""
    settings: dict[str, object] = {"model": embedder.model, "sha256": embedder.spec.files["weights"].sha256}
    settings |= {"centre": embedder.centre_id, "precision": embedder.precision}
    return settings | {"preprocessing": repr(embedder.preprocessing), "detector": repr(detector_config)}


def evaluate_pairs(
    pairs: Sequence[evaluate.Pair],
    load: Callable[[Path], np.ndarray],
    detect: Callable[[np.ndarray], list[Face]],
    detector_config: DetectorConfig,
    embedder: Embedder,
    *,
    far: float = 1e-3,
    cache: EmbeddingCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[evaluate.Result, list[str]]:
    """The result on ``pairs`` and the photos where the detector found no face. Each photo gives
    one face: of several, the largest near the centre; of none, the usual face region of a
    centred photo (:func:`facerec.detection.choose.centre_face`), counted as missed."""
    files = sorted({path for pair in pairs for path in (pair.first, pair.second)})
    settings = cache_settings(embedder, detector_config)
    vectors: dict[Path, np.ndarray] = {}
    missed: list[str] = []
    for done, path in enumerate(files, start=1):
        entry = cache.get(path, settings) if cache else None
        if entry is None:
            pixels = load(path)
            face = choose.centre_weighted(detect(pixels), pixels.shape[1], pixels.shape[0])
            found = face is not None
            face = face or choose.centre_face(pixels.shape[1], pixels.shape[0])
            entry = (embedder.embed_faces(pixels, [face])[0], found)
            if cache:
                cache.put(path, settings, *entry)
        vectors[path] = entry[0]
        if not entry[1]:
            missed.append(str(path))
        if progress:
            progress(done, len(files))
    if cache:
        cache.save()
    similarities = np.array([float(vectors[p.first] @ vectors[p.second]) for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    return evaluate.evaluate(similarities, same, folds, far), missed
