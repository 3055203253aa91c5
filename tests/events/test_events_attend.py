"""`facerec attend` delivers its own check-ins: a real camera's frames (a folder), a real webhook."""

from __future__ import annotations

import json

import camera
from cli_run import enroll_people, run
from PIL import Image
from receiver import Receiver, verify_all


def test_attend_delivers_its_checkins_to_a_webhook(data, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    enroll_people(url, data, ["obama"])
    receiver = Receiver()
    assert run("--db", url, "webhook", "allow-host", "127.0.0.1").exit_code == 0
    added = run("--db", url, "webhook", "add", receiver.url, "--event", "checkin", "--json")
    secret = json.loads(added.stdout)["secret"]
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(camera.frames(data)[:40:2]):  # blank, then obama
        Image.fromarray(frame).save(folder / f"frame{i:04d}.jpg")
    result = run("--db", url, "attend", folder, "--json", "--start-time", "2026-11-24T08:00:00+00:00")
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["name"] for e in printed] == ["obama"]
    receiver.wait(lambda: receiver.accepted(), timeout=10)
    [delivered] = receiver.accepted()
    assert delivered.event["type"] == "checkin" and delivered.event["data"]["name"] == "obama"
    assert delivered.event["data"]["event_id"] == printed[0]["event_id"]
    verify_all(receiver.requests, secret)
    quiet = run("--db", url, "attend", folder, "--no-deliver", "--start-time", "2026-11-25T08:00:00+00:00")
    assert quiet.exit_code == 0
    assert len(receiver.requests) == 1  # --no-deliver: the next day's check-in waits in the outbox
    assert json.loads(run("--db", url, "webhook", "list", "--json").stdout)[0]["pending"] == 1
