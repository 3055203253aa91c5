"""Calibration of the identification threshold, and a store from an older schema being upgraded."""

from __future__ import annotations

import numpy as np
import pytest
from alembic import command
from cli_run import run
from sqlalchemy import create_engine, inspect

from facerec import FaceRecognizer
from facerec.identity.matching import Gallery, open_set_threshold
from facerec.store import Store, migrations


def test_open_set_threshold_lets_through_the_asked_share_of_strangers():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, 64))
    samples = np.repeat(centres, 5, axis=0) + 0.7 * rng.normal(size=(200, 64))
    samples /= np.linalg.norm(samples, axis=1, keepdims=True)
    gallery = Gallery.build([f"p{i}" for i in range(40) for _ in range(5)], samples.astype(np.float32))
    threshold = open_set_threshold(gallery, 0.1)
    passed = []
    for person in range(40):
        others = np.delete(gallery.centroids, person, axis=0)
        passed += ((gallery.samples[gallery.sample_owner == person] @ others.T).max(axis=1) >= threshold).tolist()
    assert np.mean(passed) == pytest.approx(0.1, abs=0.01)
    with pytest.raises(ValueError):
        open_set_threshold(Gallery.build(["a"], samples[:1].astype(np.float32)), 0.1)


def test_calibrate_from_the_gallery_and_from_a_folder(tmp_path, data):
    url = f"sqlite:///{tmp_path / 's.db'}"
    train = data / "face_recognition/examples/knn_examples/train"
    too_few = run("--db", url, "enroll", "obama", train / "obama")
    assert too_few.exit_code == 0
    result = run("--db", url, "calibrate")
    assert result.exit_code == 1 and "at least two people" in result.stderr
    for person in ("biden", "kit_harington", "rose_leslie"):
        assert run("--db", url, "enroll", person, train / person).exit_code == 0
    recognizer = FaceRecognizer(db=url)
    default = recognizer.identify_threshold(4, recognizer.store.revision())
    result = run("--db", url, "calibrate", "--far", "0.5")
    assert result.exit_code == 0 and "stored" in result.stdout
    calibrated = FaceRecognizer(db=url).identify_threshold(4)
    assert calibrated != pytest.approx(default) and -1 < calibrated < 1
    # a recognizer that read the setting before sees the new one: storing it moved the revision
    assert recognizer.identify_threshold(4, recognizer.store.revision()) == pytest.approx(calibrated)
    result = run("--db", url, "calibrate", "--folder", data / "faceapi_bbt/examples_images", "--far", "0.05")
    assert result.exit_code == 0 and "8 people" in result.stdout
    assert FaceRecognizer(db=url).identify_threshold(4) != pytest.approx(calibrated)
    assert run("--db", url, "calibrate", "--far", "2").exit_code == 1


def test_a_store_at_an_older_revision_is_upgraded_when_opened(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = migrations._config(connection)
        command.upgrade(config, "0001")
    assert "store_setting" not in inspect(engine).get_table_names()
    store = Store(url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"store_setting", "attendance_event", "unknown_sighting", "api_key"} <= tables
    with store.engine.connect() as connection:
        assert migrations.current(connection) == migrations.head() == migrations.HEAD == "0009_privacy"
