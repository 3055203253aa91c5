"""`facerec attend` says what it did: a summary per source at the end, an error for a source that
gave no frames, and a warning for one too short for the confirm rule (all three used to exit 0
with no output at all)."""

from __future__ import annotations

import shutil

import pytest
from cli_run import EXAMPLES, TRAIN, run


@pytest.fixture(scope="module")
def store(tmp_path_factory, data):
    url = f"sqlite:///{tmp_path_factory.mktemp('attend') / 'store.db'}"
    assert run("--db", url, "enroll", "obama", data / TRAIN / "obama").exit_code == 0
    return url


def test_a_source_with_no_frames_is_an_error(store, tmp_path):
    fake = tmp_path / "door.jpg"
    fake.write_text("a text file, not a photo")
    result = run("--db", store, "attend", fake)
    assert result.exit_code == 1
    assert f"no frames from {fake}" in result.stderr
    assert f"{fake}: 0 frames processed" in result.stderr


def test_a_folder_without_faces_is_summarised_and_said_too_short(store, tmp_path, data):
    folder = tmp_path / "empty-room"
    folder.mkdir()
    shutil.copy(data / "faceapi_bbt/test_images/white.png", folder / "0001.png")
    result = run("--db", store, "attend", folder)
    assert result.exit_code == 0 and result.stdout == ""
    assert f"{folder}: 1 frame processed; 0 check-ins, 0 updates, 0 unknown sightings, 0 spoofs" in result.stderr
    assert "too short for the confirm rule 3/2s" in result.stderr


def test_a_single_photo_checks_in_with_a_rule_it_can_meet(store, data):
    photo = data / EXAMPLES / "obama.jpg"
    result = run("--db", store, "attend", "--confirm", "1/1s", photo)
    assert result.exit_code == 0, result.stderr
    assert "\tcheck_in\tobama\t" in result.stdout
    assert f"{photo}: 1 frame processed; 1 check-in, 0 updates" in result.stderr
    assert "too short" not in result.stderr
