"""A portable archive of the identity store: one zip with a JSON document, the embeddings as one
.npy array, and every aligned crop as a PNG. Written to a temporary file and renamed, so a failed
export never leaves half an archive behind.

``Archive`` is the store's side of it: people and samples dumped as plain data (opened from their
seals) and loaded back (sealed again, under this store's key and privacy settings); ``write`` and
``read`` are the file's side, and know nothing of the database.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from facerec.errors import StoreError
from facerec.files import write_atomically
from facerec.store import outbox, policy
from facerec.store.models import CROP, EMBEDDING, FaceSample, Person, aware, utcnow
from facerec.store.names import check_name
from facerec.store.people import find_person
from facerec.store.records import StoredSample
from facerec.store.samples import sealed_row
from facerec.store.vectors import describe_kinds, held_kinds
from facerec.types import corners, xywh

if TYPE_CHECKING:
    from facerec.store.repository import Store

# 2: boxes as [x, y, width, height], the convention of every output (facerec.types.xywh);
# 1 (facerec 0.1): boxes as corners. Both are read.
FORMAT = 2
FORMATS = (1, 2)
DOCUMENT = "facerec-export.json"


def write(people: list[dict], target: Path) -> int:
    """Write dumped people (see Archive.dump) to ``target``; returns the number of samples."""
    vectors: list[np.ndarray] = []
    entries: list[dict] = []
    for person in people:
        samples = []
        for sample in person["samples"]:
            index = len(vectors)
            vectors.append(np.asarray(sample["embedding"], np.float32))
            meta = {k: v for k, v in sample.items() if k not in ("embedding", "crop_png")}
            meta["box"] = xywh(meta["box"])
            samples.append(meta | {"embedding_row": index, "crop": f"crops/{index:06d}.png"})
        entries.append({k: v for k, v in person.items() if k != "samples"} | {"samples": samples})

    def zipped(temporary: Path) -> None:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(DOCUMENT, json.dumps({"format": FORMAT, "people": entries}, indent=1))
            buffer = io.BytesIO()
            np.save(buffer, np.stack(vectors) if vectors else np.zeros((0, 0), np.float32), allow_pickle=False)
            archive.writestr("embeddings.npy", buffer.getvalue())
            row = 0
            for person in people:
                for sample in person["samples"]:
                    archive.writestr(f"crops/{row:06d}.png", sample["crop_png"])
                    row += 1

    write_atomically(Path(target), zipped)
    return len(vectors)


def read(source: Path) -> list[dict]:
    """People with their samples, as Archive.load takes them; StoreError if it is not an archive."""
    try:
        with zipfile.ZipFile(source) as archive:
            document = json.loads(archive.read(DOCUMENT))
            version = document.get("format")
            if version not in FORMATS:
                raise StoreError(f"{source}: archive format {version!r} is not one of {FORMATS}")
            vectors = np.load(io.BytesIO(archive.read("embeddings.npy")), allow_pickle=False)
            people = []
            for person in document["people"]:
                samples = [
                    {k: v for k, v in s.items() if k not in ("embedding_row", "crop")}
                    | {"embedding": vectors[s["embedding_row"]], "crop_png": archive.read(s["crop"])}
                    | {"box": corners(s["box"]) if version >= 2 else s["box"]}
                    for s in person["samples"]
                ]
                people.append(person | {"samples": samples})
            return people
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, IndexError) as exc:
        raise StoreError(f"{source}: not a facerec export archive ({exc})") from None


class Archive:
    """The people and samples of one store as plain data, out (``dump``) and in (``load``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def dump(self, name: str | None = None) -> list[dict]:
        """Everything the store holds, as plain data (for export): people with their samples (of
        the one person ``name`` only, if given)."""
        with self.store.reading() as session:
            if name is None:
                people = list(session.scalars(select(Person).order_by(Person.name)).all())
            else:
                people = [find_person(session, name)]
            return [self._dumped(person) for person in people]

    def _dumped(self, person: Person) -> dict:
        return {
            "name": person.name,
            "external_id": person.external_id,
            "metadata": person.info,
            "created": aware(person.created_at).isoformat(),
            "updated": aware(person.updated_at).isoformat(),
            "samples": [
                {
                    "embedding": self.store.vector(s.embedding, s.key_id, s.dimension, EMBEDDING).copy(),
                    "model": s.model,
                    "centre": s.centre,
                    "preprocessing": s.preprocessing,
                    "crop_png": self.store.unseal(s.crop, s.key_id, CROP),
                    "source_path": s.source_path,
                    "source_sha256": s.source_sha256,
                    "box": s.box,
                    "landmarks": s.landmarks,
                    "confidence": s.confidence,
                    "quality": s.quality,
                    "created": aware(s.created_at).isoformat(),
                }
                for s in sorted(person.samples, key=lambda s: s.id)
            ],
        }

    def load(self, people: Sequence[dict]) -> tuple[int, int]:
        """Add dumped people and samples in one transaction (merging into people of the same name,
        skipping photos a person holds already). Returns (people touched, samples added).
        Samples of another model (or centre) than the store holds are refused: kinds never mix."""
        added = 0
        touched: set[int] = set()
        enrolled: list[dict] = []
        incoming = {(sample["model"], sample.get("centre")) for entry in people for sample in entry["samples"]}
        with self.store.transaction() as session:
            held = held_kinds(session)
            if held and incoming - held:
                raise StoreError(
                    f"the samples to import hold embeddings of {describe_kinds(incoming)}; "
                    f"the store holds {describe_kinds(held)}"
                )
            for entry in people:
                rules = policy.may_keep(session, check_name(entry["name"]))
                person, new = self._person_in(session, entry)
                if new:
                    enrolled.append({"name": person.name, "person_id": person.id, "samples": len(entry["samples"])})
                count = self._samples_in(session, person, entry["samples"], rules["keep_photos"])
                if count:
                    added += count
                    touched.add(person.id)
                person.updated_at = utcnow()
            if added:
                session.flush()
                self.store.changed(session, "samples", touched)
            for data in enrolled:  # last: outbox.emit's lock is taken after every other (no deadlock)
                outbox.emit(session, "person.enrolled", data)
        return len(people), added

    @staticmethod
    def _person_in(session: Session, entry: dict) -> tuple[Person, bool]:
        """The person an entry names, made from it if new (whether it was new)."""
        name = check_name(entry["name"])
        person = session.scalar(select(Person).where(Person.name == name))
        if person is not None:
            return person, False
        person = Person(name=name, external_id=entry.get("external_id"), info=entry.get("metadata"))
        if entry.get("created"):
            person.created_at = datetime.fromisoformat(entry["created"])
        session.add(person)
        session.flush()
        return person, True

    def _samples_in(self, session: Session, person: Person, samples: Sequence[dict], keep_photos: bool) -> int:
        """Add a person's dumped samples but the photos they hold already; how many were added."""
        held = set(session.scalars(select(FaceSample.source_sha256).where(FaceSample.person_id == person.id)))
        added = 0
        for sample in samples:
            if sample["source_sha256"] in held:
                continue
            held.add(sample["source_sha256"])
            stored = StoredSample(
                embedding=np.asarray(sample["embedding"], dtype="<f4"),
                model=sample["model"],
                centre=sample.get("centre"),  # archives of facerec before 0004 hold raw vectors
                preprocessing=sample["preprocessing"],
                crop_png=sample["crop_png"],
                source_path=sample["source_path"],
                source_sha256=sample["source_sha256"],
                box=sample["box"],
                landmarks=sample["landmarks"],
                confidence=sample["confidence"],
                quality=sample["quality"],
            )
            session.add(sealed_row(self.store, person.id, stored, keep_photos))
            added += 1
        return added
