"""Live sources as doors have them: a stream that stalls, drops and comes back; a recogniser
slower than the camera; several sources in one `facerec attend`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import camera
import pytest
from cli_run import TRAIN
from typer.testing import CliRunner

from facerec.interfaces import cli

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)

runner = CliRunner()
CLI = Path(__file__).resolve().parents[2] / "cli.py"


@pytest.fixture(scope="module")
def store(tmp_path_factory, data):
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'store.db'}"
    for name in ("obama", "kit_harington"):
        assert runner.invoke(cli.app, ["--db", url, "enroll", name, str(data / TRAIN / name)]).exit_code == 0
    return url


def _attend_until(store: str, *args: str, until, timeout: float = 90) -> tuple[list[dict], str]:
    """`facerec attend ... --json` in its own process until ``until(events)`` holds; then a
    SIGINT, as Ctrl-C. The events it reported and its stderr."""
    process = subprocess.Popen(
        [sys.executable, str(CLI), "--db", store, "attend", *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(events):
            line = process.stdout.readline()
            if not line:
                break
            events.append(json.loads(line))
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    events += [json.loads(line) for line in out.splitlines()]
    return events, err


def test_a_stream_that_stalls_drops_and_returns_is_reopened_and_attend_goes_on(store, data):
    obama = data / "face_recognition/examples/obama-480p.jpg"
    plans = [
        ([(None, 1.0)], ("stall", 12.0)),  # connected, then silent past the 5 s stall limit
        ([(None, 1.0)], "drop"),  # the camera reboots
        ([(None, 0.5), (obama, 4.0)], "drop"),  # back, with someone at the door
        ([(None, 5.0)], "drop"),
    ]
    with camera.FlakyMjpegServer(plans) as server:
        events, err = _attend_until(
            store, server.url, "--fps", "5", until=lambda found: any(e["name"] == "obama" for e in found)
        )
    assert [e["name"] for e in events if e["event"] == "check_in"] == ["obama"], (events, err)
    assert err.count("dropped or stalled; reopening") >= 2 and err.count("reopened") >= 2, err
    assert server.connections >= 3
    summary = [line for line in err.splitlines() if "frames read" in line]
    assert summary and "reconnects" in summary[0] and not summary[0].endswith(" 0 reconnects"), err


def test_a_recogniser_slower_than_the_camera_works_on_the_newest_frame(store, data):
    """A 60 fps camera, more than the recogniser can take: it skips frames instead of falling
    behind, so obama is checked in soon after he appears, not after a backlog of blank frames."""
    obama = data / "face_recognition/examples/obama-480p.jpg"
    plans = [([(None, 6.0), (obama, 6.0)], "drop"), ([(None, 30.0)], "drop")]
    with camera.FlakyMjpegServer(plans, fps=60) as server:
        events, err = _attend_until(
            store, server.url, "--fps", "60", until=lambda found: any(e["name"] == "obama" for e in found)
        )
        appeared = server.started[0] + 6.0
    checked = [e for e in events if e["event"] == "check_in"]
    assert [e["name"] for e in checked] == ["obama"], (events, err)
    latency = datetime.fromisoformat(checked[0]["time"]).timestamp() - appeared
    assert 0 < latency < 3.0, latency  # 3 sightings to confirm, at the recogniser's own pace
    summary = next(line for line in err.splitlines() if "frames read" in line)
    read, processed, skipped = (int(summary.split()[i]) for i in (1, 4, 6))
    assert skipped > 0 and skipped == read - processed and processed > 10, summary


def test_one_attend_watches_several_sources_each_under_its_own_name(store, data, tmp_path):
    video = camera.write_video(data, tmp_path / "camera.avi")
    result = runner.invoke(
        cli.app,
        [
            "--db", store, "attend", str(video), str(video), "--json", "--start-time", "2026-11-24T08:00:00+00:00",
            "--source-name", "front door", "--source-name", "back door",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for door in ("front door", "back door"):
        mine = [(e["event"], e["name"]) for e in events if e["source"] == door]
        assert mine == [("check_in", "obama"), ("check_in", "kit_harington"), ("update", "obama")], events
    mismatched = runner.invoke(cli.app, ["--db", store, "attend", str(video), str(video), "--source-name", "one"])
    assert mismatched.exit_code == 1 and "once per SOURCE" in mismatched.stderr
