"""Liveness: MiniFASNet against the vendor's own outputs, its verdicts through the command, the API
and attendance, and its false rejections on the live photos of ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import camera
import httpx
import numpy as np
import pytest
import torch
from cli_run import new_key, run, sqlite_copy

from facerec import FaceRecognizer
from facerec.errors import WeightsError
from facerec.images import load_image
from facerec.liveness import LivenessChecker, crops, nets
from facerec.runtime import weights

START = "2026-12-01T09:00:00+00:00"


@pytest.fixture(scope="module")
def reference(reference):
    return json.loads((reference / "antispoof.json").read_text())["images"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_crops_and_probabilities_match_the_vendors_code_on_all_23_images(backend, reference, data):
    checker = LivenessChecker(backend=backend)
    spec = weights.model_spec("minifasnet")
    files = {Path(f.path).name: role for role, f in spec.files.items()}
    networks = dict(zip(spec.preprocessing["networks"], checker.networks, strict=True))
    worst = 0.0
    assert len(reference) == 23
    for item in reference:
        image = load_image(data.parent / item["file"])
        box = tuple(item["bbox_xywh"])
        for filename, expected in item["models"].items():
            scale, network = networks[files[filename]]
            assert list(crops.crop_box(image.shape[1], image.shape[0], box, scale)) == expected["crop_box"], item
            logits = network(crops.network_input(image, box, scale)[None])[0][0].astype(np.float64)
            softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            worst = max(worst, float(np.abs(softmax - expected["softmax"]).max()))
        face_box = (box[0], box[1], box[0] + box[2] - 1, box[1] + box[3] - 1)  # the reference's box as ours
        probabilities = checker.probabilities(image, [_face(face_box)])[0]
        verdict = checker.verdict(probabilities)
        assert verdict.live == (item["label"] == 1) and verdict.score == pytest.approx(item["real_score"], abs=1e-4)
    print(f"{backend}: crop boxes equal on 23 images, largest softmax difference {worst:.2e}")
    assert worst <= 1e-4


def _face(box):
    from facerec.types import Face

    return Face(box=tuple(float(v) for v in box), confidence=1.0, landmarks=((0.0, 0.0),) * 5)


def test_the_checkpoint_filter_takes_off_dataparallels_prefix_and_nothing_else():
    path = weights.locate(weights.model_spec("minifasnet").files["v2"])
    raw = weights.load_state_dict(path)
    assert all(key.startswith("module.") for key in raw)
    filtered = nets.checkpoint_filter(raw)
    assert set(filtered) == {key.removeprefix("module.") for key in raw}
    assert set(filtered) == set(nets.MiniFASNet("MiniFASNetV2").state_dict())
    with pytest.raises(RuntimeError, match="Missing key"):  # the wrong architecture does not load quietly
        nets.MiniFASNet("MiniFASNetV1SE").load_state_dict(filtered)


def test_a_file_that_is_not_a_minifasnet_checkpoint_is_refused(tmp_path):
    bogus = tmp_path / "bogus.pth"
    torch.save({"module.conv1.conv.weight": torch.zeros(1)}, bogus)
    nets.load.cache_clear()
    try:
        with pytest.raises(WeightsError, match="not a MiniFASNetV2 checkpoint"):
            nets.load("MiniFASNetV2", str(bogus))
    finally:
        nets.load.cache_clear()


def test_the_vendors_attacks_are_not_live_and_the_real_face_is_through_the_command(data):
    samples = data / "antispoof"
    result = run("liveness", "--json", samples / "image_F1.jpg", samples / "image_F2.jpg", samples / "image_T1.jpg")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    verdicts = {Path(entry["file"]).name: entry["faces"] for entry in doc}
    assert [f["live"] for f in verdicts["image_F1.jpg"]] == [False]  # a printed photo
    assert [f["live"] for f in verdicts["image_F2.jpg"]] == [False]  # a photo on a tablet
    assert [f["live"] for f in verdicts["image_T1.jpg"]] == [True]
    face = verdicts["image_T1.jpg"][0]
    assert set(face) == {"box", "confidence", "live", "score"} and face["score"] > 0.99 and len(face["box"]) == 4
    text = run("liveness", samples / "image_F2.jpg", data / "bad_inputs/truncated.jpg")
    assert text.exit_code == 1 and "\tnot live\tscore " in text.stdout and "truncated" in text.stderr
    strict = json.loads(run("liveness", "--json", "--liveness-threshold", "0.99999", samples / "image_T1.jpg").stdout)
    assert strict[0]["faces"][0]["live"] is False  # a threshold replaces the vendor's rule
    assert run("liveness", "--liveness-threshold", "1.5", samples / "image_T1.jpg").exit_code == 2


def test_enroll_with_liveness_refuses_a_print(tmp_path, data):
    url = f"sqlite:///{tmp_path / 's.db'}"
    result = run("--db", url, "enroll", "--json", "--liveness", "ying", data / "antispoof/image_F1.jpg")
    assert result.exit_code == 1 and "not a live face" in json.loads(result.stdout)["skipped"][0]["reason"]
    assert run("--db", url, "enroll", "ying", data / "antispoof/image_F1.jpg").exit_code == 0  # off by default


# --- attendance: a live person, then a print of an enrolled person, then a tablet ------------------


@pytest.fixture(scope="module")
def door(tmp_path_factory, data):
    """A store with the real person of image_T1 enrolled (she is also the one on the tablet of
    image_F2), and the person in the printed photo of image_F1 (enrolment does not check
    liveness by default: staff photos are often prints). The print's face is like mei's (0.67 to
    her centroid): enrolling it under another name takes an admin's --allow-duplicate, as for twins,
    which gives the test two names to tell which one a print claims."""
    folder = tmp_path_factory.mktemp("liveness")
    url = f"sqlite:///{folder / 'door.db'}"
    for name, photo, *extra in (("mei", "image_T1.jpg"), ("ying", "image_F1.jpg", "--allow-duplicate")):
        assert run("--db", url, "enroll", name, data / "antispoof" / photo, *extra).exit_code == 0
    video = camera.write_video(data, folder / "door.avi", camera.spoof_script, camera.PHONE)
    return url, video


def test_with_liveness_only_the_live_appearance_checks_in_and_the_attacks_are_spoof_events(door, tmp_path):
    url, video = door
    store = f"sqlite:///{tmp_path / 'copy.db'}"
    _copy(url, store)
    result = run("--db", store, "attend", video, "--json", "--liveness", "--start-time", START)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["name"]) for e in events] == [("check_in", "mei"), ("spoof", "ying"), ("spoof", "mei")]
    report = json.loads(run("--db", store, "report", "--date", "2026-12-01", "--tz", "UTC", "--format", "json").stdout)
    assert [r["name"] for r in report["present"]] == ["mei"] and report["absent"] == ["ying"]
    spoofs = report["spoofs"]
    assert [(s["claimed"], s["source"]) for s in spoofs] == [("ying", str(video)), ("mei", str(video))]
    assert all(s["sightings"] >= 3 and s["liveness_score"] < 0.5 for s in spoofs)
    table = run("--db", store, "report", "--date", "2026-12-01", "--tz", "UTC").stdout
    assert "spoof attempts (prints or screens held up): 2" in table and "as ying" in table
    # Removing the person the print claimed to be removes the spoof event and its snapshot (their face).
    assert run("--db", store, "remove", "--yes", "ying").exit_code == 0
    again = json.loads(run("--db", store, "report", "--date", "2026-12-01", "--tz", "UTC", "--format", "json").stdout)
    assert [s["claimed"] for s in again["spoofs"]] == ["mei"]


def test_without_liveness_the_print_checks_in_as_today(door, tmp_path):
    url, video = door
    store = f"sqlite:///{tmp_path / 'copy.db'}"
    _copy(url, store)
    result = run("--db", store, "attend", video, "--json", "--start-time", START)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    # The print checks ying in, and mei's photo on the tablet counts as mei coming back.
    assert [(e["event"], e["name"]) for e in events] == [("check_in", "mei"), ("check_in", "ying"), ("update", "mei")]
    # The store's setting makes liveness the default; --no-liveness still turns it off for a run.
    assert "check-ins need a live face" in run("--db", store, "require-liveness", "on").stdout
    later = run("--db", store, "attend", video, "--json", "--start-time", "2026-12-02T09:00:00+00:00")
    assert [json.loads(line)["event"] for line in later.stdout.splitlines()] == ["check_in", "spoof", "spoof"]
    assert run("--db", store, "require-liveness", "maybe").exit_code == 1


def _copy(source_url: str, target_url: str) -> None:
    sqlite_copy(Path(source_url.removeprefix("sqlite:///")), Path(target_url.removeprefix("sqlite:///")))


# --- false rejections -------------------------------------------------------------------------------

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def test_false_rejections_on_the_live_photos_of_shared_data(data):
    """Every photo outside LFW with exactly one face, of a real person (not the vendor's attacks,
    not lennon-1.jpg: a scan of an old print). The networks judge a face by its surroundings (2.7x
    and 4x the box), so photos are counted apart from crops of the face alone (the face's box
    covers 80% of the image or more: faceapi_bbt's examples, the aligned crops), which they call
    attacks. bad_inputs/ holds one photo in six formats: counted once."""
    recognizer = FaceRecognizer()
    rejected = {"photos": [], "crops": []}
    counted = {"photos": 0, "crops": 0}
    for path in sorted(p for p in data.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES):
        relative = str(path.relative_to(data))
        if relative.startswith(("lfw", "antispoof/image_F")) or path.name == "lennon-1.jpg":
            continue
        if relative.startswith("bad_inputs/") and path.name != "einstein.jpeg":
            continue
        try:
            found = recognizer.liveness(path)
        except Exception:  # the broken files of bad_inputs
            continue
        if len(found) != 1:
            continue
        face, verdict = found[0]
        shape = recognizer.load(path).shape
        kind = "crops" if face.area >= 0.8 * shape[0] * shape[1] else "photos"
        counted[kind] += 1
        if not verdict.live:
            rejected[kind].append(f"{relative} ({verdict.score:.2f})")
    rate = {kind: len(rejected[kind]) / counted[kind] for kind in counted}
    for kind in counted:
        print(
            f"live {kind}: {len(rejected[kind])} of {counted[kind]} called attacks ({rate[kind]:.1%}): {rejected[kind]}"
        )
    # Measured: 1 of 53 photos (bad_inputs/einstein.jpeg, a reproduction of a 1940s print), and
    # 45 of 51 crops. The bound, 2 of 53 (under 4%), leaves room for one more borderline photo on
    # another CPU; exactness of the crops and inputs is the parity test's job.
    assert counted["photos"] >= 50
    assert rate["photos"] < 0.04
    assert rate["crops"] >= 0.5  # documented: a face without its surroundings is called an attack


def test_the_http_api_checks_liveness_and_a_terminal_can_require_it(door, tmp_path, data):
    from server_process import ServerProcess

    url, _video = door
    store = f"sqlite:///{tmp_path / 'copy.db'}"
    _copy(url, store)
    key = new_key(store, "door", "read")
    samples = {name: (data / "antispoof" / f"{name}.jpg").read_bytes() for name in ("image_F1", "image_F2", "image_T1")}
    server = ServerProcess(store, "--require-liveness", log=tmp_path / "server.log")
    try:
        client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120)
        verdicts = {
            name: client.post("/v1/liveness", files={"image": image}).json()["faces"] for name, image in samples.items()
        }
        assert [[f["live"] for f in faces] for faces in verdicts.values()] == [[False], [False], [True]]
        assert set(verdicts["image_T1"][0]) == {"box", "confidence", "live", "score"}
        found = client.post("/v1/identify", files={"image": samples["image_F1"]}, params={"liveness": "true"}).json()
        assert [(f["name"], f["live"]) for f in found["faces"]] == [("ying", False)]
        plain = client.post("/v1/identify", files={"image": samples["image_F1"]}).json()["faces"][0]
        assert plain["live"] is None and plain["score"] is None  # liveness is checked when asked
        # The terminal requires liveness: even a request that says liveness=false gets it.
        form = {"source": "door", "time": "2026-12-01T09:00:00Z"}
        spoofed = client.post(
            "/v1/checkin", files={"image": samples["image_F1"]}, data=form, params={"liveness": "false"}
        )
        assert [(e["event"], e["name"]) for e in spoofed.json()["events"]] == [("spoof", "ying")]
        live = client.post("/v1/checkin", files={"image": samples["image_T1"]}, data=form).json()["events"]
        assert [(e["event"], e["name"]) for e in live] == [("check_in", "mei")]
        listed = client.get("/v1/spoofs").json()
        assert [(s["claimed"], s["source"]) for s in listed] == [("ying", "door")]
        snapshot = client.get(f"/v1/spoofs/{listed[0]['spoof_id']}/snapshot")
        assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/png"
        assert client.get("/v1/spoofs/999/snapshot").status_code == 404
        day = client.get("/v1/attendance", params={"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"})
        assert [s["claimed"] for s in day.json()["spoofs"]] == ["ying"]
        assert [r["name"] for r in day.json()["present"]] == ["mei"]
    finally:
        server.stop()
