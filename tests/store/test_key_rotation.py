"""`facerec keys rotate`: killed with SIGKILL halfway, run again, every row readable with the new key
and no row that neither key opens at any point."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from samples import dumped_person

from facerec.errors import EncryptionKeyError
from facerec.store import Store
from facerec.store.archive import Archive
from facerec.store.centroids import Centroids
from facerec.store.rotation import pending
from facerec.store.samples import Samples
from facerec.store.sealing import Keyring, new_key_file

CLI = Path(__file__).resolve().parents[2] / "cli.py"
MODEL = "casia-webface"
PEOPLE, PER_PERSON = 200, 10


def gallery(rng: np.random.Generator) -> list[dict]:
    people = []
    for p in range(PEOPLE):
        vectors = rng.normal(size=(PER_PERSON, 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        people.append(dumped_person(f"p{p:04d}", vectors, [rng.bytes(2000) for _ in vectors], MODEL))
    return people


def rotate_command(url: str, new_key: Path) -> list[str]:
    return [sys.executable, str(CLI), "--db", url, "keys", "rotate", "--new-key-file", str(new_key), "--batch", "40"]


def test_rotation_killed_halfway_then_run_again_leaves_every_row_readable_with_the_new_key(tmp_path):
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old, new = new_key_file(old_file), new_key_file(new_file)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url, keyring=Keyring(old))
    Archive(store).load(gallery(np.random.default_rng(0)))
    ids, names, vectors = Samples(store).embeddings(MODEL)
    crops = Samples(store).crops()
    store.close()
    total = PEOPLE * PER_PERSON + PEOPLE  # samples and centroids
    env = os.environ | {"FACEREC_KEY_FILE": str(old_file)}
    env.pop("FACEREC_KEY", None)

    run = subprocess.Popen(rotate_command(url, new_file), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = sqlite3.connect(f"file:{tmp_path / 'store.db'}?mode=ro", uri=True)
    done, deadline = 0, time.monotonic() + 60
    try:
        while run.poll() is None and time.monotonic() < deadline:
            done = watch.execute("SELECT count(*) FROM face_sample WHERE key_id = ?", (new.id,)).fetchone()[0]
            if done:
                run.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        run.kill()
        run.wait()
        watch.close()
    assert run.returncode == -signal.SIGKILL
    store = Store(url, keyring=Keyring(new, older=(old,)))
    halfway = pending(store, new.id)
    assert 0 < halfway < total, "the rotation was not stopped halfway"
    assert store.sealed_with() == {old.id, new.id}  # every row under one key or the other, none under neither
    store.close()
    for only in (old, new):
        with pytest.raises(EncryptionKeyError, match="if `facerec keys rotate` was interrupted, run it again"):
            Store(url, keyring=Keyring(only))

    again = subprocess.run(rotate_command(url, new_file), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{halfway} rows re-encrypted with key {new.id}" in again.stdout

    store = Store(url, keyring=Keyring(new))  # the new key alone opens it now
    assert store.sealed_with() == {new.id} and pending(store, new.id) == 0
    after_ids, after_names, after_vectors = Samples(store).embeddings(MODEL)
    assert np.array_equal(after_ids, ids) and after_names == names and np.array_equal(after_vectors, vectors)
    assert Samples(store).crops() == crops
    with pytest.raises(EncryptionKeyError, match="wrong key"):
        Store(url, keyring=Keyring(old))


def test_rotation_on_postgresql_keeps_pgvector_searching(postgres):
    from facerec.identity.pg_index import PgVectorIndex
    from facerec.store.rotation import rotate
    from facerec.store.sealing import Key

    url = postgres.new_database()
    old, new = Key.of(bytes(range(32))), Key.of(bytes(range(1, 33)))
    store = Store(url, keyring=Keyring(old))
    Archive(store).load(gallery(np.random.default_rng(1))[:30])
    store.enable_pgvector(512)
    ids, names, vectors = Samples(store).embeddings(MODEL)
    _, people, centroids = Centroids(store).of_kind(MODEL, None)
    store.close()
    store = Store(url, keyring=Keyring(new, older=(old,)))
    steps = []
    result = rotate(store, lambda done, total: steps.append((done, total)), batch=64)
    assert (result.rows, result.remaining) == (30 * PER_PERSON + 30, 0) and steps[-1] == (result.rows, result.rows)
    store = Store(url, keyring=Keyring(new))
    assert store.sealed_with() == {new.id} and np.array_equal(Samples(store).embeddings(MODEL)[2], vectors)
    index = PgVectorIndex(store, MODEL, None, 512).current()
    assert [index.search(c[None], 1)[0][0][0] for c in centroids] == people  # still searched in PostgreSQL
