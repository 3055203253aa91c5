"""Consent, withdrawal and template retention on SQLite and PostgreSQL: enrolment needs consent
where the store requires it, withdrawal erases every biometric trace (rows, faiss, pgvector,
crops, snapshots) at once, and templates of people not seen within the retention are purged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from samples import sample
from sqlalchemy import text
from test_encryption import files_bytes, leaks, png

from facerec.errors import ConsentRequiredError, StoreError
from facerec.identity import erasure
from facerec.identity.index import PersonIndex, index_stem
from facerec.identity.pg_index import PgVectorIndex
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.audit import AuditTrail, acting
from facerec.store.centroids import Centroids
from facerec.store.people import People
from facerec.store.privacy import Privacy
from facerec.store.samples import Samples
from facerec.store.sealing import Keyring

MODEL = "casia-webface"


def index_for(store: Store):
    """The index identification would search: pgvector on PostgreSQL, a saved faiss file on SQLite."""
    if store.postgresql:
        store.enable_pgvector(512)
        return PgVectorIndex(store, MODEL, None, 512)
    return PersonIndex(store, MODEL, None, index_stem(store, f"{MODEL}-raw"))  # where the recognizer keeps it


def named(index, vector: np.ndarray) -> list[str]:
    return [name for name, _ in index.current().search(np.asarray(vector, np.float32)[None], 5)[0]]


def test_consent_is_required_and_withdrawal_erases_every_biometric_trace(store_url, tmp_path):
    # No key: the bytes on disk are the plain ones, so finding none after erasure means they are gone.
    store = Store(store_url, keyring=Keyring())
    privacy = Privacy(store)
    assert privacy.configure(require_consent=True)["require_consent"] is True
    alice = [replace(sample(1), crop_png=png(1)), replace(sample(2), crop_png=png(2))]
    with pytest.raises(ConsentRequiredError, match="requires consent before enrolment and holds none for 'alice'"):
        Samples(store).add("alice", alice)
    assert People(store).all() == [] and store.revision() == 1  # only the setting changed
    record = privacy.give("alice", "attendance at the Leeds office", "v3")
    assert (record.subject, record.policy_version, record.recorded_by, record.withdrawn) == (
        "alice",
        "v3",
        "local",
        None,
    )
    with acting("hr-desk"):
        privacy.give("bob", "attendance", "v3")
    Samples(store).add("alice", alice)
    Samples(store).add("bob", [replace(sample(3), crop_png=png(3))])
    log = AttendanceLog(store)
    now = datetime.now(UTC)
    log.record("alice", "door", now, now, 0.8, png(11), 1, timedelta(hours=8))
    index = index_for(store)
    centroid = Centroids(store).of_kind(MODEL, None)[2][0]  # alice's (person 1)
    assert named(index, centroid)[0] == "alice"
    held = [Samples(store).embeddings(MODEL, "alice")[2][0].tobytes(), centroid.tobytes(), png(1), png(2), png(11)]

    receipt = erasure.withdraw(store, "alice")

    expected = {"consents_withdrawn": 1, "samples": 2, "embeddings": 2, "crops": 2, "centroids": 1, "snapshots": 1}
    assert {k: receipt[k] for k in expected} == expected
    assert receipt["pgvector_vectors"] == (1 if store.postgresql else 0)
    assert receipt["index_files"] == ([] if store.postgresql else ["store.db.index-casia-webface-raw.faiss"])
    assert Samples(store).records("alice") == [] and len(Samples(store).embeddings(MODEL, "alice")[0]) == 0
    assert Centroids(store).of_kind(MODEL, None)[1] == ["bob"] and [i for i, _ in Samples(store).crops()] == [
        Samples(store).records("bob")[0].id
    ]
    assert "alice" not in named(index, centroid)  # the process's own index
    assert "alice" not in named(index_for(store), centroid)  # a new one (cold start)
    if store.postgresql:
        with store.engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM person_vector WHERE person_id = 1")) == 0
            assert connection.scalar(text("SELECT count(*) FROM face_sample WHERE person_id = 1")) == 0
    else:
        cold = PersonIndex(store, MODEL, None, index_stem(store, f"{MODEL}-raw"))
        assert cold._load() and "alice" not in cold.names.values()  # the saved file itself was rewritten
        files = files_bytes(tmp_path)  # with the store open: its write-ahead log is looked in too
        assert [leaks(secret, files) for secret in held] == [[]] * len(held), "an erased face is still on disk"
    # Attendance stays (under its own retention), its picture does not; the audit says what went.
    assert [e.person for e in log.events()] == ["alice"] and log.snapshot(log.events()[0].id) == b""
    line = next(e for e in AuditTrail(store).latest() if e["action"] == "consent_withdrawn")
    assert (line["key"], line["target"], line["details"]["receipt"]["samples"]) == ("local", "alice", 2)
    assert privacy.consents("alice")[0].withdrawn is not None
    assert privacy.consents("bob")[0].recorded_by == "hr-desk"
    People(store).rename("bob", "robert")  # consent follows the person: robert may still enrol
    assert privacy.consents("robert")[0].recorded_by == "hr-desk" and privacy.consents("bob") == []
    assert Samples(store).add("robert", [replace(sample(4), crop_png=png(4))])[1] == 1
    with pytest.raises(ConsentRequiredError):
        Samples(store).add("alice", alice)  # withdrawn consent is no consent


def test_templates_of_people_not_seen_within_the_retention_are_purged(store_url, tmp_path):
    store = Store(store_url, keyring=Keyring())
    privacy = Privacy(store)
    for n, name in enumerate(["alice", "bob", "carol"]):
        Samples(store).add(name, [sample(n)])
    log = AttendanceLog(store)
    now = datetime.now(UTC)
    later = now + timedelta(days=35)
    log.record("bob", "door", later, later, 0.8, png(5), 1, timedelta(hours=8))
    index = index_for(store)
    alice = Centroids(store).of_kind(MODEL, None)[2][0]
    assert named(index, alice)[0] == "alice"  # saved beside a SQLite store
    assert erasure.apply_retention(store, now=now + timedelta(days=40))["templates_of"] == 0  # no retention set
    privacy.configure(template_retention_days=30)
    with pytest.raises(StoreError, match="template_retention_days"):
        privacy.configure(template_retention_days=-1)
    assert erasure.apply_retention(store, now=now + timedelta(days=20))["templates_of"] == 0  # within the limit
    # The clock moved past the limit: alice and carol (enrolled 40 days ago, never seen) go; bob,
    # seen 5 days ago, keeps his template.
    gone = erasure.apply_retention(store, now=now + timedelta(days=40))
    assert gone["templates_of"] == 2
    assert [(p.name, p.samples) for p in People(store).all()] == [("alice", 0), ("bob", 1), ("carol", 0)]
    assert Centroids(store).of_kind(MODEL, None)[1] == ["bob"]
    if not store.postgresql:  # the saved faiss file itself was rewritten (as attend, the CLI and HTTP apply it)
        cold = PersonIndex(store, MODEL, None, index_stem(store, f"{MODEL}-raw"))
        assert cold._load() and set(cold.names.values()) == {"bob"}
    assert "alice" not in named(index_for(store), alice)  # a new index (cold start)
    line = next(e for e in AuditTrail(store).latest() if e["action"] == "retention_purge")
    assert line["details"]["people"] == ["alice", "carol"] and line["details"]["receipt"]["samples"] == 2


def test_no_photos_kept_stores_templates_only(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", keyring=Keyring())
    Privacy(store).configure(keep_photos=False)
    Samples(store).add("alice", [replace(sample(1), crop_png=png(1))])
    assert Samples(store).crop(Samples(store).records("alice")[0].id) == b""
    assert len(Samples(store).embeddings(MODEL, "alice")[0]) == 1
    store.close()
    assert leaks(png(1), files_bytes(tmp_path)) == []
