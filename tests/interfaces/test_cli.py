"""The facerec command, in process: output formats, shared options, per-file errors, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_run import run
from PIL import Image


@pytest.fixture(scope="module")
def two_people(data):
    return str(data / "face_recognition/examples/two_people.jpg")


def test_detect_text_lists_one_line_per_face(two_people):
    result = run("detect", two_people)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{two_people}\tbox ") and "\tconfidence 1.0000" in line for line in lines)


def test_detect_json_is_the_only_thing_on_stdout(two_people, data):
    result = run("detect", "--json", two_people, data / "faceapi_bbt/test_images/white.png")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert [entry["file"] for entry in doc] == [two_people, str(data / "faceapi_bbt/test_images/white.png")]
    assert len(doc[0]["faces"]) == 2 and doc[1]["faces"] == []
    face = doc[0]["faces"][0]
    assert set(face) == {"box", "confidence", "keypoints"}
    assert len(face["box"]) == 4 and all(isinstance(v, float) for v in face["box"])
    assert set(face["keypoints"]) == {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}


def test_text_and_json_give_the_same_box(two_people):
    """One box convention in every output: x, y, width, height (the text rounds to one decimal)."""
    text = [line.split("\t")[1].removeprefix("box ") for line in run("detect", two_people).stdout.splitlines()]
    boxes = [face["box"] for face in json.loads(run("detect", "--json", two_people).stdout)[0]["faces"]]
    assert text == [",".join(f"{v:.1f}" for v in box) for box in boxes]
    assert max(x for x, *_ in boxes) > 700  # a face at the right, whose corner x2 would be over 900:
    assert all(width < 250 and height < 250 for _x, _y, width, height in boxes)  # sizes, not corners


def test_a_failing_file_is_reported_and_the_others_go_on(two_people, data, tmp_path):
    missing = tmp_path / "missing.jpg"
    result = run("detect", "--json", missing, data / "bad_inputs/truncated.jpg", two_people)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc[0] == {"file": str(missing), "error": f"{missing}: no such file"}
    assert "truncated" in doc[1]["error"]
    assert len(doc[2]["faces"]) == 2
    assert f"error: {missing}: no such file" in result.stderr
    assert "truncated" in result.stderr


def test_shared_options_before_and_after_the_command(two_people):
    before = run("--threads", "1", "detect", "--json", two_people)
    assert before.exit_code == 0 and torch.get_num_threads() == 1
    after = run("--threads", "1", "detect", "--threads", "2", "--device", "cpu", "--json", two_people)
    assert after.exit_code == 0 and torch.get_num_threads() == 2  # the later one wins
    boxes = [[f["box"] for f in json.loads(r.stdout)[0]["faces"]] for r in (before, after)]
    assert boxes[0] == [pytest.approx(b, abs=1e-3) for b in boxes[1]]  # thread count only changes rounding


def test_cuda_is_used_when_present_and_a_clear_error_when_not(two_people):
    result = run("--device", "cuda", "detect", "--json", two_people)
    if torch.cuda.is_available():
        assert result.exit_code == 0 and len(json.loads(result.stdout)[0]["faces"]) == 2
    else:
        assert result.exit_code == 1
        assert "no CUDA GPU is available" in result.stderr


def test_bad_option_values_are_usage_errors(two_people):
    assert run("detect", "--threads", "0", two_people).exit_code == 2
    assert run("detect").exit_code == 2
    result = run("--device", "tpu", "detect", two_people)
    assert result.exit_code == 1 and "unknown device" in result.stderr


def test_annotate_writes_copies_with_drawings(two_people, tmp_path, data):
    second = data / "facenet_pytorch/test_images/kate_siegel/1.jpg"
    result = run("detect", "--annotate", tmp_path / "out", two_people, second)
    assert result.exit_code == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["1.jpg", "two_people.jpg"]
    original = np.asarray(Image.open(two_people).convert("RGB"), dtype=np.int16)
    annotated = np.asarray(Image.open(tmp_path / "out" / "two_people.jpg").convert("RGB"), dtype=np.int16)
    assert annotated.shape == original.shape
    # The box outlines are pure green: many pixels turn strongly green only in the annotated copy.
    greener = (annotated[:, :, 1] - original[:, :, 1] > 80) & (annotated[:, :, 0] < 60)
    assert greener.sum() > 500


def test_version_and_help():
    import facerec
    from facerec.detection.mtcnn import native

    kernel = native.kernel()
    assert run("--version").stdout.splitlines() == [
        f"facerec {facerec.__version__}",
        f"detection kernel: {kernel.INSTRUCTION_SET}"
        if kernel
        else "detection kernel: not built (P-Net, NMS and crops run on ONNX Runtime and numpy)",
    ]
    help_text = run("--help").stdout
    assert "detect" in help_text and "--threads" in help_text and "--device" in help_text


def test_commands_take_folders_and_a_plain_path_for_the_store(data, tmp_path, monkeypatch):
    """What a newcomer types first: --db people.db, identify a folder, list an empty store."""
    monkeypatch.chdir(tmp_path)
    train = data / "face_recognition/examples/knn_examples/train"
    empty = run("--db", "people.db", "list")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "nobody is enrolled yet" in empty.stderr
    one = run("--db", "people.db", "enroll", "biden", train / "biden" / "biden.jpg")
    assert one.exit_code == 0 and one.stdout.strip() == "biden: added 1, skipped 0, 1 sample held"
    assert (tmp_path / "people.db").is_file()
    assert run("list", "--db", str(tmp_path / "people.db")).stdout.startswith("biden\t1 sample\t")
    folder = train / "obama"
    photos = sorted(str(p) for p in folder.iterdir())
    for command in ("detect", "embed", "liveness"):
        result = run(command, folder)
        assert result.exit_code == 0, (command, result.stderr)
        assert sorted({line.split("\t")[0] for line in result.stdout.splitlines()}) == photos, command
    identified = run("--db", "people.db", "identify", folder)
    assert identified.exit_code == 0, identified.stderr
    assert sorted(line.split("\t")[0] for line in identified.stdout.splitlines()) == photos
    # verify: a reference photo against each photo of a folder; a folder as the reference is refused
    against = run("verify", train / "obama" / "obama.jpg", train / "biden", "--json")
    assert against.exit_code == 0, against.stderr
    answers = json.loads(against.stdout)
    assert [a["files"][1] for a in answers] == sorted(str(p) for p in (train / "biden").iterdir())
    assert all(not a["same"] for a in answers)
    same = run("verify", train / "obama" / "obama.jpg", folder)
    assert same.exit_code == 0 and same.stdout.count("same person") == len(photos)
    refused = run("verify", folder, train / "obama" / "obama.jpg")
    assert refused.exit_code == 1 and "the first argument is the reference" in refused.stderr
    nothing = run("detect", tmp_path / "no-photos-here")
    assert nothing.exit_code != 0 and "no-photos-here" in nothing.stderr
    (tmp_path / "empty").mkdir()
    assert "no files found" in run("detect", tmp_path / "empty").stderr
