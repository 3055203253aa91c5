"""Encryption at rest: embeddings, centroids and crops sealed in the store and in the saved index;
a missing or wrong key refused before anything is read or written."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from samples import sample

from facerec.errors import EncryptionKeyError
from facerec.identity.index import PersonIndex
from facerec.store import Store
from facerec.store.centroids import Centroids
from facerec.store.people import People
from facerec.store.samples import Samples
from facerec.store.sealing import Key, Keyring, new_key_file

MODEL = "casia-webface"


def png(seed: int) -> bytes:
    """A real PNG of random pixels: bytes that occur nowhere by chance."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def enroll_known(store: Store, folder: Path) -> tuple[bytes, bytes, bytes]:
    """Enrol alice (one sample) and bob and save the index; returns alice's embedding and centroid
    (float32 bytes, as the store reads them back) and her crop's PNG bytes."""
    known = replace(sample(7), crop_png=png(7))
    Samples(store).add("alice", [known])
    Samples(store).add("bob", [replace(sample(8), crop_png=png(8))])
    assert len(PersonIndex(store, MODEL, None, folder / "people").current()) == 2  # rebuilt and saved
    embedding = Samples(store).embeddings(MODEL, "alice")[2][0]
    assert embedding.tobytes() == np.asarray(known.embedding, "<f4").tobytes()  # it reads back whole
    assert Samples(store).crop(Samples(store).records("alice")[0].id) == known.crop_png
    centroid = Centroids(store).of_kind(MODEL, None)[2][0]
    return embedding.tobytes(), centroid.tobytes(), known.crop_png


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def leaks(secret: bytes, files: dict[str, bytes]) -> list[str]:
    """The files holding ``secret`` whole or any 32-byte piece of it (a blob split across pages),
    the first 64 bytes aside: every PNG of one size starts alike."""
    pieces = [secret[i : i + 32] for i in range(64, len(secret) - 31, 32)]
    return [name for name, content in files.items() if secret in content or any(p in content for p in pieces)]


@pytest.fixture
def key() -> Keyring:
    return Keyring(Key.of(bytes(range(32))))


def test_the_bytes_of_an_embedding_and_a_crop_appear_nowhere_on_disk_when_a_key_is_set(tmp_path, key):
    plain, sealed = tmp_path / "plain", tmp_path / "sealed"
    plain.mkdir(), sealed.mkdir()
    # The check can see a leak: without a key, both are there to find (in the database and the index).
    store = Store(f"sqlite:///{plain / 'store.db'}", keyring=Keyring())
    embedding, centroid, crop = enroll_known(store, plain)
    store.close()
    files = files_bytes(plain)
    assert leaks(embedding, files) == ["store.db"] and leaks(centroid, files) == ["people.faiss", "store.db"]
    assert leaks(crop, files) == ["store.db"]

    store = Store(f"sqlite:///{sealed / 'store.db'}", keyring=key)
    embedding, centroid, crop = enroll_known(store, sealed)
    store.close()
    files = files_bytes(sealed)
    assert {"store.db", "people.faiss", "people.json"} <= set(files)
    assert leaks(embedding, files) == [] and leaks(centroid, files) == [] and leaks(crop, files) == []
    assert files["people.faiss"].startswith(b"FACEREC-SEALED-1" + key.current.id.encode())

    # A new process (a cold start) opens the sealed index file and names alice by her vector.
    store = Store(f"sqlite:///{sealed / 'store.db'}", keyring=key)
    index = PersonIndex(store, MODEL, None, sealed / "people").current()
    assert index.rebuilds == 0 and index.search(np.frombuffer(centroid, "<f4")[None], 1)[0][0][0] == "alice"


def test_a_missing_or_wrong_key_is_refused_and_nothing_is_read_or_changed(tmp_path, key):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url, keyring=key)
    enroll_known(store, tmp_path)
    store.close()
    before = hashlib.sha256((tmp_path / "store.db").read_bytes()).hexdigest()
    with pytest.raises(EncryptionKeyError, match=f"encrypted with key {key.current.id}: set FACEREC_KEY_FILE"):
        Store(url, keyring=Keyring())
    wrong = Keyring(Key.of(bytes(32)))
    with pytest.raises(EncryptionKeyError, match=f"not with the key configured \\({wrong.current.id}\\): wrong key"):
        Store(url, keyring=wrong)
    assert hashlib.sha256((tmp_path / "store.db").read_bytes()).hexdigest() == before
    assert not (tmp_path / "store.db-wal").exists() or (tmp_path / "store.db-wal").stat().st_size == 0
    assert [p.name for p in People(Store(url, keyring=key)).all()] == ["alice", "bob"]


def test_keys_come_from_a_file_or_the_environment_and_bad_ones_are_refused(tmp_path):
    made = new_key_file(tmp_path / "key")
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(EncryptionKeyError, match="never overwritten"):
        new_key_file(tmp_path / "key")
    assert Keyring.from_environment({"FACEREC_KEY_FILE": str(tmp_path / "key")}).current == made
    assert Keyring.from_environment({"FACEREC_KEY": bytes(range(32)).hex()}).current == Key.of(bytes(range(32)))
    assert Keyring.from_environment({}).current is None
    with pytest.raises(EncryptionKeyError, match="is 32 bytes"):
        Keyring.from_environment({"FACEREC_KEY": "c2hvcnQ="})
    with pytest.raises(EncryptionKeyError, match="cannot read the key file"):
        Keyring.from_environment({"FACEREC_KEY_FILE": str(tmp_path / "absent")})
    with pytest.raises(EncryptionKeyError, match="both"):
        Keyring.from_environment({"FACEREC_KEY_FILE": "a", "FACEREC_KEY": "b"})


def test_a_sealed_blob_cannot_pass_for_another_column_or_survive_a_changed_byte(key):
    blob, key_id = key.seal(b"face", "face_sample.crop")
    assert key.open(blob, key_id, "face_sample.crop") == b"face"
    with pytest.raises(EncryptionKeyError, match="integrity check"):
        key.open(blob, key_id, "face_sample.embedding")
    with pytest.raises(EncryptionKeyError, match="integrity check"):
        key.open(blob[:-1] + bytes([blob[-1] ^ 1]), key_id, "face_sample.crop")


def test_an_index_file_of_another_key_or_none_is_rebuilt_not_read(tmp_path, key):
    url, stem = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "people"
    enroll_known(Store(url, keyring=Keyring()), tmp_path)  # plain rows, a plain index file
    assert not (tmp_path / "people.faiss").read_bytes().startswith(b"FACEREC-SEALED-1")
    index = PersonIndex(Store(url, keyring=key), MODEL, None, stem).current()  # a key is set now
    assert index.rebuilds == 1 and (tmp_path / "people.faiss").read_bytes().startswith(b"FACEREC-SEALED-1")
    index = PersonIndex(Store(url, keyring=key), MODEL, None, stem).current()
    assert index.rebuilds == 0  # read back with its key
    other = Keyring(Key.of(bytes(32)))  # the rows are still plain, so another key may open the store
    index = PersonIndex(Store(url, keyring=other), MODEL, None, stem).current()
    assert index.rebuilds == 1 and len(index) == 2  # the file sealed by the first key is not opened
