"""The duplicate-identity rule on vectors with known answers: a face is someone else's when it
reaches the operating point against their centroid or one of their samples, never one's own."""

from __future__ import annotations

import numpy as np

from facerec.identity.duplicates import claimed


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, np.float32)
    return vector / np.linalg.norm(vector)


def test_a_face_at_the_operating_point_against_a_centroid_or_a_sample_is_claimed():
    samples = {"ann": np.stack([unit(1, 0, 0), unit(0.8, 0.6, 0)]), "bob": np.stack([unit(0, 0, 1)])}
    probes = np.stack([unit(1, 0.1, 0), unit(0, 0.2, 1), unit(0, 1, 0)])
    nearest = [[("ann", 0.93), ("bob", 0.0)], [("bob", 0.98), ("ann", 0.1)], [("ann", 0.55), ("bob", 0.0)]]
    found = claimed("carl", probes, nearest, samples.__getitem__, threshold=0.6)
    assert found[0].other == "ann" and found[0].against == "sample" and found[0].similarity > 0.99
    assert found[1].other == "bob" and found[1].against == "sample"
    assert found[2] is not None and (found[2].other, found[2].against) == ("ann", "sample")  # 0.6 to her 2nd
    assert claimed("carl", probes[2:], [[("ann", 0.55)]], samples.__getitem__, threshold=0.61) == [None]
    centroid_only = claimed("carl", probes[2:], [[("ann", 0.7)]], lambda _: np.zeros((0, 3)), threshold=0.65)
    assert centroid_only[0].against == "centroid" and centroid_only[0].similarity == 0.7
    assert claimed("ann", probes[:1], nearest[:1], samples.__getitem__, threshold=0.6) == [None]  # her own
