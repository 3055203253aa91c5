"""`facerec backup` takes a consistent copy of a store in use; `facerec restore` puts one back."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from cli_run import run

from facerec.identity.index import PersonIndex
from facerec.store import backup as backups
from facerec.store.centroids import Centroids
from facerec.store.people import People
from facerec.store.records import StoredSample
from facerec.store.repository import Store
from facerec.store.samples import Samples

CLI = Path(__file__).resolve().parents[2] / "cli.py"


def _samples(person: int, count: int = 2) -> list[StoredSample]:
    rng = np.random.default_rng(person)
    out = []
    for k in range(count):
        vector = rng.standard_normal(512).astype(np.float32)
        vector /= np.linalg.norm(vector)
        out.append(
            StoredSample(
                vector, "casia-webface", None, {}, b"png", f"/p{person}-{k}.jpg", f"{person:032x}{k:032x}",
                (0, 0, 1, 1), ((0, 0),) * 5, 1.0, {},
            )
        )  # fmt: skip
    return out


def test_a_backup_taken_while_enrollments_run_is_consistent_and_restores(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    stop = threading.Event()
    enrolled: list[int] = []

    def enroll_forever() -> None:  # another process's worth of writes, each person two samples in one go
        writer = Store(url)
        person = 0
        while not stop.is_set():
            Samples(writer).add(f"person {person}", _samples(person))
            enrolled.append(person)
            person += 1

    writer = threading.Thread(target=enroll_forever)
    writer.start()
    try:
        copies = []
        for i in range(3):
            while len(enrolled) < 20 * (i + 1):
                stop.wait(0.01)
            copies.append(backups.backup(store, tmp_path / f"copy-{i}.db"))
    finally:
        stop.set()
        writer.join()
    for info in copies:
        with sqlite3.connect(info.path) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            counts = copy.execute("SELECT count(*) FROM face_sample GROUP BY person_id").fetchall()
        assert info.people >= 20 and {c for (c,) in counts} == {2}  # each enrolment whole in the copy
        assert info.samples == 2 * info.people
        assert not Path(f"{info.path}.partial").exists() and not Path(f"{info.path}-wal").exists()
    assert copies[0].people < copies[2].people <= len(enrolled)

    index = PersonIndex(store, "casia-webface", None, tmp_path / "store.db.index-test")
    assert len(index.current()) == len(enrolled)
    restored = backups.restore(store, copies[1].path)
    assert restored.people == copies[1].people
    assert len(People(store).all()) == copies[1].people
    assert Centroids(store).count("casia-webface", None) == copies[1].people
    assert len(index.current()) == copies[1].people  # the index rebuilt itself for what came back
    probe = _samples(0)[0].embedding[None]
    assert index.search(probe, 1)[0][0][0] == "person 0"


def test_backup_and_restore_from_the_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Samples(Store(url)).add("alice", _samples(1))
    made = run("--db", url, "backup", tmp_path / "copy.db")
    assert made.exit_code == 0 and "backed up 1 people, 2 samples" in made.stdout
    Samples(Store(url)).add("bob", _samples(2))
    refused = subprocess.run(  # a real terminal-less process: no --yes, no answer, nothing restored
        [sys.executable, str(CLI), "--db", url, "restore", str(tmp_path / "copy.db")],
        input="",
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and len(People(Store(url)).all()) == 2
    done = run("--db", url, "restore", tmp_path / "copy.db", "--yes")
    assert done.exit_code == 0 and "restored 1 people" in done.stdout
    assert [p["name"] for p in json.loads(run("--db", url, "list", "--json").stdout)] == ["alice"]
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    junk = run("--db", url, "restore", tmp_path / "junk.db", "--yes")
    assert junk.exit_code == 1 and "not a facerec store" in junk.stderr
    assert run("--db", url, "restore", tmp_path / "missing.db", "--yes").exit_code == 1
    assert [p["name"] for p in json.loads(run("--db", url, "list", "--json").stdout)] == ["alice"]
    itself = run("--db", url, "backup", tmp_path / "store.db")
    assert itself.exit_code == 1 and "the store itself" in itself.stderr


def test_a_postgresql_store_is_pointed_to_pg_dump(postgres, tmp_path):
    url = postgres.new_database()
    result = run("--db", url, "backup", tmp_path / "copy.db")
    assert result.exit_code == 1 and "pg_dump --format=custom" in result.stderr and "pg_restore" in result.stderr
    assert not (tmp_path / "copy.db").exists()
