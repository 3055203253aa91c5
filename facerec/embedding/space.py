"""What an embedding is: a unit vector, centred on the model's mean or not, and how one kind
becomes the other. Pure functions over arrays, used by the embedder (to make vectors), the store's
upgrade (to move them to another centre) and matching (to compare them)."""

from __future__ import annotations

import hashlib

import numpy as np


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float32); a zero row stays zero."""
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), np.float32(1e-12))


def centre_id(centre: np.ndarray | None) -> str | None:
    """A short name for a centre vector, stored beside every vector centred on it (None: none)."""
    if centre is None:
        return None
    return hashlib.sha256(np.ascontiguousarray(centre, "<f4").tobytes()).hexdigest()[:16]


def centred(raw: np.ndarray, centre: np.ndarray | None) -> np.ndarray:
    """The unit vectors matching compares: ``unit(raw - centre)``, ``raw`` (unit) itself without one.

    Subtracting the mean of a population removes the direction every face shares, so the cosine
    measures what tells people apart (FaceNet's ``validate_on_lfw --subtract_mean``)."""
    return unit(raw) if centre is None else unit(unit(raw) - centre)


def uncentred(vectors: np.ndarray, centre: np.ndarray | None) -> np.ndarray:
    """The unit network vectors that :func:`centred` turned into ``vectors``: exact, so a stored
    vector can move to another centre without its crop being embedded again.

    ``vectors`` = unit(raw - c) with |raw| = 1, so raw = c + t v for the t > 0 with |c + t v| = 1:
    t = -(c.v) + sqrt((c.v)^2 + 1 - |c|^2), real and positive since |c| < 1 (a mean of unit vectors).
    """
    vectors = np.asarray(vectors, np.float64)
    if centre is None:
        return unit(vectors)
    c = np.asarray(centre, np.float64)
    cv = vectors @ c
    t = -cv + np.sqrt(cv * cv + 1.0 - c @ c)
    return unit(c + t[:, None] * vectors)


def recentre(vectors: np.ndarray, old: np.ndarray | None, new: np.ndarray | None) -> np.ndarray:
    """Vectors centred on ``old`` (None: not centred) as they are centred on ``new``."""
    return centred(uncentred(vectors, old), new)
