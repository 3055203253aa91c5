"""The identity store on SQLite and PostgreSQL: schema, records, transactions, names, concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from samples import sample
from sqlalchemy import inspect

from facerec.errors import DuplicateNameError, StoreError, UnknownPersonError
from facerec.store import Store, StoredSample, migrations
from facerec.store.archive import Archive
from facerec.store.models import Base
from facerec.store.people import People
from facerec.store.samples import Samples


def test_new_store_is_at_the_latest_revision_and_matches_the_models(store_url):
    store = Store(store_url)
    with store.engine.connect() as connection:
        assert migrations.current(connection) == migrations.head() == migrations.HEAD
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert {"person", "face_sample", "store_state"} <= set(inspect(store.engine).get_table_names())
    assert People(store).all() == [] and store.revision() == 0


def test_add_list_show_and_duplicates(store_url):
    store = Store(store_url)
    person, added, duplicates = Samples(store).add("alice", [sample(1), sample(2)])
    assert (person.name, person.samples, added, duplicates) == ("alice", 2, 2, [])
    person, added, duplicates = Samples(store).add("alice", [sample(2, "/elsewhere/2.jpg"), sample(3)])
    assert (person.samples, added, duplicates) == (3, 1, ["/elsewhere/2.jpg"])
    Samples(store).add("bob", [sample(2)])  # the same photo may belong to another person's gallery
    assert [(p.name, p.samples) for p in People(store).all()] == [("alice", 3), ("bob", 1)]
    assert [s.source_path for s in Samples(store).records("alice")] == [
        "/photos/1.jpg",
        "/photos/2.jpg",
        "/photos/3.jpg",
    ]
    ids, names, vectors = Samples(store).embeddings("casia-webface")
    assert names == ["alice", "alice", "alice", "bob"] and vectors.shape == (4, 512)
    assert np.allclose(vectors[0], sample(1).embedding)
    assert store.revision() == 3
    assert People(store).get("alice").created.tzinfo is not None


def test_rename_remove_and_remove_sample(store_url):
    store = Store(store_url)
    Samples(store).add("alice", [sample(1), sample(2)])
    Samples(store).add("bob", [sample(3)])
    with pytest.raises(DuplicateNameError, match="'bob' exists already"):
        People(store).rename("alice", "bob")
    assert People(store).rename("alice", "carol").name == "carol"
    with pytest.raises(UnknownPersonError, match="no person named 'alice'"):
        People(store).get("alice")
    first = Samples(store).records("carol")[0]
    assert Samples(store).remove(first.id).source_path == "/photos/1.jpg"
    with pytest.raises(UnknownPersonError, match=f"no face sample with id {first.id}"):
        Samples(store).remove(first.id)
    assert People(store).remove("carol") == 1
    assert [p.name for p in People(store).all()] == ["bob"]
    ids, names, _ = Samples(store).embeddings("casia-webface")
    assert names == ["bob"]  # every sample and embedding of carol is gone


@pytest.mark.parametrize("name", ["o'brien", 'say "cheese"', "a/b\\c", "Robert'); DROP TABLE person;--", "Zoë 李 😀"])
def test_any_printable_name_round_trips(store_url, name):
    store = Store(store_url)
    Samples(store).add(name, [sample(1)])
    assert [p.name for p in People(store).all()] == [name]
    assert People(store).get(name).samples == 1


@pytest.mark.parametrize(
    "name,message",
    [("", "cannot be empty"), ("   ", "cannot be empty"), ("a\nb", "control"), ("x" * 256, "at most 255")],
)
def test_bad_names_are_refused(store_url, name, message):
    store = Store(store_url)
    with pytest.raises(StoreError, match=message):
        Samples(store).add(name, [sample(1)])
    assert People(store).all() == []


def test_a_failing_call_leaves_the_store_as_it_was(store_url):
    store = Store(store_url)
    Samples(store).add("alice", [sample(1)])
    broken = StoredSample(**{**sample(2).__dict__, "box": ("not", "numbers", None, None)})
    with pytest.raises(ValueError):
        Samples(store).add("alice", [sample(3), broken])
    with pytest.raises(ValueError):
        Samples(store).add("newcomer", [sample(4), broken])
    assert [(p.name, p.samples) for p in People(store).all()] == [("alice", 1)]
    assert store.revision() == 1


def test_an_empty_database_is_brought_to_the_latest_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    import sqlite3

    sqlite3.connect(tmp_path / "old.db").close()  # exists, no tables: the oldest possible store
    store = Store(url)
    with store.engine.connect() as connection:
        assert migrations.current(connection) == migrations.head()


def test_not_a_url_and_unreachable_server_are_clear_errors():
    with pytest.raises(StoreError, match="not a database URL.*sqlite:///PATH"):
        Store("definitely not a url")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")


def test_two_processes_writing_one_sqlite_store_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Store(url)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = {sys.path!r}
        from samples import sample
        from facerec.store import Store
        from facerec.store.samples import Samples
        held = Samples(Store({url!r}))
        who = sys.argv[1]
        for i in range(25):
            held.add(who, [sample(int(sys.argv[2]) + i)])
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, who, str(base)]) for who, base in (("p1", 0), ("p2", 1000))
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    store = Store(url)
    assert [(p.name, p.samples) for p in People(store).all()] == [("p1", 25), ("p2", 25)]
    assert store.revision() == 50


def test_reads_see_the_last_commit_while_another_connection_writes(store_url):
    """A read never waits for a writer (on SQLite it used to take the write lock and wait up to
    the 30 s busy timeout): identify keeps answering while an enrolment commits."""
    Samples(Store(store_url)).add("alice", [sample(1)])
    writer, reader = Store(store_url), Store(store_url)
    with writer.transaction() as session:
        Samples(writer).add_in(session, "bob", [sample(2)])
        session.flush()  # the write lock is held until this block ends
        assert reader.revision() == 1
        assert [p.name for p in People(reader).all()] == ["alice"]
        assert Samples(reader).embeddings("casia-webface")[1] == ["alice"]
    assert reader.revision() == 2 and [p.name for p in People(reader).all()] == ["alice", "bob"]


def test_loading_samples_of_another_model_is_refused_whole(store_url):
    store = Store(store_url)
    Samples(store).add("alice", [sample(1)])
    dumped = Archive(Store(store_url)).dump()
    foreign = [{"name": "bob", "samples": [dict(dumped[0]["samples"][0], model="vggface2", source_sha256="f" * 64)]}]
    with pytest.raises(
        StoreError, match=r"hold embeddings of vggface2 \(not centred\); the store holds casia-webface \(not centred\)"
    ):
        Archive(store).load(foreign)
    assert [p.name for p in People(store).all()] == ["alice"]  # nothing of the import was kept
