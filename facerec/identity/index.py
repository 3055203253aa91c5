"""The identification index: one centroid per enrolled person, searched by inner product.

Identification compares a face with each person's centroid (the normalised mean of their samples),
so that is what is indexed: ten times fewer vectors than samples, and the search answers exactly
the centroid rule. faiss ids are person ids. Exact (Flat) up to ``APPROXIMATE_ABOVE`` people, IVF
above, and IVF with 8-bit codes (SQ8, a quarter of the memory) above ``COMPRESS_ABOVE`` people,
re-ranked exactly from the store's centroids (benchmarks/identity_speed.py measured the choices).

The index is a read model of the store's ``person_vector`` rows, never a source of truth:

- it **follows the store in place**: each process remembers the store revision its index covers,
  and catches up from the change log (who was enrolled, removed, renamed since) by removing and
  adding centroids by id, never rebuilding for a change; an IVF index is retrained (rebuilt) only
  when the gallery has grown ``RETRAIN_GROWTH`` times past what its lists were trained on;
- it is **saved beside the store** (sealed with the store's key when it has one: its centroids
  are biometric templates; opening it costs one AES-GCM pass over the file), named after it (two
  stores in one folder keep their own), with
  the revision it covers and the identity of the faiss file: a new process reads it and catches up,
  so a cold start reads one file and a few change-log rows, and hashes nothing;
- a missing, damaged or foreign file, or a change log that no longer reaches back, is repaired
  by a rebuild from SQL (with a progress callback); the check after each catch-up (people counted
  in SQL against the index) catches anything else.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from facerec.errors import StoreError
from facerec.files import write_atomically
from facerec.store import Store
from facerec.store.centroids import Centroids
from facerec.store.engine import facerec_home
from facerec.store.sealing import FILE_MAGIC

log = logging.getLogger(__name__)

FORMAT = 2  # 1: facerec 0.1's sample index (rebuilt, never read)
APPROXIMATE_ABOVE = 20_000  # people
COMPRESS_ABOVE = 250_000  # people: a flat IVF of 512-d centroids would pass 0.5 GB
IVF_PROBED = 5  # one list in this many is searched per probe (at least 64)
IVF_TRAINING_PER_LIST = 40  # training vectors per list (faiss' k-means wants at least 39)
# Retrain the lists when the gallery has grown this much past their training: on 100k random
# centroids, lists trained on 100k / 75k / 50k / 25k of them found the nearest 99.9 / 99.3 / 98.8 /
# 98.5% of the time (1,000 probes), so past 1.5x recall falls under 0.99.
RETRAIN_GROWTH = 1.5
RERANK = 32  # candidates a compressed index re-ranks exactly
SAVE_AFTER = 1_000  # changes applied since the file was written, before it is written again
CHUNK = 20_000  # centroids read from SQL at a time when rebuilding

Progress = Callable[[int, int], None]


def ivf_lists(count: int) -> int:
    """Inverted lists for ``count`` vectors: about 4 sqrt(n), the usual faiss rule."""
    return max(64, int(4 * np.sqrt(count)))


def ivf_probes(lists: int) -> int:
    """Lists searched per probe. Person centroids spread over the sphere with little cluster
    structure (unlike samples, which cluster by person), so IVF needs to look wider than for
    samples: on 100k random unit centroids (the worst case) 64 of 1,264 lists found the exact
    nearest 95% of the time, 256 (a fifth) 99.3%, in 1.7 ms (benchmarks/identity_speed.py)."""
    return max(64, lists // IVF_PROBED)


def layout(people: int) -> str:
    """The index a rebuild makes for ``people``."""
    return "flat" if people <= APPROXIMATE_ABOVE else "ivf" if people <= COMPRESS_ABOVE else "ivf-sq8"


def outgrown(kind: str, people: int, trained_on: int) -> bool:
    """Whether an index of ``kind`` that has followed the store to ``people`` should be rebuilt:
    past its layout's range by half again (so a gallery near a boundary does not flip back and
    forth), or an IVF grown RETRAIN_GROWTH times past its lists' training."""
    if kind == "flat":
        return people > 1.5 * APPROXIMATE_ABOVE
    low, high = (APPROXIMATE_ABOVE, COMPRESS_ABOVE) if kind == "ivf" else (COMPRESS_ABOVE, float("inf"))
    return people < low / 2 or people > 1.5 * high or people > RETRAIN_GROWTH * max(trained_on, 1)


def empty(dimension: int, kind: str, training: np.ndarray | None = None) -> faiss.Index:
    """An index of ``kind`` that takes ids, trained on ``training`` if it needs training."""
    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if training is None:
        raise TypeError(f"an index of kind {kind!r} needs training vectors")
    lists = ivf_lists(len(training))
    quantizer = faiss.IndexFlatIP(dimension)
    index: faiss.IndexIVF
    if kind == "ivf":
        index = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    rng = np.random.default_rng(0)  # the same store gives the same index
    chosen = rng.choice(len(training), min(len(training), IVF_TRAINING_PER_LIST * lists), replace=False)
    index.train(np.ascontiguousarray(training[np.sort(chosen)], np.float32))
    _ready(index)
    return index


def _ready(index: faiss.Index) -> None:
    """Search settings an IVF index does not keep in its file, and removal by id."""
    inner = faiss.extract_index_ivf(index) if not isinstance(index, faiss.IndexIDMap2) else None
    if inner is not None:
        inner.nprobe = ivf_probes(inner.nlist)
        # remove_ids by id, not by scanning (DirectMap is not in faiss' stubs)
        inner.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]


class PersonIndex:
    """One kind of vector's enrolled people (model, centre), searchable, following ``store``."""

    def __init__(self, store: Store, model: str, centre: str | None, stem: Path) -> None:
        self.store, self.model, self.centre, self.stem = store, model, centre, Path(stem)
        self.index: faiss.Index | None = None
        self.names: dict[int, str] = {}
        self.revision = -1
        self.kind = "flat"
        self.trained_on = 0
        self.unsaved = 0  # changes applied since the file was written
        self.rebuilds = 0  # how many times this object rebuilt from SQL (tests assert catch-ups do not)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def _meta_path(self) -> Path:
        return self.stem.with_name(self.stem.name + ".json")

    @property
    def _faiss_path(self) -> Path:
        return self.stem.with_name(self.stem.name + ".faiss")

    # --- keeping up with the store ----------------------------------------------------------------

    def current(self, revision: int | None = None, progress: Progress | None = None) -> PersonIndex:
        """Cover the store at ``revision`` (default: read now): catch up in place if possible,
        else load the saved file and catch up from it, else rebuild from SQL."""
        revision = self.store.revision() if revision is None else revision
        if self.index is not None and self.revision == revision:
            return self
        if (self.index is None and not self._load()) or not self._catch_up() or not self._agrees():
            return self._repair(progress)
        if outgrown(self.kind, len(self), self.trained_on):
            self._retrain(progress)
        elif self.unsaved >= SAVE_AFTER:
            self._save()
        return self

    def _repair(self, progress: Progress | None) -> PersonIndex:
        """No usable index here: rebuild it, one process at a time. One that waited for another's
        rebuild reads the file that one wrote and catches up, instead of rebuilding again."""
        with self._rebuild_lock(wait=True):
            if self._load() and self._catch_up() and self._agrees():
                return self
            return self.rebuild(progress)

    def _retrain(self, progress: Progress | None) -> None:
        """An index that still answers, but has outgrown its layout: one process sharing the
        folder rebuilds it while the others go on answering with theirs, then read its file."""
        with self._rebuild_lock(wait=False) as mine:
            if mine:
                self.rebuild(progress)
                return
        newer = PersonIndex(self.store, self.model, self.centre, self.stem)
        if newer._load() and newer.trained_on > self.trained_on and newer._catch_up() and newer._agrees():
            self.index, self.names, self.revision = newer.index, newer.names, newer.revision
            self.kind, self.trained_on, self.unsaved = newer.kind, newer.trained_on, newer.unsaved

    @contextlib.contextmanager
    def _rebuild_lock(self, wait: bool):
        """An exclusive lock on a file beside the index (True when held; False when another
        process holds it and ``wait`` is False). Where the folder cannot hold one, just True."""
        try:
            self.stem.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.stem.with_name(self.stem.name + ".lock"), "a")  # noqa: SIM115 - closed below
        except OSError:
            yield True
            return
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()

    def _catch_up(self) -> bool:
        """Apply the changes logged after the revision held: False if the log does not reach back."""
        changes = self.store.changes_since(self.revision)
        if changes is None:
            return False
        revision, rows = changes
        touched = {person for person, kind in rows if person is not None and kind != "renamed"}
        renamed = {person for person, kind in rows if person is not None and kind == "renamed"}
        erased = False
        centroids = Centroids(self.store)
        if touched:
            ids, names, vectors = centroids.of_kind(self.model, self.centre, people=touched)
            erased = any(int(p) in self.names for p in touched - set(ids.tolist()))
            self._remove(np.array(sorted(touched), np.int64))
            self._add(ids, names, vectors)
        if renamed - touched:
            ids, names, _ = centroids.of_kind(self.model, self.centre, people=renamed - touched)
            self.names.update(zip(ids.tolist(), names, strict=True))
        # Someone's centroid is gone (removed, erased, purged): the file is written again now, not
        # after SAVE_AFTER changes, so an erased face does not outlive its erasure on disk.
        self.unsaved = max(self.unsaved + len(rows), SAVE_AFTER if erased else 0)
        self.revision = revision
        return True

    def _agrees(self) -> bool:
        """The cheap check that the index holds what the store does: one count in SQL."""
        held = Centroids(self.store).count(self.model, self.centre)
        if held != len(self) or (self.index is not None and self.index.ntotal != len(self)):
            log.warning("index of %s holds %d people, the store %d: rebuilding", self.model, len(self), held)
            return False
        return True

    def _remove(self, ids: np.ndarray) -> None:
        gone = [int(i) for i in ids if int(i) in self.names]
        if gone and self.index is not None:
            # faiss' stubs know remove_ids(IDSelector) only; its Python wrapper also takes the ids
            self.index.remove_ids(np.array(gone, np.int64))  # type: ignore[arg-type]
        for person in gone:
            del self.names[person]

    def _add(self, ids: np.ndarray, names: list[str], vectors: np.ndarray) -> None:
        if not len(ids):
            return
        if self.index is None:
            self.index = empty(vectors.shape[1], "flat")
            self.kind = "flat"
        self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
        self.names.update(zip(ids.tolist(), names, strict=True))

    def rebuild(self, progress: Progress | None = None) -> PersonIndex:
        """Everything again from the store's centroids (read in chunks), then saved."""
        revision = self.store.revision()  # read first: a change committed meanwhile is caught up later
        centroids = Centroids(self.store)
        total = centroids.count(self.model, self.centre)
        chunks, after = [], 0
        names: dict[int, str] = {}
        while True:
            ids, chunk_names, vectors = centroids.of_kind(self.model, self.centre, after=after, limit=CHUNK)
            if not len(ids):
                break
            chunks.append((ids, vectors))
            names.update(zip(ids.tolist(), chunk_names, strict=True))
            after = int(ids[-1])
            if progress:
                progress(len(names), total)
        self.kind, self.trained_on, self.names, self.index = layout(len(names)), len(names), names, None
        if chunks:
            vectors = np.concatenate([v for _, v in chunks])
            self.index = empty(vectors.shape[1], self.kind, vectors)
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.concatenate([i for i, _ in chunks]))
        self.revision, self.rebuilds = revision, self.rebuilds + 1
        self._save()
        log.info("index of %s rebuilt: %d people at store revision %d (%s)", self.model, len(self), revision, self.kind)
        return self

    # --- the file beside the store ------------------------------------------------------------------

    def _save(self) -> None:
        """The faiss file, then a small JSON that names it by size, mtime and inode and says what it
        covers: a reader that finds another faiss file than the JSON describes trusts neither."""
        try:
            self.stem.parent.mkdir(parents=True, exist_ok=True)
            if self.index is None:
                self._faiss_path.unlink(missing_ok=True)
                stat = None
            else:
                write_atomically(self._faiss_path, functools.partial(self._write_faiss, self.index))
                stat = os.stat(self._faiss_path)
            ids = list(self.names)
            meta = {
                "format": FORMAT,
                "model": self.model,
                "centre": self.centre,
                "revision": self.revision,
                "kind": self.kind,
                "trained_on": self.trained_on,
                "people": len(ids),
                "faiss": None if stat is None else [stat.st_size, stat.st_mtime_ns, stat.st_ino],
                "ids": ids,
                "names": [self.names[i] for i in ids],
            }
            write_atomically(self._meta_path, lambda tmp: tmp.write_text(json.dumps(meta, ensure_ascii=False)))
            self.unsaved = 0
        except OSError as exc:
            log.warning("could not save the index beside the store (%s); it stays in memory", exc)

    def _write_faiss(self, index: faiss.Index, target: Path) -> None:
        """The faiss file: sealed with the store's key when it has one (it holds every person's
        centroid); without one, streamed to disk as faiss writes it."""
        if self.store.keyring.current is None:
            faiss.write_index(index, str(target))
        else:
            target.write_bytes(self.store.keyring.seal_file(faiss.serialize_index(index).tobytes()))

    def _read_faiss(self, handle) -> faiss.Index:
        """An index from an open faiss file, sealed or plain (a plain one is streamed, not copied)."""
        if self.store.keyring.current is None and handle.read(len(FILE_MAGIC)) != FILE_MAGIC:
            handle.seek(0)
            return faiss.read_index(faiss.PyCallbackIOReader(handle.read))  # type: ignore[attr-defined]  # not in faiss' stubs
        handle.seek(0)
        opened = self.store.keyring.open_file(handle.read())  # EncryptionKeyError: another key's file
        return faiss.deserialize_index(np.frombuffer(opened, np.uint8))

    def _load(self) -> bool:
        try:
            meta = json.loads(self._meta_path.read_text())
            if (meta.get("format"), meta.get("model"), meta.get("centre")) != (FORMAT, self.model, self.centre):
                return False
            index = None
            if meta["faiss"] is not None:
                with open(self._faiss_path, "rb") as handle:
                    stat = os.fstat(handle.fileno())
                    if [stat.st_size, stat.st_mtime_ns, stat.st_ino] != meta["faiss"]:
                        return False  # written by another process after this JSON: not the file it describes
                    index = self._read_faiss(handle)
                _ready(index)
            names = dict(zip(meta["ids"], meta["names"], strict=True))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, StoreError):
            return False  # a file sealed by another key, or a plain one where a key is set: rebuilt
        if (index.ntotal if index is not None else 0) != len(names) or meta["people"] != len(names):
            return False
        self.index, self.names, self.revision = index, names, int(meta["revision"])
        self.kind, self.trained_on, self.unsaved = meta["kind"], int(meta["trained_on"]), 0
        return True

    # --- answering ------------------------------------------------------------------------------------

    def search(self, probes: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Each probe's k nearest people, best first, as (name, similarity)."""
        probes = np.ascontiguousarray(probes, np.float32)
        if self.index is None or not len(self):
            return [[] for _ in probes]
        wanted = min(k, len(self))
        fetch = min(max(wanted, RERANK), len(self)) if self.kind == "ivf-sq8" else wanted
        similarities, ids = self.index.search(probes, fetch)
        if self.kind == "ivf-sq8":
            similarities, ids = self._rerank(probes, ids, wanted)
        return [
            [(self.names[int(i)], float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(similarities, ids, strict=True)
        ]

    def _rerank(self, probes: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The compressed index's candidates scored exactly, on the store's float centroids."""
        candidates = sorted({int(i) for i in ids.ravel() if i >= 0})
        found, _, vectors = Centroids(self.store).of_kind(self.model, self.centre, people=candidates)
        row = {int(person): n for n, person in enumerate(found)}
        out_s = np.full((len(probes), k), -np.inf, np.float32)
        out_i = np.full((len(probes), k), -1, np.int64)
        for p, probe in enumerate(probes):
            mine = [int(i) for i in ids[p] if int(i) in row]
            if not mine:
                continue
            scores = vectors[[row[i] for i in mine]] @ probe
            order = np.argsort(-scores, kind="stable")[:k]
            out_s[p, : len(order)] = scores[order]
            out_i[p, : len(order)] = np.array(mine)[order]
        return out_s, out_i


def _stem_base(store: Store) -> tuple[Path, str]:
    """(folder, name prefix) of the index files saved for ``store``: beside a SQLite file, named
    after it (two stores in one folder keep their own); else under $FACEREC_HOME/indexes."""
    url = store.engine.url
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        path = Path(database).resolve()
        return path.parent, f"{path.name}.index-"
    return facerec_home() / "indexes" / hashlib.sha256(store.url.encode()).hexdigest()[:16], ""


def index_stem(store: Store, kind: str) -> Path:
    """Where the index of one kind of vector (``model-centre``) of ``store`` is saved."""
    folder, prefix = _stem_base(store)
    return folder / f"{prefix}{kind}"


def refresh_saved(store: Store, force: bool = False) -> list[str]:
    """Bring every index file saved for ``store`` up to date and write it again (where someone's
    centroid is gone, or with ``force``: sealed again after a key rotation): after an erasure, no
    saved file keeps the erased face. Returns the files."""
    folder, prefix = _stem_base(store)
    written = []
    for meta in sorted(folder.glob(f"{prefix}*.json")) if folder.is_dir() else []:
        try:
            described = json.loads(meta.read_text())
            model, centre = described["model"], described["centre"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        stem = meta.with_suffix("")
        index = PersonIndex(store, model, centre, stem)
        index.current()
        if index.unsaved or force:  # caught up (or rotated): written now, current
            index._save()
        written.append(stem.name + ".faiss")
    return written


def remove_files(stem: Path) -> None:
    """Forget a saved index (the next process rebuilds it)."""
    for suffix in (".json", ".faiss"):
        with contextlib.suppress(OSError):
            Path(str(stem) + suffix).unlink()
