"""Over real HTTP: a kiosk's frames of one session give one decision per person (face tracks),
and the desk's webcam enrolment from a few seconds of frames (the same code as a clip)."""

from __future__ import annotations

import io
import json

import cv2
import httpx
import pytest
import scenes
from cli_run import new_key, run
from PIL import Image
from server_process import ServerProcess

from facerec import FaceRecognizer


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("kiosk")
    url = f"sqlite:///{folder / 'store.db'}"
    recognizer = FaceRecognizer(db=url)
    for person in ("Colin_Powell", "Hu_Jintao", "Meryl_Streep"):
        assert recognizer.enroll(person, [scenes.lfw(data, person, n) for n in range(1, 5)]).added
    recognizer.store.close()
    key = new_key(url, "kiosk")
    server = ServerProcess(url, log=folder / "server.log")
    client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120)
    yield client, url
    client.close()
    server.stop()


def jpeg(frame) -> bytes:
    out = io.BytesIO()
    Image.fromarray(frame).save(out, format="JPEG", quality=92)
    return out.getvalue()


def standing(data, person: str, length: int) -> list:
    """A person standing in front of a kiosk (moving a little), a frame a second."""
    actor = scenes.Actor(
        person,
        scenes.face_patch(scenes.lfw(data, person, 6)),
        scenes.line((300, 240, 180), (330, 250, 190), 0, 9),
        range(length),
    )
    return scenes.Scene([scenes.background(data)], [actor], length).frames()


def test_a_kiosk_session_checks_a_person_in_once_and_frames_alone_decide_each(kiosk, data):
    client, url = kiosk
    frames = standing(data, "Colin_Powell", 6)
    times = [f"2026-12-01T08:00:0{i}+00:00" for i in range(len(frames))]
    answers = []
    for frame, moment in zip(frames, times, strict=True):
        form = {"source": "front door", "session": "kiosk-one", "time": moment}
        response = client.post("/v1/checkin", files={"image": ("f.jpg", jpeg(frame))}, data=form)
        assert response.status_code == 200, response.text
        answers.append(response.json()["events"])
    events = [e for answer in answers for e in answer]
    assert [(e["event"], e["name"]) for e in events] == [("check_in", "Colin_Powell")]
    assert answers[0] == [] and events[0]["frames"] == 2  # decided on two faces of his track
    # Without a session every request is decided alone: each frame is a sighting of its own.
    alone = [
        client.post(
            "/v1/checkin", files={"image": ("f.jpg", jpeg(frame))}, data={"source": "side door", "time": times[i]}
        ).json()["events"]
        for i, frame in enumerate(frames[:3])
    ]
    assert [[e["event"] for e in a] for a in alone] == [["check_in"], ["update"], ["update"]]
    bad = client.post("/v1/checkin", files={"image": ("f.jpg", jpeg(frames[0]))}, data={"source": "x", "session": ""})
    assert bad.status_code == 422 and "session" in bad.json()["detail"]


def test_webcam_enrollment_from_a_few_seconds_of_frames(kiosk, data):
    client, url = kiosk
    actor = scenes.Actor(
        "Keanu_Reeves", scenes.face_patch(scenes.lfw(data, "Keanu_Reeves", 6)),
        scenes.line((300, 240, 170), (320, 245, 180), 0, 15), range(15),
    )  # fmt: skip
    photos = [scenes.face_patch(scenes.lfw(data, "Keanu_Reeves", n)) for n in (6, 7, 8)]
    actor.blend = lambda i: (photos[min(i // 5, 2)], 1.0)
    frames = scenes.Scene([scenes.background(data)], [actor], 15).frames()
    files = [("frames", (f"frame-{i}.jpg", jpeg(frame))) for i, frame in enumerate(frames)]
    response = client.post("/v1/persons/keanu/clip", params={"fps": 5, "faces": 3}, files=files)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["samples"] == 3 and all(name.startswith("clip#frame") for name in report["added"])
    people = {p["name"]: p["samples"] for p in json.loads(run("--db", url, "list", "--json").stdout)}
    assert people["keanu"] == 3
    # Two people in view: refused, nothing enrolled.
    two = scenes.Scene(
        [scenes.background(data)],
        [
            scenes.Actor("a", photos[0], scenes.line((180, 240, 160), (180, 240, 160), 0, 9), range(10)),
            scenes.Actor(
                "b", scenes.face_patch(scenes.lfw(data, "Meryl_Streep", 6)),
                scenes.line((470, 240, 160), (470, 240, 160), 0, 9), range(10),
            ),
        ],
        10,
    ).frames()  # fmt: skip
    files = [("frames", (f"frame-{i}.jpg", jpeg(frame))) for i, frame in enumerate(two)]
    refused = client.post("/v1/persons/pair/clip", params={"fps": 5}, files=files)
    assert refused.status_code == 422 and "2 different people are in view" in refused.json()["detail"]
    assert "pair" not in {p["name"] for p in json.loads(run("--db", url, "list", "--json").stdout)}


def test_clip_frames_that_are_not_images_are_refused(kiosk):
    client, _url = kiosk
    response = client.post("/v1/persons/x/clip", files=[("frames", ("a.jpg", b"not a picture"))])
    assert response.status_code in (415, 422)
    assert cv2 is not None
