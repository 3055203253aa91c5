"""What an embedding is: unit vectors, centred on a mean, moved exactly from one centre to another."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from facerec.embedding import space


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


unit_rows = arrays(np.float64, (4, 8), elements=st.floats(-1, 1)).filter(
    lambda a: (np.linalg.norm(a, axis=1) > 0.1).all()
)


@settings(max_examples=60, deadline=None)
@given(raw=unit_rows, centre=arrays(np.float64, 8, elements=st.floats(-0.5, 0.5)))
def test_recentring_is_exact_and_reversible(raw, centre):
    raw = _unit(raw)
    centre = centre * min(1.0, 0.6 / max(np.linalg.norm(centre), 1e-9))  # a mean of unit vectors: |c| < 1
    centred = space.centred(raw, centre)
    assert np.allclose(np.linalg.norm(centred, axis=1), 1, atol=1e-5)
    assert np.allclose(space.uncentred(centred, centre), raw, atol=1e-4)  # the raw vector is recovered
    other = np.linspace(-0.2, 0.2, 8)
    assert np.allclose(space.recentre(centred, centre, other), space.centred(raw, other), atol=1e-4)
    assert np.allclose(space.recentre(centred, centre, None), raw, atol=1e-4)
    assert np.allclose(space.recentre(raw, None, centre), centred, atol=1e-4)


def test_centring_removes_what_every_face_shares():
    rng = np.random.default_rng(1)
    shared = _unit(rng.normal(size=16))
    faces = _unit(3 * shared + rng.normal(size=(50, 16)))  # strangers all alike through `shared`
    centre = faces.mean(axis=0)
    before = faces @ faces.T
    after = space.centred(faces, centre) @ space.centred(faces, centre).T
    off = ~np.eye(50, dtype=bool)
    assert before[off].mean() > 0.3 and abs(after[off].mean()) < 0.05
    assert space.centre_id(centre) == space.centre_id(centre.astype(np.float32).copy())
    assert space.centre_id(None) is None and len(space.centre_id(centre)) == 16
