"""Embeddings remembered on disk between runs of an evaluation, keyed by file and settings.

An entry is reused only when the file (path, size, mtime) and every setting that shaped the
vector (model hash, preprocessing, detector) are unchanged; anything else is recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np

from facerec.files import write_atomically


class EmbeddingCache:
    def __init__(self, folder: Path, name: str) -> None:
        self.path = Path(folder) / f"{name}.npz"
        self._entries: dict[str, tuple[np.ndarray, bool]] = {}
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, KeyError), np.load(self.path) as data:
            keys = json.loads(str(data["keys"]))
            for key, vector, found in zip(keys, data["vectors"], data["found"], strict=True):
                self._entries[key] = (vector, bool(found))

    @staticmethod
    def _key(path: Path, settings: dict) -> str:
        stat = Path(path).stat()
        raw = json.dumps([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, settings], sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, path: Path, settings: dict) -> tuple[np.ndarray, bool] | None:
        return self._entries.get(self._key(path, settings))

    def put(self, path: Path, settings: dict, vector: np.ndarray, found: bool) -> None:
        self._entries[self._key(path, settings)] = (np.asarray(vector, np.float32), found)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or not self._entries:
            return
        keys = list(self._entries)

        def arrays(temporary: Path) -> None:
            with open(temporary, "wb") as handle:  # a handle: np.savez would add ".npz" to a path
                np.savez(
                    handle,
                    keys=json.dumps(keys),
                    vectors=np.stack([self._entries[k][0] for k in keys]),
                    found=np.array([self._entries[k][1] for k in keys]),
                )

        with contextlib.suppress(OSError):  # a cache we cannot write only costs time next run
            write_atomically(self.path, arrays)
        self._dirty = False
