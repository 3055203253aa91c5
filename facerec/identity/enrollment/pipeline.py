"""The enrollment pipeline: photos -> their faces that pass the gate -> one sample each -> the store.

It lives apart from the recognizer, which only composes: the pipeline is handed the parts it
uses (store, detector, embedder, the liveness networks when asked for), never the recognizer, so
dependencies point down and each step can be read on its own. Photos are read and decoded on the
file threads while the networks work, detected in batches, embedded together, and added in one
transaction (all or nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from facerec.detection import choose
from facerec.errors import FacerecError
from facerec.identity import matching, quality
from facerec.identity.duplicates import Claim
from facerec.identity.enrollment.results import EnrollReport, Skipped, Upload
from facerec.images import DEFAULT_MAX_PIXELS, image_size, png, read_image_file
from facerec.types import Face

if TYPE_CHECKING:
    from facerec.detection.mtcnn import MTCNN
    from facerec.embedding.embedder import Embedder
    from facerec.liveness import LivenessChecker
    from facerec.store import Store
    from facerec.store.records import StoredSample

# Photos an enrollment decodes and then detects together: the detector shares a batch among its
# workers, one photo each (enrol 17 -> 21 photos/s on 2 cores); a few decoded photos at a time,
# and no more pixels than one photo at the pixel limit (a batch of large photos is smaller).
ENROLL_DETECT_BATCH = 8
ENROLL_BATCH_PIXELS = DEFAULT_MAX_PIXELS

Candidate = tuple[Face, np.ndarray, dict]  # a face, its aligned crop, its quality figures
Chosen = list[tuple["_Enrollment", int]]  # a photo and the index of the candidate it gives
# Who each face would be, if enrolled as a name, and the threshold that decided (see claims.claims).
ClaimsOf = Callable[[str, np.ndarray, int], tuple[list[Claim | None], float]]


@dataclass
class _Enrollment:
    """A photo being enrolled: the faces that may become its sample (crop, quality figures) and,
    once embedded, their vectors."""

    source: str
    digest: str
    candidates: list[Candidate]
    several: bool  # the photo has several confident faces: which one is the person is chosen later
    largest_issues: list[str]  # why the largest face fails the quality gate (empty: it passes)
    vectors: np.ndarray | None = None

    @property
    def embedded(self) -> np.ndarray:
        if self.vectors is None:
            raise RuntimeError(f"{self.source}: its faces are not embedded yet")
        return self.vectors


@dataclass(frozen=True)
class _Photo:
    source: str
    data: bytes
    pixels: np.ndarray
    error: FacerecError | None = None


def _pixels(item: str | Path | Upload) -> int:
    """A photo's pixel count from its header (0 if it has none: it fails later, with a reason)."""
    try:
        if isinstance(item, tuple):
            size = image_size(item[1])
        elif not Path(item).is_file():  # a FIFO would block here: reading it says what it is
            return 0
        else:
            with Image.open(item) as image:
                size = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 0
    return size[0] * size[1] if size else 0


def batches(images: list) -> Iterator[list]:
    """Enrollment photos in batches of at most ENROL_DETECT_BATCH photos and ENROL_BATCH_PIXELS."""
    batch: list = []
    pixels = 0
    for item in images:
        count = _pixels(item)
        if batch and (len(batch) == ENROLL_DETECT_BATCH or pixels + count > ENROLL_BATCH_PIXELS):
            yield batch
            batch, pixels = [], 0
        batch.append(item)
        pixels += count
    if batch:
        yield batch


@dataclass(frozen=True)
class Enrollment:
    """The parts one enrollment uses. ``load(data, name)`` decodes a photo with the recognizer's
    pixel limit; ``files`` reads and encodes photos beside the networks; ``claims`` says whose
    faces they are already; ``liveness`` gives the liveness networks (loaded on first use), and
    is given only when faces that are not live ones are to be refused."""

    store: Store
    detector: MTCNN
    embedder: Embedder
    quality_gate: quality.QualityGate
    load: Callable[[bytes, str], np.ndarray]
    files: Executor
    claims: ClaimsOf
    liveness: Callable[[], LivenessChecker] | None = None

    def run(
        self,
        name: str,
        images: list[str | Upload],
        revision: int,
        *,
        largest: bool = False,
        allow_duplicate: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> EnrollReport:
        """Enroll the usable ``images`` as ``name`` (a checked name, consenting) in one
        transaction; the store's vectors were checked at ``revision``.

        A photo is used when it holds exactly one face of confidence >= 0.9 that passes the
        quality gate; the others are reported with a reason. With ``largest``, a photo of several
        faces gives the face that looks most like the person's other photos (those of one face,
        and the samples held already), and is skipped if none looks like them (below the model's
        verification threshold); with nothing to compare to, the largest face. Photos already held
        for the person (same sha256) are not added twice. Given the liveness networks, a face that
        is not a live one (a print or a screen) is not used. A face that identification would name
        as someone else (at the store's operating point, against their centroid or one of their
        samples: facerec.identity.duplicates) is refused and the report says who, unless
        ``allow_duplicate`` (twins): otherwise whoever may enroll could give another person's face
        a second name."""
        from facerec.store.samples import Samples

        report = EnrollReport(name)
        pending = self._detect(images, largest, report, progress)
        crops = [crop for item in pending for _face, crop, _figures in item.candidates]
        vectors = iter(self.embedder.embed_crops(np.stack(crops)) if crops else [])
        for item in pending:
            item.vectors = np.stack([next(vectors) for _ in item.candidates])
        chosen = self._choose(name, pending, report)
        if not allow_duplicate:
            chosen = self._not_someone_else(name, chosen, report, revision)
        uploads = {item[0] for item in images if isinstance(item, tuple)}
        samples = self._samples(chosen, uploads)
        if not samples:
            return report
        person, _added, duplicates = Samples(self.store).add(name, samples)
        duplicate_set = set(duplicates)
        for sample, (item, _k) in zip(samples, chosen, strict=True):
            if sample.source_path in duplicate_set:
                report.skipped.append(Skipped(item.source, "already enrolled (same photo)"))
            else:
                report.added.append(item.source)
        report.samples = person.samples
        return report

    def _detect(
        self,
        images: list[str | Upload],
        largest: bool,
        report: EnrollReport,
        progress: Callable[[int, int], None] | None,
    ) -> list[_Enrollment]:
        """Each photo read, decoded and detected in batches: its candidate faces, or a skip saying why not."""
        pending: list[_Enrollment] = []
        done = 0
        for batch in batches(images):
            photos = list(self.files.map(self._read, batch))
            found = iter(self.detector.detect_batch([p.pixels for p in photos if p.error is None]))
            for photo in photos:
                try:
                    if photo.error is not None:
                        raise photo.error
                    pending.append(self._candidates(photo, next(found), largest))
                except FacerecError as exc:
                    report.skipped.append(Skipped(photo.source, str(exc).removeprefix(f"{photo.source}: ")))
                done += 1
                if progress:
                    progress(done, len(images))
        return pending

    def _read(self, item: str | Upload) -> _Photo:
        """A photo to enroll, read once (it is hashed and decoded) and decoded, or why it cannot be."""
        source = item[0] if isinstance(item, tuple) else str(item)
        try:
            data = item[1] if isinstance(item, tuple) else read_image_file(source)
            return _Photo(source, data, self.load(data, source))
        except FacerecError as exc:
            return _Photo(source, b"", np.zeros((0, 0, 3), np.uint8), exc)

    def _candidates(self, photo: _Photo, faces: list[Face], largest: bool) -> _Enrollment:
        """The faces of an enrollment photo that may become the sample: its one face, or with
        ``largest`` each confident face of several that passes the quality gate (and, given the
        liveness networks, is a live one), largest first."""
        face = choose.only_face(faces, photo.source, largest=largest)  # NoFace / MultipleFaces errors
        others = [f for f in choose.confident(faces) if f is not face]
        ordered = [face, *sorted(others, key=lambda f: -f.area)]
        verdicts = self.liveness().check(photo.pixels, ordered) if self.liveness else [None] * len(ordered)
        candidates, largest_issues = [], []
        for candidate, verdict in zip(ordered, verdicts, strict=True):
            crop = self.embedder.crops(photo.pixels, [candidate])[0]
            figures = quality.measure(candidate, crop)
            issues = quality.problems(figures, self.quality_gate)
            if verdict is not None and not verdict.live:
                issues.append(f"not a live face (liveness score {verdict.score:.2f}): a print or a screen?")
            if candidate is face:
                largest_issues = issues
            if not issues:
                candidates.append((candidate, crop, figures))
        if not candidates:
            raise FacerecError("; ".join(largest_issues))
        digest = hashlib.sha256(photo.data).hexdigest()
        return _Enrollment(photo.source, digest, candidates, bool(others), largest_issues)

    def _choose(self, name: str, pending: list[_Enrollment], report: EnrollReport) -> Chosen:
        """Which candidate of each photo becomes the sample (photo, candidate index), in photo order
        (see matching.pick_faces); the photos left out are reported."""
        from facerec.store.samples import Samples

        several = [item.several for item in pending]
        held = Samples(self.store).embeddings(self.embedder.model, person=name)[2] if any(several) else np.zeros((0, 0))
        threshold = self.embedder.threshold
        picks = matching.pick_faces(
            [item.embedded for item in pending], several, [not item.largest_issues for item in pending], held, threshold
        )
        chosen = []
        for item, (pick, similarity) in zip(pending, picks, strict=True):
            if pick is not None:
                chosen.append((item, pick))
            elif similarity is None:
                report.skipped.append(Skipped(item.source, "; ".join(item.largest_issues)))
            else:
                report.skipped.append(
                    Skipped(
                        item.source,
                        f"none of its {len(item.embedded)} usable faces looks like {name}'s other photos "
                        f"(best similarity {similarity:.2f} < {threshold:.2f})",
                    )
                )
        return chosen

    def _not_someone_else(self, name: str, chosen: Chosen, report: EnrollReport, revision: int) -> Chosen:
        """The chosen faces that are not already someone else's (see claims.claims); the others
        are reported with who they are."""
        if not chosen:
            return chosen
        found, threshold = self.claims(name, np.stack([item.embedded[k] for item, k in chosen]), revision)
        kept = []
        for (item, k), claim in zip(chosen, found, strict=True):
            if claim is None:
                kept.append((item, k))
            else:
                report.skipped.append(Skipped(item.source, claim.reason(threshold)))
        return kept

    def _samples(self, chosen: Chosen, uploads: set[str]) -> list[StoredSample]:
        """The samples to store, their crops encoded on the file threads."""
        from facerec.store.records import StoredSample

        encoded = self.files.map(png, [item.candidates[k][1] for item, k in chosen])
        embedder = self.embedder
        return [
            StoredSample(
                embedding=item.embedded[k],
                model=embedder.model,
                centre=embedder.centre_id,
                preprocessing=embedder.provenance,
                crop_png=crop_png,
                source_path=item.source if item.source in uploads else str(Path(item.source).resolve()),
                source_sha256=item.digest,
                box=item.candidates[k][0].box,
                landmarks=item.candidates[k][0].landmarks,
                confidence=item.candidates[k][0].confidence,
                quality=item.candidates[k][2],
            )
            for (item, k), crop_png in zip(chosen, encoded, strict=True)
        ]
