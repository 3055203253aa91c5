"""People, not frames: face tracks on labelled videos made from real LFW photos (tests/scenes.py)
and on the real doorway video; identity fused along a track; identify and enrol from clips."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
import scenes
from cli_run import run, sqlite_copy
from PIL import Image

from facerec import FaceRecognizer
from facerec.attendance import clips, sources
from facerec.attendance.checkins import Attendance
from facerec.attendance.following import FaceFollower
from facerec.attendance.tracker import iou
from facerec.store.people import People
from facerec.store.samples import Samples

START = "2026-12-01T08:00:00+00:00"
T0 = datetime.fromisoformat(START)
# Enrolled from their photos 1-4; the videos use photos 6-10, which enrolment never saw.
GALLERY = [
    "Colin_Powell",
    "Nicole_Kidman",
    "Hu_Jintao",
    "Jean_Charest",
    "John_Bolton",
    "George_W_Bush",
    "Abdullah_Gul",
    "Meryl_Streep",
    "Richard_Gere",
    "Keanu_Reeves",
]


@pytest.fixture(scope="module")
def gallery(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracks")
    url = f"sqlite:///{folder / 'store.db'}"
    recognizer = FaceRecognizer(db=url)
    for person in GALLERY:
        report = recognizer.enroll(person, [scenes.lfw(data, person, n) for n in range(1, 5)])
        assert report.added, report
    return folder / "store.db"


@pytest.fixture
def store(gallery, tmp_path):
    return sqlite_copy(gallery, tmp_path / "store.db")


def walkers(data) -> scenes.Scene:
    """Two people cross (Kidman passes in front of Powell, hiding his face for a while) while the
    camera pans, Powell comes closer, the camera shakes for four frames; then a hard cut to
    another view where Hu Jintao stands just where Powell was."""
    patch = lambda person, n=6: scenes.face_patch(scenes.lfw(data, person, n))  # noqa: E731
    powell = scenes.Actor(
        "Colin_Powell", patch("Colin_Powell"), scenes.line((110, 220, 130), (530, 235, 165), 0, 70), range(0, 71)
    )
    kidman = scenes.Actor(
        "Nicole_Kidman", patch("Nicole_Kidman", 7), scenes.line((530, 250, 145), (110, 240, 145), 0, 70), range(0, 71)
    )
    hu = scenes.Actor(
        "Hu_Jintao", patch("Hu_Jintao"), scenes.line((530, 235, 160), (500, 240, 170), 72, 110), range(72, 110)
    )
    backgrounds = [scenes.background(data, "street"), scenes.background(data, "wall")]
    return scenes.Scene(backgrounds, [powell, kidman, hu], 110, cuts=(72,), pan=1.5, blur_frames=(46, 47, 48, 49))


def _tracks_by_frame(store: str, scene: scenes.Scene) -> dict[int, list[tuple[int, str | None]]]:
    """Per track, the ground-truth actor of each face it was given (None: no actor there)."""
    follower = FaceFollower(FaceRecognizer(db=store))
    found: dict[int, list[tuple[int, str | None]]] = {}
    for i, frame in enumerate(scene.frames()):
        step = follower.step(frame, T0 + timedelta(seconds=i / scenes.FPS))
        for sighting in step.sightings:
            overlaps = [(iou(sighting.face.box, box), name) for name, box in scene.truth(i)]
            best = max(overlaps, default=(0.0, None))
            found.setdefault(sighting.track, []).append((i, best[1] if best[0] > 0.2 else None))
    return found


def test_crossing_occlusion_pan_zoom_blur_and_a_cut_give_one_track_and_one_check_in_per_person(store, data, tmp_path):
    scene = walkers(data)
    tracks = _tracks_by_frame(store, scene)
    owners = {}
    for track, faces in tracks.items():
        names = {name for _, name in faces if name is not None}
        assert len(names) <= 1, f"track {track} holds {names}: an identity switch"
        if names and len(faces) >= 3:
            owners.setdefault(names.pop(), []).append(track)
    # One track each: Powell's survives being hidden behind Kidman; Hu's is new after the cut.
    assert {name: len(ids) for name, ids in owners.items()} == {"Colin_Powell": 1, "Nicole_Kidman": 1, "Hu_Jintao": 1}
    powell = tracks[owners["Colin_Powell"][0]]
    seen = [i for i, _ in powell]
    assert seen[0] <= 5 and seen[-1] >= 65, "Powell's track spans his walk, before and after the crossing"
    gaps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert max(gaps) >= 5, "his face was hidden for a while at the crossing (else the scene tests nothing)"

    video = scene.write(tmp_path / "walkers.avi")
    result = run("--db", store, "attend", video, "--fps", "25", "--json", "--start-time", START)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((e["event"], e["name"]) for e in events) == [
        ("check_in", "Colin_Powell"),
        ("check_in", "Hu_Jintao"),
        ("check_in", "Nicole_Kidman"),
    ]
    hu = next(e for e in events if e["name"] == "Hu_Jintao")
    assert datetime.fromisoformat(hu["first_seen"]) >= T0 + timedelta(seconds=72 / scenes.FPS)
    assert len({e["track"] for e in events}) == 3 and all(e["frames"] >= 3 for e in events)
    assert "face tracks" in result.stderr and "3 check-in" in result.stderr


def fading(data) -> scenes.Scene:
    """Jean Charest, close and sharp, walks away from the camera: his face shrinks to ~50 px and
    blurs, and in those poor frames it looks more like John Bolton than like himself (a blend of
    the two photos stands in for what distance and blur do to a face)."""
    charest = scenes.face_patch(scenes.lfw(data, "Jean_Charest", 6))
    bolton = scenes.face_patch(scenes.lfw(data, "John_Bolton", 6))

    def blend(i: int):
        return bolton, 0.55 * min(max((i - 25) / 15, 0.0), 1.0)

    actor = scenes.Actor(
        "Jean_Charest",
        charest,
        lambda i: scenes.line((300, 240, 170), (340, 230, 75), 25, 40)(i),
        range(0, 90),
        blur=lambda i: 1.2 * min(max((i - 25) / 15, 0.0), 1.0),
        blend=blend,
    )
    return scenes.Scene([scenes.background(data, "street")], [actor], 90)


def test_a_track_named_on_good_faces_is_never_renamed_by_poor_frames_that_look_like_someone_else(store, data):
    scene = fading(data)
    frames = scene.frames()
    recognizer = FaceRecognizer(db=store)
    threshold = 0.5  # the operating point of this run, for the frames alone and for attendance
    alone = [recognizer.identify(frames[i], threshold=threshold) for i in range(45, 90, 5)]
    assert all(len(found) == 1 and found[0].match.name == "John_Bolton" for found in alone), [
        [(f.match.name, round(f.match.similarity, 3)) for f in found] for found in alone
    ]  # each poor frame alone would name Bolton: frame-by-frame attendance would check him in
    door = Attendance(recognizer, "door", threshold=threshold)
    events = []
    for i, frame in enumerate(frames):
        events += door.process(frame, T0 + timedelta(seconds=i / scenes.FPS))
    events += door.finish()
    assert [(e.event, e.name) for e in events] == [("check_in", "Jean_Charest")]
    assert len({e.track for e in events}) == 1


def test_doorway_video_one_track_and_one_unknown_sighting_per_person(data, tmp_path):
    """../shared/data/video/doorway_1080p.mp4, labelled by hand from its frames (tracks drawn on
    frames 0, 26, 52, 78 and 104): nine people show a face while walking in (ginger boy,
    woman behind him, brunette woman in front, boy in a blue hoodie, grey-haired man, white-haired
    woman, a small face at the far right, man with glasses, and one who turns away); everyone else
    shows only the back of their head or a profile MTCNN does not find. Nobody is enrolled."""
    people = 9
    url = f"sqlite:///{tmp_path / 'door.db'}"
    run("--db", url, "enroll", "obama", data / "face_recognition/examples/knn_examples/train/obama")
    clip = str(data / "video" / "doorway_1080p.mp4")
    recognizer = FaceRecognizer(db=url)
    door = Attendance(recognizer, "doorway", keep_unknowns=True)
    events = []
    for frame in sources.frames(clip, fps=25, start=T0):
        events += door.process(frame.pixels, frame.time)
    events += door.finish()
    assert door.summary.frames == 105
    assert door.summary.detections <= 105 / 4, "whole detections every 5th frame, followed between"
    long_tracks = door.summary.tracks
    assert people <= long_tracks <= people + 4, long_tracks
    unknown = [e for e in events if e.event == "unknown"]
    assert all(e.event == "unknown" for e in events)
    assert len({e.track for e in unknown}) == len(unknown), "one sighting per track"
    assert people - 3 <= len(unknown) <= 1.2 * people, len(unknown)


def test_identify_a_clip_answers_per_track(store, data, tmp_path):
    video = walkers(data).write(tmp_path / "walkers.avi")
    result = run("--db", store, "identify", video, "--json")
    assert result.exit_code == 0, result.stderr
    answers = json.loads(result.stdout)
    tracks = answers[0]["tracks"] if isinstance(answers, list) else answers["tracks"]
    named = sorted(t["name"] for t in tracks if t["name"])
    assert named == ["Colin_Powell", "Hu_Jintao", "Nicole_Kidman"]
    hu = next(t for t in tracks if t["name"] == "Hu_Jintao")
    assert hu["start"] >= 72 / scenes.FPS - 0.05 and hu["frames"] >= 20 and hu["similarity"] > 0.5
    text = run("--db", store, "identify", video)
    assert text.exit_code == 0 and "Colin_Powell" in text.stdout and "track" in text.stdout


def posing(data, people: list[str]) -> scenes.Scene:
    """Each person in turn... or together: each stands still for a while, showing a few photos
    of themselves one after another (a head turning, other light)."""
    actors = []
    for k, person in enumerate(people):
        photos = [scenes.face_patch(scenes.lfw(data, person, n)) for n in (6, 7, 8, 9, 10)]
        x = 200 + 240 * k
        actor = scenes.Actor(person, photos[0], scenes.line((x, 240, 170), (x + 10, 235, 175), 0, 60), range(0, 60))
        actor.blend = lambda i, photos=photos: (photos[min(i // 12, 4)], 1.0)
        actors.append(actor)
    return scenes.Scene([scenes.background(data, "street")], actors, 60)


def test_enroll_from_a_clip_takes_varied_faces_and_refuses_two_people(data, tmp_path):
    url = f"sqlite:///{tmp_path / 'clip.db'}"
    one = posing(data, ["Keanu_Reeves"]).write(tmp_path / "keanu.avi")
    result = run("--db", url, "enroll", "keanu", one, "--json", "--faces", "4")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["samples"] == 4 and all("keanu.avi#frame" in f for f in report["added"])
    recognizer = FaceRecognizer(db=url)
    vectors = Samples(recognizer.store).embeddings(recognizer.embedder.model, person="keanu")[2]
    similarity = vectors @ vectors.T
    assert similarity[np.triu_indices(4, 1)].max() < clips.NEAR_DUPLICATE, "no two samples alike"
    # He is recognised in a photo the clip never showed.
    named = recognizer.identify(scenes.lfw(data, "Keanu_Reeves", 1))
    assert [i.match.name for i in named] == ["keanu"]

    two = posing(data, ["Meryl_Streep", "Richard_Gere"]).write(tmp_path / "two.avi")
    refused = run("--db", url, "enroll", "meryl", two)
    assert refused.exit_code == 1 and "2 different people are in view" in refused.stderr
    assert [p.name for p in People(recognizer.store).all()] == ["keanu"]  # nothing written


def test_enroll_from_a_camera_stream_for_some_seconds(data, tmp_path):
    import camera

    url = f"sqlite:///{tmp_path / 'cam.db'}"
    frames = posing(data, ["Keanu_Reeves"]).frames()
    with camera.MjpegServer(data, fps=25, pictures=frames) as server:
        result = run("--db", url, "enroll", "keanu", "--camera", server.url, "--seconds", "3", "--faces", "3")
    assert result.exit_code == 0, result.stderr
    assert "keanu: added 3" in result.stdout


def test_shot_change_is_seen_on_a_cut_and_not_on_people_walking(data):
    from facerec.attendance.shots import ShotDetector

    scene = walkers(data)
    detector = ShotDetector()
    cuts = [i for i in range(scene.length) if detector.cut(scene.frame(i))]
    assert cuts == [72]
    doorway = ShotDetector()
    clip = str(data / "video" / "doorway_1080p.mp4")
    assert not any(doorway.cut(frame.pixels) for frame in sources.frames(clip, fps=25))


def test_frames_are_decoded_ahead_and_stop_cleanly(data):
    clip = str(data / "video" / "doorway_1080p.mp4")
    first = next(iter(sources.frames(clip, fps=25)))
    capture = cv2.VideoCapture(clip)
    ok, bgr = capture.read()
    assert ok and np.array_equal(first.pixels, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert first.time == first.time.astimezone(UTC)


def test_a_track_that_turns_into_another_person_is_split_and_each_half_decided(store, data):
    """One face where another was, without a cut (a tracker's mistake at a crossing looks so): the
    track is split, Powell stays Powell, Hu is checked in on his own track."""
    powell = scenes.face_patch(scenes.lfw(data, "Colin_Powell", 6))
    hu = scenes.face_patch(scenes.lfw(data, "Hu_Jintao", 6))
    actor = scenes.Actor(
        "swap",
        powell,
        scenes.line((300, 240, 160), (330, 240, 160), 0, 100),
        range(100),
        blend=lambda i: (hu, float(i >= 40)),
    )
    scene = scenes.Scene([scenes.background(data)], [actor], 100)
    door = Attendance(FaceRecognizer(db=store), "door")
    events = []
    for i, frame in enumerate(scene.frames()):
        events += door.process(frame, T0 + timedelta(seconds=i / scenes.FPS))
    events += door.finish()
    assert [(e.event, e.name) for e in events] == [("check_in", "Colin_Powell"), ("check_in", "Hu_Jintao")]
    assert events[0].track != events[1].track
    assert events[1].first_seen >= T0 + timedelta(seconds=40 / scenes.FPS)


def test_the_check_in_keeps_the_tracks_best_face_not_its_first(store, data):
    """Powell comes in blurred and small, then stands sharp and close: the event's snapshot is
    one of the sharp faces."""
    from facerec.store import Store
    from facerec.store.attendance_log import AttendanceLog

    actor = scenes.Actor(
        "Colin_Powell",
        scenes.face_patch(scenes.lfw(data, "Colin_Powell", 6)),
        scenes.line((300, 240, 110), (320, 240, 190), 0, 30),
        range(80),
        blur=lambda i: 2.0 if i < 10 else 0.0,
    )
    frames = scenes.Scene([scenes.background(data)], [actor], 80).frames()
    door = Attendance(FaceRecognizer(db=store), "door")
    events = []
    for i, frame in enumerate(frames):
        events += door.process(frame, T0 + timedelta(seconds=i / scenes.FPS))
    events += door.finish()
    assert [(e.event, e.name) for e in events] == [("check_in", "Colin_Powell")]
    snapshot = AttendanceLog(Store(store)).snapshot(events[0].event_id)
    picture = np.asarray(Image.open(io.BytesIO(snapshot)).convert("L"))
    first = door.recognizer.embedder.crops(frames[0], door.recognizer.detect(frames[0]))[0]
    sharpness = lambda grey: float(cv2.Laplacian(grey, cv2.CV_64F).var())  # noqa: E731
    assert sharpness(picture) > 2 * sharpness(cv2.cvtColor(first, cv2.COLOR_RGB2GRAY))
    event = AttendanceLog(Store(store)).events()[0]
    assert event.sightings >= 70  # frames of the track, written when it ended


def test_a_larger_k_is_decided_on_the_first_k_faces_not_seconds_later(store, data):
    """--confirm 6/2s: a new track's first six faces are all embedded, so Powell, sharp from his
    first frame, is checked in within his first frames rather than after the 2 s re-check."""
    from facerec.attendance.presence import ConfirmRule

    actor = scenes.Actor(
        "Colin_Powell",
        scenes.face_patch(scenes.lfw(data, "Colin_Powell", 6)),
        scenes.line((300, 240, 160), (320, 240, 170), 0, 60),
        range(60),
    )
    door = Attendance(FaceRecognizer(db=store), "door", rule=ConfirmRule(6, timedelta(seconds=2)))
    assert door.follower.config.first_faces == 6
    checked = None
    for i, frame in enumerate(scenes.Scene([scenes.background(data)], [actor], 60).frames()):
        if door.process(frame, T0 + timedelta(seconds=i / scenes.FPS)) and checked is None:
            checked = i
    assert checked is not None and checked < 20, checked  # 60 frames at 25 fps: 2.4 s


def test_an_odd_face_held_back_gives_its_track_no_snapshot_and_no_liveness_verdict(tmp_path):
    """One face unlike its track is not added (it may be someone else passing): its picture must
    not become the track's snapshot, nor its verdict count in the liveness majority."""
    from facerec.attendance.evidence import TrackEvidence
    from facerec.attendance.following import Sighting
    from facerec.attendance.presence import ConfirmRule
    from facerec.types import Face, Liveness

    door = Attendance(FaceRecognizer(db=f"sqlite:///{tmp_path / 'door.db'}"), "door", rule=ConfirmRule(3))
    evidence = TrackEvidence(1, T0, T0)
    a, b = np.eye(512, dtype=np.float32)[0], np.eye(512, dtype=np.float32)[1]
    face = Face((100.0, 100.0, 200.0, 220.0), 0.999, ((120.0, 140.0),) * 5)

    def sighting(picture: float, sharpness: float, live: bool) -> Sighting:
        figures = {"size": 110.0, "sharpness": sharpness, "yaw": 0.0}
        return Sighting(1, face, np.full((4, 4, 3), picture), figures, Liveness(live, 0.9 if live else 0.1))

    for _ in range(3):
        assert door._add(evidence, sighting(1.0, 50.0, True), a)
    assert door._add(evidence, sighting(2.0, 500.0, False), b)  # sharper, so it would win the snapshot
    assert evidence.held_back and len(evidence.vectors) == 3
    assert float(evidence.snapshot[0, 0, 0]) == 1.0 and evidence.liveness == [(True, 0.9)] * 3
