"""Matching logic on synthetic embeddings where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.matching import Gallery, decide, person_scores, threshold_for


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
    from facerec.embedder import Embedder

    embedder = Embedder()
    assert embedder.identify_threshold(13) == pytest.approx(0.465, abs=0.005)
    assert embedder.identify_threshold(100) == pytest.approx(0.560, abs=0.005)
    assert embedder.identify_threshold(1000) > embedder.identify_threshold(100)
