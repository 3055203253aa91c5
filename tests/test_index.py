"""The faiss index is derived from the store and never silently disagrees with it."""

from __future__ import annotations

import json

import faiss
import numpy as np
from test_store import sample

from facerec import index as index_module
from facerec.index import FaceIndex
from facerec.store import Store


def test_index_follows_the_store(store_url, tmp_path):
    store = Store(store_url)
    store.add_samples("alice", [sample(1), sample(2)])
    index = FaceIndex(store, "casia-webface", tmp_path).current()
    sims, ids = index.search(sample(1).embedding[None], 1)
    assert ids[0, 0] == store.samples("alice")[0].id and sims[0, 0] > 0.999
    store.add_samples("bob", [sample(3)])
    assert len(index.current().ids) == 3  # stale by revision: rebuilt before answering
    store.remove("alice")
    index.current()
    assert index.gallery.names == ("bob",)
    sims, ids = index.search(sample(1).embedding[None], 5)
    assert set(ids[0].tolist()) == {store.samples("bob")[0].id}  # never a stale match after a removal


def test_saved_index_is_reused_checked_and_rebuilt_when_wrong(tmp_path, monkeypatch):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.add_samples("alice", [sample(1), sample(2)])
    FaceIndex(store, "casia-webface", tmp_path).current()
    meta = json.loads((tmp_path / "index-casia-webface.json").read_text())
    assert meta["revision"] == store.revision() and meta["count"] == 2

    rebuilt = []
    original = FaceIndex.rebuild
    monkeypatch.setattr(FaceIndex, "rebuild", lambda self: rebuilt.append(1) or original(self))
    FaceIndex(store, "casia-webface", tmp_path).current()
    assert rebuilt == []  # loaded from disk: same revision, checksum holds

    meta["checksum"] = "0" * 64
    (tmp_path / "index-casia-webface.json").write_text(json.dumps(meta))
    FaceIndex(store, "casia-webface", tmp_path).current()
    assert rebuilt == [1]  # checksum mismatch: not trusted

    (tmp_path / "index-casia-webface.faiss").unlink()
    FaceIndex(store, "casia-webface", tmp_path).current()
    assert rebuilt == [1, 1]  # missing: rebuilt

    other = FaceIndex(store, "vggface2", tmp_path).current()
    assert other.index is None and len(other.ids) == 0  # another model: its own (empty) index


def test_approximate_index_above_the_threshold_keeps_recall(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "APPROXIMATE_ABOVE", 100)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    built = index_module.build(np.arange(3000) + 7, vectors)
    assert isinstance(faiss.downcast_index(built.index), faiss.IndexIVFFlat)
    probes = vectors[:200] + 0.05 * rng.normal(size=(200, 64)).astype(np.float32)
    _, ids = built.search(probes, 1)
    assert np.mean(ids[:, 0] == np.arange(200) + 7) >= 0.99


def test_an_approximate_index_is_saved_loaded_and_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "APPROXIMATE_ABOVE", 100)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    for person in range(30):
        store.add_samples(f"p{person}", [sample(person * 10 + i) for i in range(5)])
    first = FaceIndex(store, "casia-webface", tmp_path).current()
    assert isinstance(faiss.downcast_index(first.index.index), faiss.IndexIVFFlat)
    rebuilt = []
    original = FaceIndex.rebuild
    monkeypatch.setattr(FaceIndex, "rebuild", lambda self: rebuilt.append(1) or original(self))
    loaded = FaceIndex(store, "casia-webface", tmp_path).current()
    assert rebuilt == []  # loaded from disk, checksum over the reconstructed vectors holds
    probe = store.embeddings("casia-webface")[2][17]
    assert loaded.search(probe[None], 1)[1][0, 0] == first.search(probe[None], 1)[1][0, 0]
