"""Open-set identification on lfw_train at the default settings: enrolled people named, strangers not.

Every lfw_train person (139) is enrolled with the first half of their photos, as `facerec enroll
--largest` does, and every photo is identified once with every person as a candidate. A gallery of
N people is then any N of them: a person's centroid is the same whoever else is enrolled, so the
best candidate among the N, against the recognizer's threshold for N people, is the answer a store
holding only those N would give. For each size from 5 to 100, 20 galleries are drawn; a photo of a
gallery member (from the half not enrolled) must be named as that person, a photo of anyone else
must stay unknown. The probe is the photo's subject: the largest face near the centre.
"""

from __future__ import annotations

import numpy as np
import pytest

from facerec import FaceRecognizer
from facerec.detection import choose
from facerec.identity import matching

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)

SIZES = (5, 10, 20, 50, 100)
GALLERIES = 20


def test_strangers_stay_unknown_and_enrolled_people_are_named(data, tmp_path):
    people = sorted(d for d in (data / "lfw_train").iterdir() if d.is_dir())
    assert len(people) == 139
    recognizer = FaceRecognizer(db=f"sqlite:///{tmp_path / 'lfw.db'}")
    photos = []  # (photo, person, enrolled)
    for person in people:
        mine = sorted(person.glob("*.jpg"))
        half = len(mine) // 2
        assert recognizer.enroll(person.name, mine[:half], largest=True).added, person.name
        photos += [(p, person.name, i < half) for i, p in enumerate(mine)]
    names = [p.name for p in people]
    scores = np.full((len(photos), len(names)), -np.inf)  # the subject's similarity to each person
    for row, (photo, _person, _enrolled) in enumerate(photos):
        pixels = recognizer.load(photo)
        found = recognizer.identify(pixels, top_k=len(names))
        subject = choose.centre_weighted([i.face for i in found], pixels.shape[1], pixels.shape[0])
        for item in found:
            if item.face is subject:
                for candidate in item.match.candidates:
                    scores[row, names.index(candidate.name)] = candidate.similarity

    owner = np.array([names.index(person) for _, person, _ in photos])
    enrolled = np.array([e for _, _, e in photos])
    rng = np.random.default_rng(0)
    rates = {}
    for size in SIZES:
        right = genuine = named = strangers = 0
        threshold = recognizer.identify_threshold(size)
        for _ in range(GALLERIES):
            gallery = np.sort(rng.choice(len(names), size, replace=False))
            members = np.isin(owner, gallery)
            probes = (members & ~enrolled) | ~members
            decided = matching.decide(scores[probes][:, gallery], tuple(names[i] for i in gallery), threshold)
            truth = [names[i] if m else None for i, m in zip(owner[probes], members[probes], strict=True)]
            for match, who in zip(decided, truth, strict=True):
                if who is None:
                    strangers += 1
                    named += match.name is not None
                else:
                    genuine += 1
                    right += match.name == who
        rates[size] = {
            "threshold": round(threshold, 4),
            "named_right": right / genuine,
            "strangers_named": named / strangers,
        }
        print(
            f"{size} people: threshold {threshold:.4f}, named right {right / genuine:.4f} ({genuine} photos), "
            f"strangers named {named / strangers:.4f} ({strangers} photos)"
        )
    for size, rate in rates.items():
        assert rate["strangers_named"] <= 0.01, (size, rate)
        assert rate["named_right"] >= 0.95, (size, rate)
