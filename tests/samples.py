"""Synthetic face samples for the store's and the index's tests: records with known vectors."""

from __future__ import annotations

import hashlib

import numpy as np

from facerec.store import StoredSample


def sample(seed: int, path: str | None = None, model: str = "casia-webface") -> StoredSample:
    rng = np.random.default_rng(seed)
    vector = rng.normal(size=512).astype(np.float32)
    return StoredSample(
        embedding=vector / np.linalg.norm(vector),
        model=model,
        centre=None,
        preprocessing={"margin": 32, "align": "crop"},
        crop_png=b"\x89PNG fake " + bytes([seed % 256]),
        source_path=path or f"/photos/{seed}.jpg",
        source_sha256=f"{seed:064x}",
        box=(1.0, 2.0, 3.0, 4.0),
        landmarks=((1.0, 1.0),) * 5,
        confidence=0.99,
        quality={"size": 120.0},
    )


def dumped_person(
    name: str, vectors: np.ndarray, crops: list[bytes], model: str = "casia-webface", centre: str | None = None
) -> dict:
    """A person with one sample per vector, as Archive.dump gives and Archive.load takes them."""
    samples = [
        {
            "embedding": vector,
            "model": model,
            "centre": centre,
            "preprocessing": {},
            "crop_png": crop,
            "source_path": f"/{name}/{i}.jpg",
            "source_sha256": hashlib.sha256(f"{name}/{i}".encode()).hexdigest(),
            "box": (0, 0, 1, 1),
            "landmarks": ((0, 0),) * 5,
            "confidence": 1.0,
            "quality": {},
        }
        for i, (vector, crop) in enumerate(zip(vectors, crops, strict=True))
    ]
    return {"name": name, "samples": samples}
