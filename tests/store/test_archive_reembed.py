"""Export/import of the whole store, and re-embedding stored crops with another model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import enroll_people, run

from facerec.embedding import space
from facerec.runtime import weights
from facerec.store import Store
from facerec.store.centroids import Centroids
from facerec.store.people import People
from facerec.store.samples import Samples
from facerec.store.settings import Settings
from facerec.store.unknowns import UnknownSightings


def test_export_then_import_into_another_store(store_url, tmp_path, data):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    enroll_people(source, data)
    archive = tmp_path / "out" / "gallery.zip"
    result = run("--db", source, "export", archive)
    assert result.exit_code == 0 and "exported 2 people, 4 samples" in result.stdout
    assert [p.name for p in archive.parent.iterdir()] == ["gallery.zip"]  # no temporary file left

    result = run("--db", store_url, "import", archive)
    assert result.exit_code == 0 and "imported 4 samples of 2 people" in result.stdout
    again = run("--db", store_url, "import", archive)
    assert "imported 0 samples" in again.stdout  # the same photos are not added twice
    before, after = Store(source), Store(store_url)
    assert [(p.name, p.samples) for p in People(after).all()] == [(p.name, p.samples) for p in People(before).all()]

    def contents(store: Store):
        _, names, vectors = Samples(store).embeddings("casia-webface")
        return sorted((name, vector.tobytes()) for name, vector in zip(names, vectors, strict=True))

    assert contents(after) == contents(before)
    assert sorted(c for _, c in Samples(after).crops()) == sorted(c for _, c in Samples(before).crops())
    probe = data / "face_recognition/examples/knn_examples/test/obama_and_biden.jpg"
    names = {f["name"] for f in json.loads(run("--db", store_url, "identify", "--json", probe).stdout)[0]["faces"]}
    assert {"obama", "biden"} <= names


def test_import_of_a_broken_archive_changes_nothing(tmp_path, data):
    url = f"sqlite:///{tmp_path / 's.db'}"
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"PK\x03\x04 not really")
    result = run("--db", url, "import", bogus)
    assert result.exit_code == 1 and "not a facerec export archive" in result.stderr
    assert People(Store(url)).all() == []


def test_reembed_moves_the_store_to_another_model(tmp_path, data, monkeypatch):
    # A second model that shares the shipped file: enough to check the mechanics end to end.
    manifest = json.loads(json.dumps(weights.load_manifest()))
    manifest["models"]["casia-copy"] = manifest["models"]["casia-webface"]
    monkeypatch.setattr(weights, "load_manifest", lambda: manifest)
    url = f"sqlite:///{tmp_path / 's.db'}"
    photos = data / "face_recognition/examples/knn_examples/train"
    assert run("--db", url, "enroll", "obama", photos / "obama").exit_code == 0
    probe = data / "face_recognition/examples/obama.jpg"
    refused = run("--db", url, "--model", "casia-copy", "identify", probe)
    assert refused.exit_code == 1 and "holds embeddings of model casia-webface" in refused.stderr
    nothing = run("--db", url, "reembed")  # the model in use: the store holds its vectors already
    assert nothing.exit_code == 0 and "nothing to do" in nothing.stdout
    result = run("--db", url, "reembed", "--model", "casia-copy")
    assert result.exit_code == 0 and "re-embedded 2 samples with casia-copy" in result.stdout
    assert Centroids(Store(url)).models() == {"casia-copy"}
    found = json.loads(run("--db", url, "--model", "casia-copy", "identify", "--json", probe).stdout)
    assert found[0]["faces"][0]["name"] == "obama"
    assert run("--db", url, "identify", probe).exit_code == 1  # now the default model is the odd one out


def test_a_store_made_before_centring_is_refused_then_recentred_and_names_the_same_people(tmp_path, data, monkeypatch):
    from datetime import UTC, datetime

    from alembic import command

    from facerec.store import migrations

    url = f"sqlite:///{tmp_path / 'old.db'}"
    probe = data / "face_recognition/examples/knn_examples/test/obama_and_biden.jpg"
    with monkeypatch.context() as old:  # facerec before centring: the network's own vectors, schema 0003
        old.setattr(weights, "load_centre", lambda spec: None)
        enroll_people(url, data)
        before = {f["name"] for f in json.loads(run("--db", url, "identify", "--json", probe).stdout)[0]["faces"]}
        store = Store(url)
        raw = Samples(store).embeddings("casia-webface")[2]
        crops = sorted(c for _, c in Samples(store).crops())
        UnknownSightings(store).add(
            "door", datetime.now(UTC), datetime.now(UTC), 0.2, "casia-webface", None, raw[0], {}, b"png", 3
        )
        Settings(store).put("threshold:casia-webface", {"threshold": 0.45, "far": 0.05})
        with store.engine.begin() as connection:
            command.downgrade(migrations._config(connection), "0003")
        store.close()
    assert {"obama", "biden"} <= before

    refused = run("--db", url, "identify", probe)  # opened by today's facerec: migrated, then refused
    assert refused.exit_code == 1
    assert "not centred" in refused.stderr and "run `facerec reembed` to re-centre them" in refused.stderr
    result = run("--db", url, "reembed")
    assert result.exit_code == 0, result.stderr
    assert "re-embedded 4 samples with casia-webface (4 re-centred, 0 embedded again" in result.stdout
    assert "1 unknown sightings" in result.stdout and "run `facerec calibrate`" in result.stderr

    store = Store(url)
    centre = weights.load_centre(weights.model_spec("casia-webface"))
    assert Centroids(store).kinds() == {("casia-webface", space.centre_id(centre))}
    assert np.allclose(Samples(store).embeddings("casia-webface")[2], space.centred(raw, centre), atol=1e-5)
    assert sorted(c for _, c in Samples(store).crops()) == crops  # nothing lost
    assert [(p.name, p.samples) for p in People(store).all()] == [("biden", 2), ("obama", 2)]
    assert Settings(store).get("threshold:casia-webface") is None  # made for the old vectors
    sighting = UnknownSightings(store).all()[0]
    assert sighting.centre == space.centre_id(centre)
    after = {f["name"] for f in json.loads(run("--db", url, "identify", "--json", probe).stdout)[0]["faces"]}
    assert after == before
    assert "nothing to do" in run("--db", url, "reembed").stdout


def test_export_files_give_boxes_as_x_y_width_height_and_old_ones_still_import(tmp_path, data):
    """One box convention in every output (CHANGELOG 0.2.0): the export file writes [x, y, width,
    height] (format 2); a format 1 file of facerec 0.1 (corners) imports to the same boxes."""
    import zipfile

    from facerec.store.archive import DOCUMENT, Archive

    source = f"sqlite:///{tmp_path / 'source.db'}"
    enroll_people(source, data, names=("obama",))
    archive = tmp_path / "gallery.zip"
    assert run("--db", source, "export", archive).exit_code == 0
    with zipfile.ZipFile(archive) as opened:
        document = json.loads(opened.read(DOCUMENT))
        members = {name: opened.read(name) for name in opened.namelist()}
    stored = [s["box"] for s in Archive(Store(source)).dump()[0]["samples"]]  # corners, inside
    written = [s["box"] for s in document["people"][0]["samples"]]
    assert document["format"] == 2 and len(written) == len(stored) == 2
    for (x1, y1, x2, y2), (x, y, width, height) in zip(stored, written, strict=True):
        assert (x, y, width, height) == pytest.approx((x1, y1, x2 - x1, y2 - y1)) and width > 0 and height > 0

    document["format"] = 1  # as facerec 0.1 wrote it: corners
    for sample, corners in zip(document["people"][0]["samples"], stored, strict=True):
        sample["box"] = corners
    old = tmp_path / "old.zip"
    with zipfile.ZipFile(old, "w") as opened:
        for name, content in members.items():
            opened.writestr(name, json.dumps(document) if name == DOCUMENT else content)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert run("--db", target, "import", old).exit_code == 0
    imported = [s["box"] for s in Archive(Store(target)).dump()[0]["samples"]]
    assert np.allclose(imported, stored)
