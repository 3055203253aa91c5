"""Export/import of the whole store, and re-embedding stored crops with another model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import cli
from facerec import weights
from facerec.store import Store

runner = CliRunner()


def run(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def test_export_then_import_into_another_store(store_url, tmp_path, data):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    photos = data / "face_recognition/examples/knn_examples/train"
    for name in ("obama", "biden"):
        assert run("--db", source, "enroll", name, photos / name).exit_code == 0
    archive = tmp_path / "out" / "gallery.zip"
    result = run("--db", source, "export", archive)
    assert result.exit_code == 0 and "exported 2 people, 4 samples" in result.stdout
    assert [p.name for p in archive.parent.iterdir()] == ["gallery.zip"]  # no temporary file left

    result = run("--db", store_url, "import", archive)
    assert result.exit_code == 0 and "imported 4 samples of 2 people" in result.stdout
    again = run("--db", store_url, "import", archive)
    assert "imported 0 samples" in again.stdout  # the same photos are not added twice
    before, after = Store(source), Store(store_url)
    assert [(p.name, p.samples) for p in after.people()] == [(p.name, p.samples) for p in before.people()]

    def contents(store: Store):
        _, names, vectors = store.embeddings("casia-webface")
        return sorted((name, vector.tobytes()) for name, vector in zip(names, vectors, strict=True))

    assert contents(after) == contents(before)
    assert sorted(c for _, c in after.crops()) == sorted(c for _, c in before.crops())
    probe = data / "face_recognition/examples/knn_examples/test/obama_and_biden.jpg"
    names = {f["name"] for f in json.loads(run("--db", store_url, "identify", "--json", probe).stdout)[0]["faces"]}
    assert {"obama", "biden"} <= names


def test_import_of_a_broken_archive_changes_nothing(tmp_path, data):
    url = f"sqlite:///{tmp_path / 's.db'}"
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"PK\x03\x04 not really")
    result = run("--db", url, "import", bogus)
    assert result.exit_code == 1 and "not a facerec export archive" in result.stderr
    assert Store(url).people() == []


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
    assert run("--db", url, "reembed").exit_code == 1  # which model?
    result = run("--db", url, "reembed", "--model", "casia-copy")
    assert result.exit_code == 0 and "re-embedded 2 samples with casia-copy" in result.stdout
    assert Store(url).models() == {"casia-copy"}
    found = json.loads(run("--db", url, "--model", "casia-copy", "identify", "--json", probe).stdout)
    assert found[0]["faces"][0]["name"] == "obama"
    assert run("--db", url, "identify", probe).exit_code == 1  # now the default model is the odd one out
