"""Assigning unknown sightings ("this is ..."): enrolling them as a person, under the same
duplicate-identity rule as enrolment from photos (facerec.identity.duplicates), so a sighting of
an enrolled person cannot become a second name for them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facerec.recognizer import FaceRecognizer
from facerec.store.attendance_log import AttendanceLog
from facerec.store.unknowns import UnknownSightings


def assign_sightings(
    recognizer: FaceRecognizer, log: AttendanceLog, sightings: Sequence[int], name: str, allow_duplicate: bool = False
) -> int:
    """Enrol the sightings as ``name`` in one transaction (UnknownSightings.assign_all) and return the
    samples the person holds; DuplicateIdentityError, naming who, if one would be identified as
    someone else, unless ``allow_duplicate`` (twins). A sighting of another kind of vector than
    the recognizer's is left to assign_all, which refuses it."""
    ids = list(dict.fromkeys(int(i) for i in sightings))
    unknowns = UnknownSightings(log.store)
    if not allow_duplicate:
        rows = [unknowns.get(i) for i in ids]
        kind = (recognizer.embedder.model, recognizer.embedder.centre_id)
        mine = [row for row in rows if (row.model, row.centre) == kind]
        if mine:
            vectors = np.stack([row.embedding for row in mine])
            recognizer.refuse_someone_else(name, vectors, [f"sighting {row.id}" for row in mine])
    return unknowns.assign_all(ids, name)
