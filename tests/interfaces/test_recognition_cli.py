"""verify, embed and eval lfw through the command, with the shipped weights on real photos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import run


@pytest.fixture(scope="module")
def openface(data):
    return data / "openface/examples"


@pytest.mark.parametrize(
    "a,b,same",
    [
        ("clapton-1.jpg", "clapton-2.jpg", True),
        ("lennon-1.jpg", "lennon-2.jpg", True),
        ("clapton-1.jpg", "lennon-1.jpg", False),
        ("clapton-2.jpg", "lennon-2.jpg", False),
        ("clapton-1.jpg", "lennon-2.jpg", False),
        ("lennon-1.jpg", "clapton-2.jpg", False),
    ],
)
def test_verify_openface_pairs(openface, a, b, same):
    result = run("verify", "--json", openface / a, openface / b)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["same"] is same
    assert doc["model"] == "casia-webface"
    assert (doc["similarity"] >= doc["threshold"]) is same
    assert doc["files"] == [str(openface / a), str(openface / b)]


def test_verify_text_output(openface):
    result = run("verify", openface / "clapton-1.jpg", openface / "clapton-2.jpg")
    assert result.exit_code == 0
    assert result.stdout.startswith("same person: similarity 0.")
    assert "model casia-webface" in result.stdout


def test_verify_needs_one_face_each(openface, data):
    none = run("verify", data / "faceapi_bbt/test_images/white.png", openface / "clapton-1.jpg")
    assert none.exit_code == 1 and "white.png: no face found" in none.stderr
    several = run("verify", openface / "longoria-cooper.jpg", openface / "clapton-1.jpg")
    assert several.exit_code == 1 and "2 faces found; use --largest" in several.stderr
    largest = run("verify", "--largest", "--json", openface / "longoria-cooper.jpg", openface / "clapton-1.jpg")
    assert largest.exit_code == 0 and json.loads(largest.stdout)["same"] is False


def test_unknown_model_is_a_clear_error_before_or_after_the_command(openface):
    for args in (["--model", "nope", "verify"], ["verify", "--model", "nope"]):
        result = run(*args, openface / "clapton-1.jpg", openface / "clapton-2.jpg")
        assert result.exit_code == 1 and "unknown model 'nope'" in result.stderr


def test_embed_json_and_npy(openface, tmp_path, data):
    npy = tmp_path / "vectors.npy"
    result = run(
        "embed", "--json", "--npy", npy, openface / "longoria-cooper.jpg", data / "faceapi_bbt/test_images/white.png"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc[0]["faces"]) == 2 and doc[1]["faces"] == []
    face = doc[0]["faces"][0]
    assert len(face["box"]) == 4 and len(face["embedding"]) == 512
    assert np.linalg.norm(face["embedding"]) == pytest.approx(1.0, abs=1e-5)
    saved = np.load(npy)
    assert saved.shape == (2, 512)
    assert np.allclose(saved[0], face["embedding"], atol=1e-6)


def test_embed_options_change_the_vectors(openface):
    image = openface / "clapton-1.jpg"
    plain = json.loads(run("embed", "--json", "--margin", "0", "--no-flip", image).stdout)[0]["faces"][0]["embedding"]
    aligned = json.loads(run("embed", "--json", "--align", "similarity", image).stdout)[0]["faces"][0]["embedding"]
    default = json.loads(run("embed", "--json", image).stdout)[0]["faces"][0]["embedding"]
    assert 0.7 < float(np.dot(plain, default)) < 0.9999
    assert 0.7 < float(np.dot(aligned, default)) < 0.9999
    bad = run("embed", "--align", "sideways", image)
    assert bad.exit_code == 1 and "unknown alignment 'sideways'" in bad.stderr


@pytest.mark.slow
def test_eval_lfw_fold1_end_to_end(data, tmp_path, monkeypatch):
    """The shipped model with its defaults (centred, int8 on the CPU) on LFW fold 1, through the
    command: at least 0.985 (0.9917 measured, fp32 and int8; 0.9883 before centring)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    args = ["eval", "lfw", "--root", data / "lfw_fold1/lfw", "--pairs", data / "lfw_fold1/pairs.txt", "--json"]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    print("LFW fold 1:", doc)
    assert doc["pairs"] == 600 and doc["folds"] == 1
    assert doc["accuracy"] >= 0.985
    assert doc["tar_at_far_1e-3"] >= 0.95
    assert doc["missed_faces"] == 0
    assert "single fold" in result.stderr
    assert (tmp_path / "facerec/embeddings/lfw-casia-webface.npz").is_file()  # one cache per model
    assert doc["accuracy_at_model_threshold"] >= 0.985  # the manifest's threshold, chosen on lfw_train
    again = run(*args)  # from the embedding cache: the same figures
    assert json.loads(again.stdout) == doc
    # int8 (the default here) and bf16 are allowed only while they stay within 0.002 of fp32 on fold 1.
    fp32 = json.loads(run(*args, "--precision", "fp32", "--no-cache").stdout)
    bf16 = json.loads(run(*args, "--precision", "bf16", "--no-cache").stdout)
    assert abs(doc["accuracy"] - fp32["accuracy"]) <= 0.002
    assert abs(bf16["accuracy"] - fp32["accuracy"]) <= 0.002
