"""Enrolment's rules and failures: skipped photos with reasons, all-or-nothing, crash safety, models."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from cli_run import run

from facerec.identity.index import PersonIndex
from facerec.store import Store
from facerec.store.centroids import Centroids
from facerec.store.people import People
from facerec.store.samples import Samples


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_good_bad_and_corrupt_photos_in_one_folder(url, tmp_path, data):
    folder = tmp_path / "alice"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(data / "face_recognition/examples/obama.jpg", folder / "a.jpg")
    shutil.copy(data / "face_recognition/examples/obama2.jpg", folder / "nested" / "b.jpg")
    shutil.copy(data / "bad_inputs/truncated.jpg", folder / "c.jpg")
    shutil.copy(data / "faceapi_bbt/test_images/white.png", folder / "d.png")
    shutil.copy(data / "face_recognition/examples/two_people.jpg", folder / "e.jpg")
    (folder / "notes.txt").write_text("not a photo")
    result = run("--db", url, "enroll", "--json", "obama", folder)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(p.rsplit("/", 1)[1] for p in report["added"]) == ["a.jpg", "b.jpg"]
    reasons = {s["file"].rsplit("/", 1)[1]: s["reason"] for s in report["skipped"]}
    assert "truncated" in reasons["c.jpg"]
    assert reasons["d.png"] == "no face found"
    assert reasons["e.jpg"].startswith("2 faces found")
    assert "not an image" in reasons["notes.txt"]
    assert report["samples"] == 2
    assert all(f"skipped {s['file']}" in result.stderr for s in report["skipped"])
    again = json.loads(run("--db", url, "enroll", "--json", "obama", folder / "a.jpg").stdout)
    assert again["added"] == [] and again["skipped"][0]["reason"] == "already enrolled (same photo)"
    assert People(Store(url)).get("obama").samples == 2


def test_largest_takes_the_largest_face_and_db_goes_after_the_command_too(url, data):
    result = run("enroll", "--db", url, "--largest", "biden", data / "face_recognition/examples/two_people.jpg")
    assert result.exit_code == 0 and "added 1" in result.stdout
    assert [p["name"] for p in json.loads(run("--db", url, "list", "--json").stdout)] == ["biden"]


def test_largest_in_a_group_photo_takes_the_face_like_the_persons_other_photos(url, data):
    photos = data / "face_recognition/examples/knn_examples"
    group = photos / "test/obama_and_biden.jpg"  # biden left, obama right and larger
    assert run("--db", url, "enroll", "biden", photos / "train/biden").exit_code == 0
    result = run("--db", url, "enroll", "--json", "--largest", "biden", group)
    assert result.exit_code == 0 and len(json.loads(result.stdout)["added"]) == 1
    sample = next(
        s for s in Samples(Store(url)).records("biden") if s.source_path == str(group.resolve())
    )  # stored resolved
    assert sample.box[0] == pytest.approx(757, abs=5)  # biden's face, not obama's at x 1144
    # Nobody in the photo looks like rose_leslie: the photo is skipped, saying so.
    assert run("--db", url, "enroll", "rose_leslie", photos / "train/rose_leslie").exit_code == 0
    result = run("--db", url, "enroll", "--json", "--largest", "rose_leslie", group)
    assert result.exit_code == 1
    reason = json.loads(result.stdout)["skipped"][0]["reason"]
    assert "usable faces looks like rose_leslie's other photos" in reason
    assert People(Store(url)).get("rose_leslie").samples == 2


def test_nothing_added_is_an_error_and_leaves_the_store_unchanged(url, tmp_path, data):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("--db", url, "enroll", "alice", empty)
    assert result.exit_code == 1 and "no files found" in result.stderr
    result = run("--db", url, "enroll", "alice", data / "faceapi_bbt/test_images/white.png")
    assert result.exit_code == 1 and "no photo of alice was added" in result.stderr
    assert People(Store(url)).all() == []


@pytest.mark.parametrize("name", ["o'brien/../x", "Robert'); DROP TABLE person;--", "Zoë 李"])
def test_awkward_names(url, data, name):
    photo = data / "face_recognition/examples/obama.jpg"
    assert run("--db", url, "enroll", name, photo).exit_code == 0
    assert [p["name"] for p in json.loads(run("--db", url, "list", "--json").stdout)] == [name]
    assert run("--db", url, "show", name).exit_code == 0


def test_unknown_person_and_empty_gallery(url, data):
    photo = data / "face_recognition/examples/obama.jpg"
    for command in (["show", "nobody"], ["rename", "nobody", "x"], ["remove", "--yes", "nobody"]):
        result = run("--db", url, *command)
        assert result.exit_code == 1 and "no person named 'nobody'" in result.stderr
    result = run("--db", url, "remove-sample", "42")
    assert result.exit_code == 1 and "no face sample with id 42" in result.stderr
    result = run("--db", url, "identify", photo)
    assert result.exit_code == 1 and "no one is enrolled yet" in result.stderr


def test_rename_remove_and_show(url, data):
    photos = data / "face_recognition/examples/knn_examples/train/obama"
    assert run("--db", url, "enroll", "barack", photos).exit_code == 0
    assert run("--db", url, "rename", "barack", "obama").exit_code == 0
    shown = json.loads(run("--db", url, "show", "--json", "obama").stdout)
    assert len(shown["samples"]) == 2 and {"id", "file", "quality"} <= set(shown["samples"][0])
    assert run("--db", url, "remove-sample", shown["samples"][0]["id"]).exit_code == 0
    probe = data / "face_recognition/examples/obama.jpg"
    assert json.loads(run("--db", url, "identify", "--json", probe).stdout)[0]["faces"][0]["name"] == "obama"
    assert run("--db", url, "remove", "obama").exit_code == 1  # asks; no input means no
    assert run("--db", url, "remove", "--yes", "obama").exit_code == 0
    assert json.loads(run("--db", url, "list", "--json").stdout) == []
    assert run("--db", url, "identify", probe).exit_code == 1  # nobody left to match, not a stale hit


def test_models_never_mix(url, data, monkeypatch):
    photo = data / "face_recognition/examples/obama.jpg"
    assert run("--db", url, "enroll", "obama", photo).exit_code == 0
    store = Store(url)
    with store.engine.begin() as connection:  # a store of another model's vectors: samples and centroids
        connection.exec_driver_sql("UPDATE face_sample SET model = 'other-model'")
        connection.exec_driver_sql("UPDATE person_vector SET model = 'other-model'")
    result = run("--db", url, "identify", photo)
    assert result.exit_code == 1 and "holds embeddings of model other-model" in result.stderr
    assert "reembed" in result.stderr


def test_killed_in_the_middle_of_writing_leaves_the_store_as_before(store_url, tmp_path):
    """SIGKILL a process inside its enrolment transaction, after it wrote its rows."""
    store = Store(store_url)
    from samples import sample

    Samples(store).add("alice", [sample(1)])
    before = (People(store).all(), store.revision())
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path[:0] = {sys.path!r}
        from samples import sample
        from facerec.store import Store
        from facerec.store.samples import Samples
        import facerec.store.repository as repository
        store = Store({store_url!r})
        original = repository.Store.changed
        def changed_then_wait(self, session, kind, people=()):
            original(self, session, kind, people)  # samples, centroid and change log written
            session.flush()
            print("written", flush=True)
            time.sleep(120)
        repository.Store.changed = changed_then_wait
        Samples(store).add("alice", [sample(i) for i in range(2, 40)])
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    time.sleep(0.5)
    reopened = Store(store_url)
    assert (People(reopened).all(), reopened.revision()) == before
    assert reopened.changes_since(before[1]) == (before[1], [])  # no change logged for what never was
    assert Centroids(reopened).count("casia-webface", None) == 1
    index = PersonIndex(reopened, "casia-webface", None, tmp_path / "index").current()
    assert len(index) == 1 and index.search(sample(1).embedding[None], 1)[0][0][0] == "alice"


def test_enrollment_batches_hold_a_few_photos_and_at_most_one_full_size_photo_of_pixels(tmp_path):
    from PIL import Image

    from facerec.identity.enrollment.pipeline import ENROLL_BATCH_PIXELS, ENROLL_DETECT_BATCH
    from facerec.identity.enrollment.pipeline import batches as _batches

    def png(width: int, height: int) -> bytes:
        path = tmp_path / f"{width}x{height}.png"
        Image.new("RGB", (width, height)).save(path)
        return path.read_bytes()

    small = [(f"s{i}", png(64, 48)) for i in range(20)]
    assert [len(b) for b in _batches(small)] == [ENROLL_DETECT_BATCH, ENROLL_DETECT_BATCH, 4]
    large = [(f"l{i}", png(6000, 5000)) for i in range(3)]  # 30 MP each: two fill a batch
    batches = list(_batches([*large, ("junk", b"not an image"), *small[:2]]))
    assert [[label for label, _ in b] for b in batches] == [["l0", "l1"], ["l2", "junk", "s0", "s1"]]
    assert 2 * 30_000_000 <= ENROLL_BATCH_PIXELS < 3 * 30_000_000


def test_python_enroll_takes_a_folder_a_file_a_list_or_uploads_and_nothing_else(tmp_path, data):
    """A folder given as a string was iterated by character: 65 'no such file' skips, nobody enrolled."""
    from facerec import FaceRecognizer

    train = data / "face_recognition/examples/knn_examples/train"
    recognizer = FaceRecognizer(db=str(tmp_path / "people.db"))  # a plain path is a SQLite file
    folder = recognizer.enroll("obama", str(train / "obama"))
    assert sorted(p.rsplit("/", 1)[1] for p in folder.added) == ["obama.jpg", "obama2.jpg"] and not folder.skipped
    biden = sorted((train / "biden").iterdir())
    assert len(recognizer.enroll("biden", biden[0]).added) == 1  # one file, as a Path
    assert len(recognizer.enroll("biden", [str(biden[1])]).added) == 1  # a list
    kit = sorted((train / "kit_harington").iterdir())
    upload = recognizer.enroll("kit", [("kit.jpg", kit[0].read_bytes()), ("notes.txt", b"not a photo")])
    assert upload.added == ["kit.jpg"] and [s.file for s in upload.skipped] == ["notes.txt"]
    before = [(p.name, p.samples) for p in People(recognizer.store).all()]
    assert before == [("biden", 2), ("kit", 1), ("obama", 2)]
    for wrong in (42, kit[1].read_bytes(), [str(kit[1]), 3], {"kit": str(kit[1])}, ("kit.jpg", "not bytes", 1)):
        with pytest.raises(TypeError, match="images? must be"):
            recognizer.enroll("kit", wrong)
    assert [(p.name, p.samples) for p in People(recognizer.store).all()] == before
    assert (tmp_path / "people.db").is_file()
