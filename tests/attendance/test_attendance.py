"""Attendance end to end: a recorded camera (video file and MJPEG stream), folders, reports,
unknown sightings, purge and remove; the attendance log itself on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import camera
import numpy as np
import pytest
from cli_run import REPO, enroll_people, run, sqlite_copy

from facerec.store import Store, StoredSample
from facerec.store.attendance_log import AttendanceLog
from facerec.store.people import People
from facerec.store.samples import Samples
from facerec.store.unknowns import UnknownSightings

START = "2026-11-24T08:00:00+00:00"
T0 = datetime.fromisoformat(START)
PEOPLE = ["obama", "biden", "kit_harington", "rose_leslie"]


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, data):
    """A store with four people enrolled; tests copy it so each starts from the same state."""
    folder = tmp_path_factory.mktemp("attendance")
    url = f"sqlite:///{folder / 'store.db'}"
    enroll_people(url, data, PEOPLE)
    return folder / "store.db"


@pytest.fixture
def store(enrolled, tmp_path):
    return sqlite_copy(enrolled, tmp_path / "store.db")


@pytest.fixture(scope="module")
def video(data, tmp_path_factory):
    return camera.write_video(data, tmp_path_factory.mktemp("camera") / "camera.avi")


def attend(store, source, *extra):
    result = run("--db", store, "attend", source, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _script_span(data, who: str, occurrence: int = 0) -> tuple[float, float]:
    start, found = 0.0, []
    for name, _photo, seconds in camera.script(data):
        if name == who:
            found.append((start, start + seconds))
        start += seconds
    return found[occurrence]


def test_the_recorded_camera_checks_in_exactly_the_people_who_stayed(store, video, data):
    events = attend(store, video, "--start-time", START)
    assert [(e["event"], e["name"]) for e in events] == [
        ("check_in", "obama"),
        ("check_in", "kit_harington"),
        ("update", "obama"),  # back after a gap, within the dedupe window: the same event
    ]
    assert events[0]["event_id"] == events[2]["event_id"] != events[1]["event_id"]
    for event, (who, occurrence) in zip(events, [("obama", 0), ("kit_harington", 0), ("obama", 1)], strict=True):
        lo, hi = _script_span(data, who, occurrence)
        moment = (datetime.fromisoformat(event["time"]) - T0).total_seconds()
        assert lo <= moment <= hi, (event, lo, hi)  # time = start + the frame's position
        assert event["source"] == str(video) and event["similarity"] > 0.6 and event["person_id"]
        assert datetime.fromisoformat(event["time"]).utcoffset() is not None
    # biden was in view for one processed frame only, the stranger is not enrolled: neither came
    report = json.loads(run("--db", store, "report", "--date", "2026-11-24", "--tz", "UTC", "--format", "json").stdout)
    assert {r["name"] for r in report["present"]} == {"obama", "kit_harington"}
    assert report["absent"] == ["biden", "rose_leslie"]
    obama = next(r for r in report["present"] if r["name"] == "obama")
    first, last = _script_span(data, "obama", 0), _script_span(data, "obama", 1)
    assert datetime.fromisoformat(obama["first_seen"]) == T0 + timedelta(seconds=first[0])
    assert datetime.fromisoformat(obama["last_seen"]) >= T0 + timedelta(seconds=last[0])
    # a second pass the same morning: no new check-in, the same events are updated
    again = attend(store, video, "--start-time", "2026-11-24T08:30:00+00:00")
    assert {e["event"] for e in again} == {"update"}
    # the next day (past the 8 h window): new check-ins
    next_day = attend(store, video, "--start-time", "2026-11-25T08:00:00+00:00", "--dedupe", "8h")
    assert [e["event"] for e in next_day].count("check_in") == 2


def test_threshold_overrides_the_operating_point_for_check_ins(store, video):
    assert attend(store, video, "--start-time", "2026-11-20T08:00:00+00:00", "--threshold", "0.99") == []
    refused = run("--db", store, "attend", video, "--threshold", "nan")
    assert refused.exit_code == 1 and "a threshold is a cosine similarity" in refused.stderr


def test_the_same_frames_as_an_mjpeg_stream_give_the_same_result(store, data):
    with camera.MjpegServer(data) as server:
        events = attend(store, server.url, "--fps", "5", "--no-reconnect")
    assert [(e["event"], e["name"]) for e in events] == [
        ("check_in", "obama"),
        ("check_in", "kit_harington"),
        ("update", "obama"),
    ]
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=2) < datetime.fromisoformat(e["time"]) <= now for e in events)


def test_report_formats_and_ranges(store, video):
    attend(store, video, "--start-time", START)
    csv_out = run("--db", store, "report", "--date", "2026-11-24", "--tz", "Europe/Paris", "--format", "csv")
    lines = csv_out.stdout.splitlines()
    assert lines[0] == "name,status,source,first_seen,last_seen,sightings"
    assert any(line.startswith("obama,present,") and "T09:00:00.600000+01:00" in line for line in lines)
    assert "biden,absent,,,,0" in lines
    table = run("--db", store, "report", "--from", "2026-11-24T07:00:00+00:00", "--to", "2026-11-24T09:00:00+00:00")
    assert table.exit_code == 0 and "kit_harington" in table.stdout and "absent: 2" in table.stdout
    empty = json.loads(run("--db", store, "report", "--date", "2026-11-23", "--format", "json").stdout)
    assert empty["present"] == [] and len(empty["absent"]) == 4
    for bad in (["--date", "24/11/2026"], ["--tz", "Mars/Olympus"], ["--format", "xml"]):
        result = run("--db", store, "report", *bad)
        assert result.exit_code == 1 and "error" in result.stderr


def test_unknown_sightings_are_opt_in_and_can_be_assigned(store, video):
    attend(store, video, "--start-time", START)
    assert json.loads(run("--db", store, "unknowns", "--json").stdout) == []
    events = attend(store, video, "--start-time", "2026-11-24T09:00:00+00:00", "--unknowns")
    unknown = [e for e in events if e["event"] == "unknown"]
    assert unknown and all(e["name"] is None and e["person_id"] is None for e in unknown)
    listed = json.loads(run("--db", store, "unknowns", "--json").stdout)
    assert sorted(s["id"] for s in listed) == sorted(e["event_id"] for e in unknown)
    assert all(s["sightings"] >= 3 for s in listed)  # confirmed like anyone else
    numbered = json.loads(run("--db", store, "unknowns", "--json", "--clusters").stdout)
    assert [s["id"] for s in numbered] == [s["id"] for s in listed] and all(s["cluster"] >= 1 for s in numbered)
    biggest = max(listed, key=lambda s: s["sightings"])
    result = run("--db", store, "assign", biggest["id"], "lin-manuel")
    assert result.exit_code == 0, result.stderr
    people = {p["name"]: p["samples"] for p in json.loads(run("--db", store, "list", "--json").stdout)}
    assert people["lin-manuel"] == 1
    assert biggest["id"] not in {s["id"] for s in json.loads(run("--db", store, "unknowns", "--json").stdout)}
    assert run("--db", store, "assign", 9999, "x").exit_code == 1


def test_remove_and_purge_leave_no_event_or_snapshot(store, video):
    attend(store, video, "--start-time", START, "--unknowns")
    log = AttendanceLog(Store(store))
    assert {e.person for e in log.events()} == {"obama", "kit_harington"}
    assert run("--db", store, "remove", "obama", "--yes").exit_code == 0
    assert {e.person for e in log.events()} == {"kit_harington"}  # events and snapshots deleted with obama
    result = run("--db", store, "purge", "--older-than", "1d")  # the events are from 2026-11-24
    assert result.exit_code == 0 and "purged 1 events" in result.stdout
    assert log.counts() == {"events": 0, "unknown_sightings": 0, "spoof_events": 0}
    assert run("--db", store, "purge", "--older-than", "soon").exit_code == 1


def test_retention_setting_purges_automatically(store, video):
    attend(store, video, "--start-time", START)
    assert "until purged" in run("--db", store, "retention").stdout
    result = run("--db", store, "retention", "30d")
    assert result.exit_code == 0 and "30 days" in result.stdout
    log = AttendanceLog(Store(store))
    assert log.counts()["events"] == 2  # two days old: kept
    run("--db", store, "retention", "1d")  # applied at once, and by every attend run
    assert log.counts()["events"] == 0


def test_a_folder_of_images_in_name_order(store, data, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = camera.frames(data)[:40:2]  # 5 frames per second: blank, then obama
    for i, frame in enumerate(frames):
        from PIL import Image

        Image.fromarray(frame).save(folder / f"frame{i:04d}.jpg")
    (folder / "notes.txt").write_text("not an image")
    events = attend(store, folder, "--start-time", START, "--fps", "5")
    assert [(e["event"], e["name"]) for e in events] == [("check_in", "obama")]
    assert events[0]["time"] == "2026-11-24T08:00:01+00:00"  # the 6th frame at 5 fps


def _attend_until_signalled(store, source, signum, *extra, wait: float = 0.0) -> tuple[list[dict], str, int]:
    """Run ``facerec attend --json`` in its own process, send ``signum`` ``wait`` seconds after its
    first event line; the events it reported, its stderr and its exit code."""
    command = [sys.executable, str(REPO / "cli.py"), "--db", store, "attend", str(source), "--json"]
    child = subprocess.Popen(
        command + ["--start-time", START, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first = child.stdout.readline()  # an event, printed as it happens
        time.sleep(wait)
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    return [json.loads(line) for line in [first, *out.splitlines()] if line.strip()], err, child.returncode


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_a_watched_folder_cleanly(store, data, tmp_path, stop):
    folder = tmp_path / "incoming"
    folder.mkdir()
    from PIL import Image

    frame = camera.frames(data)[10]  # obama
    for i in range(4):
        Image.fromarray(frame).save(folder / f"f{i}.jpg")
    reported, err, code = _attend_until_signalled(store, folder, stop, "--watch", wait=0.5)
    assert [event["name"] for event in reported] == ["obama"], reported
    assert code == 0, err
    assert "stopped; 1 events written" in err, err
    assert AttendanceLog(Store(store)).counts()["events"] == 1


def test_sources_end_between_frames_when_asked(data, tmp_path, video):
    from PIL import Image

    from facerec.attendance import sources

    for i in range(3):
        Image.fromarray(camera.frames(data)[i]).save(tmp_path / f"f{i}.jpg")
    for source, watch in ((tmp_path, True), (video, False)):
        stop = threading.Event()
        frames = sources.frames(str(source), watch=watch, stop=stop)
        next(frames)
        stop.set()
        assert list(frames) == [], source  # a watched folder too: its wait ends with the stop


def test_ctrl_c_while_frames_are_processed_stops_after_the_frame_in_hand(store, video):
    """The signal lands while the video is being worked through: the command ends between two
    frames, so every event it reported is whole in the log and nothing else is."""
    reported, err, code = _attend_until_signalled(store, video, signal.SIGINT)
    assert code == 0, err
    assert reported and reported[0]["name"] == "obama"
    assert f"stopped; {len(reported)} events written" in err, err
    log = AttendanceLog(Store(store)).events()
    assert sorted(e.id for e in log) == sorted({r["event_id"] for r in reported})


def test_bad_sources_and_options_fail_clearly(store, tmp_path):
    for args in (
        [tmp_path / "missing.avi"],
        [tmp_path, "--fps", "0"],
        [tmp_path, "--confirm", "three"],
        [tmp_path, "--start-time", "yesterday"],
    ):
        result = run("--db", store, "attend", *args)
        assert result.exit_code == 1 and "error" in result.stderr, args
    (tmp_path / "not-a-video.avi").write_bytes(b"garbage" * 100)
    assert run("--db", store, "attend", tmp_path / "not-a-video.avi").exit_code == 1


def _sample(i: int) -> StoredSample:
    vector = np.zeros(512, np.float32)
    vector[i] = 1
    return StoredSample(
        vector, "casia-webface", None, {}, b"png", f"/p{i}.jpg", f"{i:064x}", (0, 0, 1, 1), ((0, 0),) * 5, 1, {}
    )


def test_the_log_dedupes_purges_and_cascades_on_each_backend(store_url):
    store = Store(store_url)
    Samples(store).add("ann", [_sample(0)])
    Samples(store).add("ben", [_sample(1)])
    log = AttendanceLog(store)
    revision = store.revision()
    window = timedelta(hours=8)
    first, new = log.record("ann", "door", T0, T0 + timedelta(seconds=2), 0.8, b"a", 3, window)
    assert new
    again, new = log.record("ann", "door", T0 + timedelta(hours=3), T0 + timedelta(hours=3), 0.9, b"b", 3, window)
    assert not new and again.id == first.id and again.sightings == 6 and again.best_similarity == 0.9
    other, new = log.record("ann", "lobby", T0, T0, 0.7, b"c", 3, window)  # another source: its own event
    assert new and other.id != first.id
    later, new = log.record("ann", "door", T0 + timedelta(hours=12), T0 + timedelta(hours=12), 0.7, b"d", 3, window)
    assert new
    log.record("ben", "door", T0, T0, 0.7, b"e", 3, window)
    assert store.revision() == revision  # attendance never invalidates the face index
    assert log.snapshot(first.id) == b"b"  # the best sighting's crop
    paris = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert len(log.events(paris, paris + timedelta(hours=1))) == 3
    People(store).remove("ben")
    assert {e.person for e in log.events()} == {"ann"}
    assert log.purge(timedelta(hours=1), now=T0 + timedelta(hours=10)) == {
        "events": 2,
        "unknown_sightings": 0,
        "spoof_events": 0,
    }
    assert [e.id for e in log.events()] == [later.id]


def test_the_stored_dedupe_window_applies_to_every_run(store, video):
    assert "8 hours" in run("--db", store, "dedupe").stdout
    assert run("--db", store, "dedupe", "1h").exit_code == 0
    attend(store, video, "--start-time", START)
    later = attend(store, video, "--start-time", "2026-11-24T10:00:00+00:00")  # 2 h later: past 1 h
    assert [e["event"] for e in later].count("check_in") == 2
    assert run("--db", store, "dedupe", "often").exit_code == 1


def test_assigning_a_sighting_of_another_model_is_refused(store_url):
    from facerec.errors import StoreError

    store = Store(store_url)
    Samples(store).add("ann", [_sample(0)])
    log = AttendanceLog(store)
    sighting = UnknownSightings(log.store).add(
        "door", T0, T0, 0.1, "vggface2", None, _sample(1).embedding, {}, b"crop", 3
    )
    with pytest.raises(StoreError, match="embedded with vggface2"):
        UnknownSightings(log.store).assign(sighting.id, "bob")
    recentred = UnknownSightings(log.store).add(
        "door", T0, T0, 0.1, "casia-webface", "c" * 16, _sample(2).embedding, {}, b"crop", 3
    )
    with pytest.raises(StoreError, match="embedded with casia-webface \\(centred on cccc"):  # same model, other centre
        UnknownSightings(log.store).assign(recentred.id, "bob")
    assert [s.id for s in UnknownSightings(log.store).all()] == [sighting.id, recentred.id] and [
        p.name for p in People(store).all()
    ] == ["ann"]
