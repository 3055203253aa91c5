"""The calibrated identification threshold: measuring it, and the one owner of its setting.

A store may hold, per model, a threshold measured on its own people (``facerec calibrate``) or set
by an admin (PATCH /v1/settings); it then replaces the model's operating point. Every reader and
writer of that setting comes here, so its key, its shape and the check that it was made for the
vectors held now (the embedder's centre) are decided once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facerec.detection import choose
from facerec.errors import FacerecError, StoreError
from facerec.identity import matching

if TYPE_CHECKING:
    from facerec.detection.mtcnn import MTCNN
    from facerec.embedding.embedder import Embedder
    from facerec.store import Store

log = logging.getLogger(__name__)


def threshold_key(model: str) -> str:
    """The store setting that holds ``model``'s calibrated threshold (to drop it with a change)."""
    return f"threshold:{model}"


def check_threshold(threshold: float) -> float:
    """A similarity threshold someone typed: a number in [-1, 1] (NaN would make everyone unknown)."""
    if not (isinstance(threshold, int | float) and math.isfinite(threshold) and -1 <= threshold <= 1):
        raise FacerecError(f"a threshold is a cosine similarity between -1 and 1, got {threshold!r}")
    return float(threshold)


def read_calibration(store: Store, model: str) -> dict | None:
    """The stored calibration of ``model`` as written (threshold, centre, source...), or None."""
    from facerec.store.settings import Settings

    return Settings(store).get(threshold_key(model))


def made_for(calibration: dict | None, centre: str | None) -> bool:
    """The centre check: a calibration counts only for the vectors it was measured on; one made
    before they were re-centred has its similarities on another scale."""
    return bool(calibration and calibration.get("centre") == centre)


def calibrated_threshold(store: Store, model: str, centre: str | None, warn: bool = False) -> float | None:
    """The threshold calibrated for ``model``'s vectors on ``centre``, or None (the model's own);
    with ``warn``, a calibration made for other vectors is logged as needing to be made again."""
    calibration = read_calibration(store, model)
    if not calibration:
        return None
    if not made_for(calibration, centre):
        if warn:
            log.warning("the calibrated threshold was made for other vectors; run `facerec calibrate` again")
        return None
    return float(calibration["threshold"])


def write_calibration(store: Store, model: str, value: dict) -> None:
    """Store ``value`` (with at least ``threshold`` and ``centre``) as ``model``'s calibration."""
    from facerec.store.settings import Settings

    Settings(store).put(threshold_key(model), value)


def set_threshold(store: Store, model: str, centre: str | None, threshold: float, source: str) -> dict:
    """Store a threshold someone chose (checked) for ``model``'s vectors on ``centre``."""
    value = {"threshold": check_threshold(threshold), "source": source, "centre": centre}
    write_calibration(store, model, value)
    return value


def remove_threshold(store: Store, model: str) -> None:
    """Forget ``model``'s calibration: identification goes back to the model's operating point."""
    from facerec.store.settings import Settings

    Settings(store).remove(threshold_key(model))


def check_far(far: float) -> float:
    """The false accept rate asked for, refused unless strictly between 0 and 1."""
    if not 0 < far < 1:
        raise FacerecError(f"--far must be between 0 and 1, got {far}")
    return far


def enrolled_gallery(store: Store, model: str) -> matching.Gallery:
    """The people enrolled with ``model``, as calibration plays them against each other."""
    from facerec.store.samples import Samples

    _ids, names, vectors = Samples(store).embeddings(model)
    return matching.Gallery.build(names, vectors)


def folder_gallery(
    folder: Path, load: Callable[[Path], np.ndarray], detector: MTCNN, embedder: Embedder
) -> matching.Gallery:
    """The people of a labelled folder (``folder/<person>/<photos>``): one face a photo, the
    largest near the centre; photos that cannot be read or hold no face are left out."""
    names: list[str] = []
    vectors: list[np.ndarray] = []
    for person in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        for photo in sorted(person.iterdir()):
            try:
                pixels = load(photo)
            except FacerecError:
                continue
            face = choose.centre_weighted(detector.detect(pixels), pixels.shape[1], pixels.shape[0])
            if face is not None:
                names.append(person.name)
                vectors.append(embedder.embed_faces(pixels, [face])[0])
    return matching.Gallery.build(names, np.stack(vectors) if vectors else np.zeros((0, 0), np.float32))


def calibrate(store: Store, embedder: Embedder, gallery: matching.Gallery, source: str, far: float) -> dict:
    """Measure the threshold at open-set false accept rate ``far`` on ``gallery`` (each person in
    turn the stranger) and store it for ``embedder``'s vectors; returns what was stored."""
    if len(gallery) < 2:
        raise StoreError("calibration needs at least two people with photos")
    value = {
        "threshold": matching.open_set_threshold(gallery, far),
        "far": far,
        "source": source,
        "people": len(gallery),
        "samples": int(len(gallery.samples)),
        "centre": embedder.centre_id,  # the vectors it was measured on
    }
    write_calibration(store, embedder.model, value)
    return value


class CalibratedThreshold:
    """The calibrated threshold as of one store revision: identification asks for it with every
    photo, and the setting is read again only when the store has changed (storing it bumps the
    revision)."""

    def __init__(self) -> None:
        self._held: tuple[int | None, float | None] | None = None

    def get(self, store: Store, model: str, centre: str | None, revision: int | None) -> float | None:
        """:func:`calibrated_threshold` (warning of one made for other vectors), read once per
        ``revision`` the caller has read; None: the model's operating point applies."""
        if revision is None or self._held is None or self._held[0] != revision:
            self._held = (revision, calibrated_threshold(store, model, centre, warn=True))
        return self._held[1]
