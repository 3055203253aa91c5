"""A portable archive of the identity store: one zip with a JSON document, the embeddings as one
.npy array, and every aligned crop as a PNG. Written to a temporary file and renamed, so a failed
export never leaves half an archive behind.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from facerec.errors import StoreError
from facerec.files import write_atomically

FORMAT = 1
DOCUMENT = "facerec-export.json"


def write(people: list[dict], target: Path) -> int:
    """Write dumped people (see Store.dump) to ``target``; returns the number of samples."""
    vectors, entries = [], []
    for person in people:
        samples = []
        for sample in person["samples"]:
            index = len(vectors)
            vectors.append(np.asarray(sample["embedding"], np.float32))
            meta = {k: v for k, v in sample.items() if k not in ("embedding", "crop_png")}
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
    """People with their samples, as Store.load takes them; StoreError if it is not an archive."""
    try:
        with zipfile.ZipFile(source) as archive:
            document = json.loads(archive.read(DOCUMENT))
            if document.get("format") != FORMAT:
                raise StoreError(f"{source}: archive format {document.get('format')!r} is not {FORMAT}")
            vectors = np.load(io.BytesIO(archive.read("embeddings.npy")), allow_pickle=False)
            people = []
            for person in document["people"]:
                samples = [
                    {k: v for k, v in s.items() if k not in ("embedding_row", "crop")}
                    | {"embedding": vectors[s["embedding_row"]], "crop_png": archive.read(s["crop"])}
                    for s in person["samples"]
                ]
                people.append(person | {"samples": samples})
            return people
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, IndexError) as exc:
        raise StoreError(f"{source}: not a facerec export archive ({exc})") from None
