"""The tracker and a track's evidence in pure logic: boxes and vectors in, tracks and decisions out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from facerec.attendance.evidence import EvidenceRule, TrackEvidence, face_weight
from facerec.attendance.tracker import Detection, FaceTracker, TrackerConfig, iou

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def at(i: int, fps: float = 25) -> datetime:
    return T0 + timedelta(seconds=i / fps)


def unit(seed: int, dim: int = 64) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def box(cx: float, cy: float, size: float = 80) -> tuple[float, float, float, float]:
    return cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2


def run(tracker: FaceTracker, frames: list[list[Detection]], fps: float = 25) -> list[dict[int, int]]:
    """Per frame: detection index -> track id."""
    out = []
    for i, detections in enumerate(frames):
        step = tracker.update(detections, at(i, fps))
        out.append({index: tid for tid, index in step.matches})
    return out


def test_a_moving_face_keeps_one_track_at_any_frame_rate():
    for fps in (5, 25):
        step = 200 / fps  # 200 px a second
        frames = [[Detection(box(50 + step * i, 200), 0.99)] for i in range(int(fps * 2))]
        ids = {m[0] for m in run(FaceTracker(), frames, fps)}
        assert ids == {1}


def test_two_faces_crossing_keep_their_tracks_by_motion_and_appearance():
    a, b = unit(1), unit(2)
    frames = []
    for i in range(40):
        xa, xb = 60 + 10 * i, 460 - 10 * i  # they meet at frame 20
        frames.append([Detection(box(xa, 200), 0.99, a), Detection(box(xb, 205), 0.99, b)])
    matched = run(FaceTracker(), frames)
    assert all(m == matched[0] for m in matched), "no switch at the crossing"


def test_appearance_forbids_a_match_to_another_person_in_the_same_place():
    tracker = FaceTracker()
    tracker.update([Detection(box(200, 200), 0.99, unit(1))], at(0))
    step = tracker.update([Detection(box(202, 200), 0.99, unit(2))], at(1))
    assert step.started == [2] and step.matches == [(2, 0)]


def test_a_track_survives_a_short_occlusion_and_ends_after_max_gap():
    face = unit(3)
    tracker = FaceTracker(TrackerConfig(max_gap=1.0))
    for i in range(10):
        tracker.update([Detection(box(100 + 8 * i, 200), 0.99, face)], at(i))
    for i in range(10, 20):  # hidden for 10 frames (0.4 s)
        assert tracker.update([], at(i)).ended == []
    step = tracker.update([Detection(box(100 + 8 * 20, 200), 0.99, face)], at(20))
    assert step.matches == [(1, 0)] and step.started == []
    ended = [tracker.update([], at(i)).ended for i in range(21, 60)]
    assert [t.id for e in ended for t in e] == [1]


def test_a_lost_face_found_again_beyond_iou_by_its_appearance():
    face = unit(4)
    tracker = FaceTracker()
    tracker.update([Detection(box(100, 200), 0.99, face)], at(0))
    tracker.update([Detection(box(104, 200), 0.99, face)], at(1))
    # Found again 150 px on, after stopping: no overlap with the prediction, same face.
    step = tracker.update([Detection(box(250, 200), 0.99, None)], at(8), embed=lambda new, _m: {i: face for i in new})
    assert step.matches == [(1, 0)] and step.started == []


def test_low_confidence_detections_only_continue_tracks():
    tracker = FaceTracker()
    assert tracker.update([Detection(box(100, 100), 0.6)], at(0)).started == []
    tracker.update([Detection(box(300, 300), 0.99)], at(1))
    step = tracker.update([Detection(box(302, 300), 0.6)], at(2))
    assert step.matches == [(1, 0)]


def test_a_cut_ends_every_track():
    tracker = FaceTracker()
    tracker.update([Detection(box(100, 100), 0.99), Detection(box(300, 100), 0.99)], at(0))
    assert sorted(t.id for t in tracker.cut()) == [1, 2] and tracker.tracks == {}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(0, 600), st.floats(0, 400), st.floats(20, 150), st.floats(0, 1)), max_size=6),
        max_size=15,
    )
)
def test_every_confident_detection_belongs_to_exactly_one_track(frames):
    tracker = FaceTracker()
    for i, faces in enumerate(frames):
        detections = [Detection(box(x, y, s), c) for x, y, s, c in faces]
        step = tracker.update(detections, at(i))
        indexes = [index for _, index in step.matches]
        tracks = [tid for tid, _ in step.matches]
        assert len(indexes) == len(set(indexes)) and len(tracks) == len(set(tracks))
        confident = {k for k, d in enumerate(detections) if d.confidence >= tracker.config.high}
        assert confident <= set(indexes)
        assert all(detections[k].confidence >= tracker.config.low for k in indexes)


def test_iou():
    assert iou(box(0, 0), box(0, 0)) == 1.0 and iou(box(0, 0), box(500, 0)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9


def test_fused_identity_weights_good_faces_over_poor_ones():
    a, b = unit(5), unit(6)
    poor_a = (0.45 * a + 0.55 * b) / np.linalg.norm(0.45 * a + 0.55 * b)  # looks more like b
    evidence = TrackEvidence(1, T0, T0)
    rule = EvidenceRule()
    good, poor = face_weight(110, 80, 0.05, 0.999), face_weight(45, 12, 0.3, 0.95)
    assert good > 10 * poor
    for _ in range(3):
        assert evidence.add(a, good, rule)
    for _ in range(10):
        assert evidence.add(poor_a, poor, rule)
    fused = evidence.fused()
    assert float(fused @ a) > 0.9 > float(fused @ b)


def test_a_face_unlike_its_track_twice_splits_it_once_does_not():
    a, b = unit(7), unit(8)
    evidence, rule = TrackEvidence(1, T0, T0), EvidenceRule(faces=3, split_after=2)
    for _ in range(3):
        evidence.add(a, 1.0, rule)
    assert evidence.add(b, 1.0, rule) is True  # one odd face: not counted
    assert len(evidence.vectors) == 3 and evidence.held_back
    assert evidence.add(a, 1.0, rule) is True and evidence.unlike == 0 and not evidence.held_back
    assert evidence.add(b, 1.0, rule) is True
    assert evidence.add(b, 1.0, rule) is False  # twice in a row: another person


def test_liveness_is_the_majority_of_several_frames():
    evidence, rule = TrackEvidence(1, T0, T0), EvidenceRule(liveness_faces=3)
    evidence.liveness += [(False, 0.3), (True, 0.8)]
    assert evidence.live(rule) is None
    evidence.liveness.append((True, 0.7))
    assert evidence.live(rule) is True
    evidence.liveness += [(False, 0.2), (False, 0.1)]
    assert evidence.live(rule) is False
