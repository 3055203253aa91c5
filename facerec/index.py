"""The faiss index: a read model derived from the identity store, never a source of truth.

Inner-product search over the unit vectors of one model's samples; faiss ids are the samples'
SQL ids. Exact (Flat) up to ``APPROXIMATE_ABOVE`` samples, IVF above (measured against HNSW in
benchmarks/identity_speed.py: at 1M vectors IVF with 64 of 4,000 lists probed answers in 2.2 ms
with recall@1 1.000 and builds in 60 s on 2 cores; HNSW builds in minutes, too slow for an
automatic rebuild, and needs far more memory for its graph). Saved next to the store
with the store revision and a checksum of what it covers; when that does not match the store
(missing, stale, another model), it is rebuilt from SQL before it answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import faiss
import numpy as np

from facerec.files import write_atomically
from facerec.matching import Gallery
from facerec.store import Store

log = logging.getLogger(__name__)

APPROXIMATE_ABOVE = 50_000
IVF_PROBES = 64  # lists searched per probe
IVF_TRAINING_PER_LIST = 40  # training vectors per list (faiss' k-means wants at least 39)


def ivf_lists(count: int) -> int:
    """Inverted lists for ``count`` vectors: about 4 sqrt(n), the usual faiss rule."""
    return max(64, int(4 * np.sqrt(count)))


def checksum(ids: np.ndarray, vectors: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(ids, "<i8").tobytes())
    digest.update(np.ascontiguousarray(vectors, "<f4").tobytes())
    return digest.hexdigest()


def build(ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    dim = vectors.shape[1]
    if len(ids) > APPROXIMATE_ABOVE:
        lists = ivf_lists(len(ids))
        inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)  # the same store gives the same index
        chosen = rng.choice(len(vectors), min(len(vectors), IVF_TRAINING_PER_LIST * lists), replace=False)
        inner.train(np.ascontiguousarray(vectors[np.sort(chosen)], np.float32))
        inner.nprobe = IVF_PROBES
        inner.make_direct_map()  # reconstruct() for the checksum of a loaded index
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
    return index


class FaceIndex:
    """One model's samples, searchable; kept in step with the store it was built from."""

    def __init__(self, store: Store, model: str, folder: Path) -> None:
        self.store, self.model, self.folder = store, model, Path(folder)
        self.index: faiss.Index | None = None
        self.gallery: Gallery | None = None
        self.ids = np.zeros(0, np.int64)
        self.revision = -1

    @property
    def _stem(self) -> Path:
        return self.folder / f"index-{self.model}"

    def current(self, revision: int | None = None) -> FaceIndex:
        """Make sure the index covers exactly the store's samples at ``revision`` (default: the
        store's current one, read now); load or rebuild if not."""
        revision = self.store.revision() if revision is None else revision
        if self.index is not None and self.revision == revision:
            return self
        if not self._load(revision):
            self.rebuild()
        return self

    def _load(self, revision: int) -> bool:
        try:
            meta = json.loads(self._stem.with_suffix(".json").read_text())
            if meta["revision"] != revision or meta["model"] != self.model:
                return False
            with np.load(self._stem.with_suffix(".npz"), allow_pickle=False) as data:
                ids, owner, names = data["ids"], data["owner"], tuple(data["names"].tolist())
                centroids = data["centroids"]
            index = faiss.read_index(str(self._stem.with_suffix(".faiss")))
        except (OSError, ValueError, KeyError, RuntimeError):
            return False
        if index.ntotal != len(ids) or meta["count"] != len(ids):
            return False
        inner = faiss.downcast_index(index.index)
        if isinstance(inner, faiss.IndexIVF):
            inner.nprobe = IVF_PROBES
            inner.make_direct_map()
        vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, 0), np.float32)
        if checksum(ids, vectors) != meta["checksum"]:
            return False
        self.index, self.ids, self.revision = index, ids, revision
        self.gallery = Gallery(names, centroids, owner, vectors)
        return True

    def rebuild(self) -> FaceIndex:
        """Rebuild from SQL and save; the revision is read in the same pass as the vectors."""
        revision = self.store.revision()
        ids, names, vectors = self.store.embeddings(self.model)
        self.gallery = Gallery.build(names, vectors)
        self.ids = ids
        self.index = build(ids, vectors) if len(ids) else None
        self.revision = revision
        self._save(ids, vectors)
        log.info("index for %s rebuilt: %d samples at store revision %d", self.model, len(ids), revision)
        return self

    def _save(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Write the index files, each to a temporary name renamed into place: several processes
        (server workers) share one folder, and a reader must never see half a file."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.index is not None:
                write_atomically(self._stem.with_suffix(".faiss"), lambda tmp: faiss.write_index(self.index, str(tmp)))
            else:
                self._stem.with_suffix(".faiss").unlink(missing_ok=True)
            gallery = self.gallery

            def arrays(tmp: Path) -> None:
                with open(tmp, "wb") as handle:
                    np.savez(
                        handle,
                        ids=ids,
                        owner=gallery.sample_owner,
                        names=np.array(gallery.names, dtype=str),
                        centroids=gallery.centroids,
                    )

            write_atomically(self._stem.with_suffix(".npz"), arrays)
            meta = {
                "model": self.model,
                "revision": self.revision,
                "count": len(ids),
                "checksum": checksum(ids, vectors),
            }
            # The metadata goes last: a crash before it leaves an index that will not be trusted.
            write_atomically(self._stem.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(meta)))
        except OSError as exc:
            log.warning("could not save the index next to the store (%s); it stays in memory", exc)

    def search(self, probes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, sample ids), probes x k, best first; ids are -1 where fewer exist."""
        self.current()
        if self.index is None:
            return np.zeros((len(probes), 0), np.float32), np.zeros((len(probes), 0), np.int64)
        return self.index.search(np.ascontiguousarray(probes, np.float32), min(k, self.index.ntotal))
