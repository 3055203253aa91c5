"""The identification index: person centroids from the store, answers equal to exact matching,
following every change in place (in this process and in another), repaired when its file is not."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import faiss
import numpy as np
import pytest
from samples import sample

from facerec.embedding import space
from facerec.identity import index as index_module
from facerec.identity import matching
from facerec.identity.index import PersonIndex
from facerec.store import Store, StoredSample
from facerec.store.archive import Archive
from facerec.store.people import People
from facerec.store.samples import Samples

MODEL = "casia-webface"


def people_samples(
    store: Store, people: int, per_person: int = 3, dim: int = 512, seed: int = 0, prefix: str = "person"
) -> np.ndarray:
    """Clustered people (same-person cosine about 0.7), loaded in one transaction; their centres."""
    rng = np.random.default_rng(seed)
    centres = space.unit(rng.normal(size=(people, dim)))
    rows = []
    for p in range(people):
        vectors = space.unit(centres[p] + 0.04 * rng.normal(size=(per_person, dim)))
        samples = [
            StoredSample(
                v, MODEL, None, {}, b"png", f"/{p}/{i}.jpg", f"{p:032x}{i:032x}", (0, 0, 1, 1), ((0, 0),) * 5, 1, {}
            )
            for i, v in enumerate(vectors)
        ]
        rows.append({"name": f"{prefix}{p:05d}", "samples": [s.__dict__ for s in samples]})
    Archive(store).load(rows)
    return centres


def exact(store: Store, probes: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """Today's rule, computed from every sample: each person's centroid, best first."""
    _ids, names, vectors = Samples(store).embeddings(MODEL)
    gallery = matching.Gallery.build(names, vectors)
    scores = matching.person_scores(gallery, probes)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[(gallery.names[i], float(row[i])) for i in kept] for row, kept in zip(scores, order, strict=True)]


def index_of(store: Store, folder) -> PersonIndex:
    return PersonIndex(store, MODEL, None, folder / "people")


def test_search_equals_exact_centroid_matching_below_the_approximate_threshold(store_url, tmp_path):
    store = Store(store_url)
    centres = people_samples(store, 300)
    index = index_of(store, tmp_path).current()
    assert index.kind == "flat" and len(index) == 300 and index.index.ntotal == 300
    probes = space.unit(centres[:50] + 0.05 * np.random.default_rng(1).normal(size=(50, 512)))
    found, expected = index.search(probes, 5), exact(store, probes, 5)
    for ours, theirs in zip(found, expected, strict=True):
        assert [n for n, _ in ours] == [n for n, _ in theirs]
        assert np.allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


def test_every_change_is_followed_in_place_here_and_in_another_process(store_url, tmp_path):
    store = Store(store_url)
    people_samples(store, 20)
    index = index_of(store, tmp_path).current()
    assert index.rebuilds == 1
    bob = sample(7).embedding
    Samples(store).add("bob", [sample(7)])  # enrol
    assert index.current().search(bob[None], 1)[0][0][0] == "bob"
    People(store).rename("bob", "robert")  # rename
    assert index.current().search(bob[None], 1)[0][0][0] == "robert"
    sample_id = Samples(store).records("person00003")[0].id
    Samples(store).remove(sample_id)  # a sample less: the centroid moves
    People(store).remove("person00004")  # remove
    index.current()
    assert "person00004" not in index.names.values() and len(index) == 20
    assert index.rebuilds == 1  # all of it caught up from the change log, no rebuild
    assert all(name != "person00004" for name, _ in index.search(bob[None], 20)[0])
    assert [n for n, _ in index.search(bob[None], 3)[0]] == [n for n, _ in exact(store, bob[None], 3)[0]]

    # Another process sharing the store reads the saved index and catches up with what changed after.
    index._save()
    Samples(store).add("carol", [sample(8)])
    Samples(store).replace_embeddings(
        MODEL, None, {Samples(store).records("robert")[0].id: sample(9).embedding}
    )  # re-embed
    child = subprocess.run(
        [sys.executable, "-c", CHILD, store_url, str(tmp_path / "people")], capture_output=True, text=True, check=True
    )
    assert json.loads(child.stdout) == {
        "rebuilds": 0,
        "carol": "carol",
        "robert": "robert",
        "people": 21,
    }


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path[:0] = ["tests", "."]
    from samples import sample
    from facerec.identity.index import PersonIndex
    from facerec.store import Store
    index = PersonIndex(Store(sys.argv[1]), "casia-webface", None, Path(sys.argv[2])).current()
    best = lambda seed: index.search(sample(seed).embedding[None], 1)[0][0][0]
    print(json.dumps({"rebuilds": index.rebuilds, "carol": best(8), "robert": best(9), "people": len(index)}))
    """
)


def test_a_damaged_missing_or_foreign_file_is_rebuilt_and_a_stale_one_caught_up(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    people_samples(store, 10)
    index_of(store, tmp_path).current()
    meta_path, faiss_path = tmp_path / "people.json", tmp_path / "people.faiss"
    meta = json.loads(meta_path.read_text())
    assert meta["revision"] == store.revision() and meta["people"] == 10

    Samples(store).add("late", [sample(99)])  # stale: the file is a revision behind
    stale = index_of(store, tmp_path).current()
    assert stale.rebuilds == 0 and "late" in stale.names.values()

    faiss_path.write_bytes(b"not an index")  # damaged (and no longer the file its JSON describes)
    assert index_of(store, tmp_path).current().rebuilds == 1
    faiss_path.unlink()  # missing
    assert index_of(store, tmp_path).current().rebuilds == 1
    meta = json.loads(meta_path.read_text())
    meta["model"] = "vggface2"  # another kind of vector's file under this name
    meta_path.write_text(json.dumps(meta))
    assert index_of(store, tmp_path).current().rebuilds == 1
    Samples(store).add("later", [sample(98)])
    with store.engine.begin() as connection:  # the change log pruned past what the file covers
        connection.exec_driver_sql("DELETE FROM change_log")
    Samples(store).add("latest", [sample(97)])
    rebuilt = index_of(store, tmp_path).current()
    assert rebuilt.rebuilds == 1 and {"later", "latest"} <= set(rebuilt.names.values())


def test_two_stores_in_one_folder_keep_their_own_index_files(tmp_path, data):
    from facerec import FaceRecognizer

    photos = data / "face_recognition/examples/knn_examples/train"
    first = FaceRecognizer(db=f"sqlite:///{tmp_path / 'first.db'}")
    second = FaceRecognizer(db=f"sqlite:///{tmp_path / 'second.db'}")
    first.enroll("obama", sorted((photos / "obama").iterdir()))
    second.enroll("biden", sorted((photos / "biden").iterdir()))
    probe = data / "face_recognition/examples/obama.jpg"
    for _ in range(2):  # the second round reads the files the first wrote
        assert first.identify(probe)[0].match.name == "obama"
        assert second.identify(probe)[0].match.candidates[0].name == "biden"
        first._index = second._index = None
    # (an enrolment's duplicate check opens the index: small ones are saved again only every
    # SAVE_AFTER changes, and catch up from the change log meanwhile, so a .faiss may not exist yet)
    files = [p.name for p in tmp_path.iterdir() if ".index-" in p.name and p.suffix in (".json", ".faiss")]
    assert sorted(n.split(".index-")[0] for n in files if n.endswith(".json")) == ["first.db", "second.db"]
    assert {n.split(".index-")[0] for n in files} == {"first.db", "second.db"}


def test_an_approximate_index_follows_the_store_and_is_retrained_when_outgrown(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "APPROXIMATE_ABOVE", 100)
    monkeypatch.setattr(index_module, "COMPRESS_ABOVE", 1000)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    centres = people_samples(store, 150, per_person=2)
    index = index_of(store, tmp_path).current()
    assert index.kind == "ivf" and isinstance(index.index, faiss.IndexIVFFlat)
    People(store).remove("person00000")
    Samples(store).add("newcomer", [sample(5)])
    index.current()
    assert index.rebuilds == 1 and "newcomer" in index.names.values() and "person00000" not in index.names.values()
    probes = space.unit(centres[1:] + 0.04 * np.random.default_rng(2).normal(size=(149, 512)))
    hits = [row[0][0] for row in index.search(probes, 1)]
    assert np.mean([h == f"person{p + 1:05d}" for p, h in enumerate(hits)]) >= 0.99
    loaded = index_of(store, tmp_path)
    loaded.current()
    assert loaded.rebuilds in (0, 1) and len(loaded) == 150
    people_samples(store, 500, per_person=1, seed=3, prefix="more")  # 650 people: past 1.5x the 150 it trained on
    assert index.current().rebuilds == 2 and index.trained_on == 650
    # Another process sharing the folder, while one retrains (holds the lock), goes on answering with
    # its own index, then takes the retrained file instead of retraining too.
    before = loaded.rebuilds
    with index._rebuild_lock(wait=False) as held:
        assert held
        loaded.current()
        assert loaded.rebuilds == before and len(loaded) == 650 and loaded.trained_on == 650


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ivf", "ivf-sq8"])
def test_recall_on_a_clustered_100k_gallery(kind):
    """100,000 people (a 1M-sample gallery at 10 samples each): recall@1 of the approximate index
    against exact search, with the probes new noisy samples of random people."""
    rng = np.random.default_rng(0)
    people, dim = 100_000, 512
    centroids = space.unit(rng.normal(size=(people, dim)).astype(np.float32))
    chosen = rng.integers(0, people, 300)
    probes = space.unit(centroids[chosen] + 0.04 * rng.normal(size=(300, dim)).astype(np.float32))
    index = index_module.empty(dim, kind, centroids)
    index.add_with_ids(centroids, np.arange(people, dtype=np.int64))
    _, found = index.search(probes, index_module.RERANK if kind == "ivf-sq8" else 1)
    if kind == "ivf-sq8":  # re-ranked exactly, as PersonIndex does with the store's centroids
        found = np.array([row[np.argmax(centroids[row] @ p)] for row, p in zip(found, probes, strict=True)])[:, None]
    truth = np.argmax(probes @ centroids.T, axis=1)
    assert np.mean(found[:, 0] == truth) >= 0.99


def test_pgvector_answers_as_exact_matching_and_sees_every_change_at_commit(postgres):
    from facerec.identity.pg_index import PgVectorIndex

    url = postgres.new_database()
    store = Store(url)
    centres = people_samples(store, 300)
    index = PgVectorIndex(store, MODEL, None, 512).current()
    assert len(index) == 300
    probes = space.unit(centres[:40] + 0.05 * np.random.default_rng(1).normal(size=(40, 512)))
    found, expected = index.search(probes, 3), exact(store, probes, 3)
    assert [[n for n, _ in row] for row in found] == [[n for n, _ in row] for row in expected]
    assert np.allclose([[s for _, s in row] for row in found], [[s for _, s in row] for row in expected], atol=1e-5)
    other = Store(url)  # another server's connection to the same database
    Samples(other).add("newcomer", [sample(5)])
    assert index.search(sample(5).embedding[None], 1)[0][0][0] == "newcomer"  # at its commit, nothing to load
    People(other).remove("person00007")
    assert all(n != "person00007" for n, _ in index.search(centres[7][None], 10)[0])
    assert len(index.current()) == 300


def test_pgvector_is_refused_where_there_is_none(tmp_path):
    from facerec.errors import StoreError
    from facerec.identity.pg_index import PgVectorIndex

    with pytest.raises(StoreError, match="no pgvector extension"):
        PgVectorIndex(Store(f"sqlite:///{tmp_path / 's.db'}"), MODEL, None, 512)
