"""Matching logic on synthetic embeddings where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.identity import matching
from facerec.identity.matching import Gallery, decide, person_scores, threshold_for
from facerec.runtime import weights


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def world():
    """20 people, 5 noisy samples each around a centre; 10 strangers; probes are new noisy samples."""
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(30, 128)))
    names = [f"p{i:02d}" for i in range(20)]
    samples = _unit(np.repeat(centres[:20], 5, axis=0) + 0.08 * rng.normal(size=(100, 128)))
    probes = _unit(centres + 0.08 * rng.normal(size=(30, 128)))
    return Gallery.build([n for n in names for _ in range(5)], samples), names, probes


@pytest.mark.parametrize("aggregate", ["best", "centroid"])
def test_enrolled_people_are_named_and_strangers_unknown(world, aggregate):
    gallery, names, probes = world
    matches = decide(person_scores(gallery, probes, aggregate), gallery.names, threshold=0.5, top_k=3)
    assert [m.name for m in matches[:20]] == names
    assert all(m.name is None for m in matches[20:])
    assert all(len(m.candidates) == 3 for m in matches)
    assert all(m.candidates[0].similarity >= m.candidates[1].similarity >= m.candidates[2].similarity for m in matches)


def test_threshold_is_inclusive_and_decides_unknown():
    gallery = Gallery.build(["a"], np.array([[1.0, 0.0]], np.float32))
    probe = np.array([[0.6, 0.8]], np.float32)  # cosine 0.6 with "a"
    assert decide(person_scores(gallery, probe), gallery.names, 0.6)[0].name == "a"
    assert decide(person_scores(gallery, probe), gallery.names, 0.61)[0].name is None


def test_centroid_and_best_differ_as_defined():
    vectors = _unit(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))  # "a" has two opposite-ish samples
    gallery = Gallery.build(["a", "a"], vectors)
    probe = np.array([[1.0, 0.0]], np.float32)
    assert person_scores(gallery, probe, "best")[0, 0] == pytest.approx(1.0)
    assert person_scores(gallery, probe, "centroid")[0, 0] == pytest.approx(np.sqrt(0.5))


def test_empty_gallery_gives_unknown_without_candidates():
    gallery = Gallery.build([], np.zeros((0, 4), np.float32))
    match = decide(np.zeros((1, 0)), gallery.names, 0.5)[0]
    assert match.name is None and match.candidates == ()


def test_threshold_for_interpolates_log_linearly_and_clamps():
    table = ((1e-2, 0.40), (1e-3, 0.50), (1e-4, 0.60))
    assert threshold_for(table, 1e-3) == pytest.approx(0.50)
    assert threshold_for(table, 10**-3.5) == pytest.approx(0.55)
    assert threshold_for(table, 1.0) == pytest.approx(0.40)
    assert threshold_for(table, 1e-9) == pytest.approx(0.60)


def test_identification_threshold_grows_with_the_gallery():
    spec = weights.model_spec("casia-webface")  # the operating point benchmarks/open_set.py chose (0.008)
    assert matching.operating_point(spec, 5) == pytest.approx(0.473, abs=0.005)
    assert matching.operating_point(spec, 20) == pytest.approx(0.550, abs=0.005)
    assert matching.operating_point(spec, 100) == pytest.approx(0.623, abs=0.005)
    assert matching.operating_point(spec, 1000) > matching.operating_point(spec, 100)


def test_decide_reports_the_threshold_applied_and_the_margin_to_the_second():
    gallery = Gallery.build(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
    probe = np.array([[0.8, 0.6]], np.float32)
    match = decide(person_scores(gallery, probe), gallery.names, 0.7)[0]
    assert (match.name, match.threshold) == ("a", 0.7)
    assert match.margin == pytest.approx(0.2)
    alone = Gallery.build(["a"], np.array([[1.0, 0.0]], np.float32))
    assert decide(person_scores(alone, probe), alone.names, 0.7)[0].margin is None


def test_pick_faces_takes_the_face_like_the_persons_other_photos():
    alice, bob, carol = np.eye(3, dtype=np.float32)
    one = [np.array([alice]), np.array([_unit(alice + 0.2 * carol)])]  # photos of one face: alice
    group = np.array([bob, _unit(alice + 0.1 * bob)])  # bob is larger; the second face is alice
    strangers = np.array([bob, carol])  # nobody like alice
    picks = matching.pick_faces([*one, group, strangers], [False, False, True, True], [True] * 4, np.zeros((0, 0)), 0.5)
    assert [k for k, _ in picks] == [0, 0, 1, None]
    assert picks[2][1] > 0.9 and picks[3][1] < 0.5
    # Nothing to compare with: the largest face, if it is usable; the held samples are a reference too.
    assert matching.pick_faces([group, group], [True, True], [True, False], np.zeros((0, 0)), 0.5) == [
        (0, None),
        (None, None),
    ]
    assert matching.pick_faces([group], [True], [True], np.array([alice]), 0.5)[0][0] == 1
