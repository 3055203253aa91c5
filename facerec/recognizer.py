"""FaceRecognizer: the one object the CLI, the HTTP server and Python users call.

It composes the parts (image loading, detector, embedder, identity store and faiss index) and
owns their settings, so callers never wire parts together themselves. Parts load on first use, so
a command that never embeds never loads the embedding model, and one that never matches never
opens the store.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from facerec.detection import choose
from facerec.detection.mtcnn import MTCNN, DetectorConfig
from facerec.detection.mtcnn.area import DETECT_MAX_PIXELS
from facerec.embedding import evaluate, space
from facerec.embedding.cache import EmbeddingCache
from facerec.embedding.embedder import Embedder, Precision, Preprocessing
from facerec.errors import DuplicateIdentityError, FacerecError, StoreError
from facerec.identity import matching, quality
from facerec.identity.enrollment import EnrollReport, EnrolmentImages, Identified, Skipped, enrolment_images
from facerec.images import DEFAULT_MAX_PIXELS, ImageSource, describe, image_size, load_image, read_image_file
from facerec.liveness import LivenessChecker
from facerec.runtime import weights
from facerec.runtime.settings import Backend, available_cpus, resolve, single_threaded_blas
from facerec.types import Face, Liveness, Verification

log = logging.getLogger(__name__)

# Photos an enrolment decodes and then detects together: the detector shares a batch among its
# workers, one photo each (enrol 17 -> 21 photos/s on 2 cores); a few decoded photos at a time,
# and no more pixels than one photo at the pixel limit (a batch of large photos is smaller).
ENROL_DETECT_BATCH = 8
ENROL_BATCH_PIXELS = DEFAULT_MAX_PIXELS
# A decode above this many pixels holds hundreds of MB while it runs: one at a time per
# recognizer, so a burst of large uploads queues for memory instead of multiplying it.
LARGE_DECODE_PIXELS = DETECT_MAX_PIXELS
# People whose centroids and samples an enrolment photo is compared with (the nearest centroids),
# to find a face that is someone else's already (facerec.identity.duplicates).
DUPLICATE_SUSPECTS = 5


@dataclass
class _Enrolment:
    """A photo being enrolled: the faces that may become its sample (crop, quality figures) and,
    once embedded, their vectors."""

    source: str
    digest: str
    candidates: list[tuple[Face, np.ndarray, dict]]
    several: bool  # the photo has several confident faces: which one is the person is chosen later
    largest_issues: list[str]  # why the largest face fails the quality gate (empty: it passes)
    vectors: np.ndarray | None = None


@dataclass(frozen=True)
class _Photo:
    source: str
    data: bytes
    pixels: np.ndarray
    error: FacerecError | None = None


def _pixels(item: str | Path | tuple[str, bytes]) -> int:
    """A photo's pixel count from its header (0 if it has none: it fails later, with a reason)."""
    try:
        if isinstance(item, tuple):
            size = image_size(item[1])
        elif not Path(item).is_file():  # a FIFO would block here: _read says what it is
            return 0
        else:
            with Image.open(item) as image:
                size = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 0
    return size[0] * size[1] if size else 0


def _batches(images: list) -> Iterator[list]:
    """Enrolment photos in batches of at most ENROL_DETECT_BATCH photos and ENROL_BATCH_PIXELS."""
    batch: list = []
    pixels = 0
    for item in images:
        count = _pixels(item)
        if batch and (len(batch) == ENROL_DETECT_BATCH or pixels + count > ENROL_BATCH_PIXELS):
            yield batch
            batch, pixels = [], 0
        batch.append(item)
        pixels += count
    if batch:
        yield batch


class FaceRecognizer:
    """Detect faces, turn them into vectors, compare them, enrol people and identify them.

    >>> recognizer = FaceRecognizer()               # db="postgresql+psycopg://..." for PostgreSQL
    >>> recognizer.detect("group.jpg")              # faces: box, confidence, landmarks
    >>> recognizer.embed("group.jpg")               # the same faces, each with .embedding
    >>> recognizer.verify("a.jpg", "b.jpg").same    # one face each; cosine similarity vs threshold
    >>> recognizer.enroll("alice", ["alice1.jpg", "alice2.jpg"])   # one transaction
    >>> [i.match.name for i in recognizer.identify("group.jpg")]  # names, None for unknown

    Its detector searches from the quality gate's smallest face (40 px unless ``quality_gate``
    says otherwise; ``detector`` overrides it), not from MTCNN's 20 px. Enrolment refuses smaller
    faces as references, and recognition services search from the same size (AWS Rekognition
    40 x 40 px, Azure Face 36 x 36 px). Searching from 20 px adds the pyramid's two largest
    levels, half of detection's work (640x480: 31 against 17 ms), and found no face more in the
    134 photos of ../shared/data outside LFW (221 faces): the cascade's refinement still reaches
    smaller faces, down to the ~20 px faces of a test photo.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        device: str = "cpu",
        backend: Backend = "auto",
        threads: int | None = None,
        precision: Precision = "auto",
        detector: DetectorConfig | None = None,
        margin: float | None = None,
        align: str | None = None,
        flip: bool | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        db: str | None = None,
        quality_gate: quality.QualityGate | None = None,
        liveness_threshold: float | None = None,
        index: str = "auto",
    ) -> None:
        self.device, _ = resolve(device, backend, threads)  # bad settings fail here, not at first use
        self.backend, self.threads = backend, threads  # as asked: each model resolves "auto" itself
        self.db_url = db
        if index not in ("auto", "faiss", "pgvector"):
            raise FacerecError(f"unknown index {index!r}; use auto, faiss or pgvector")
        self.index_kind = index
        self.quality_gate = quality_gate or quality.QualityGate()
        self._store = None
        self._index = None
        self._model_checked_at: int | None = None
        self._calibration: tuple[int | None, dict | None] | None = None  # (revision, setting)
        self.max_pixels = max_pixels
        self._large_decodes = threading.Lock()
        self.model_name = model
        self.precision = precision
        self._overrides = {"margin": margin, "align": align, "flip": flip}
        self._detector_config = detector or DetectorConfig(min_face_size=self.quality_gate.min_face_px)
        self._detector: MTCNN | None = None
        self._embedder: Embedder | None = None
        self._liveness: LivenessChecker | None = None
        self.liveness_threshold = liveness_threshold  # None: the vendor's rule (see LivenessChecker)

    @property
    def detector(self) -> MTCNN:
        if self._detector is None:
            self._detector = MTCNN(self._detector_config, self.device, backend=self.backend, threads=self.threads)
        return self._detector

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            spec = weights.model_spec(self.model_name or weights.default_model())
            preprocessing = Preprocessing.from_manifest(spec).with_overrides(**self._overrides)
            self._embedder = Embedder(spec, preprocessing=preprocessing, **self._model_options())
        return self._embedder

    @property
    def liveness_checker(self) -> LivenessChecker:
        """The liveness networks (loaded on first use: a store without --liveness never loads them)."""
        if self._liveness is None:
            self._liveness = LivenessChecker(
                self.device, backend=self.backend, threads=self.threads, threshold=self.liveness_threshold
            )
        return self._liveness

    @functools.cached_property
    def _files(self) -> ThreadPoolExecutor:
        """Threads for decoding and encoding images (Pillow lets go of the GIL while it does), so
        an enrolment reads the next photos and writes crops while the networks are busy."""
        return ThreadPoolExecutor(self.threads or available_cpus(), "facerec-files")

    def _model_options(self) -> dict:
        return {"device": self.device, "precision": self.precision, "backend": self.backend, "threads": self.threads}

    @property
    def store(self):
        """The identity store (opened, and migrated if older, on first use)."""
        if self._store is None:
            from facerec.store import Store

            self._store = Store(self.db_url)
        return self._store

    @property
    def index(self):
        """The index identification searches (one centroid per person), in step with the store."""
        return self._person_index().current()

    @property
    def person_index(self):
        """That index as it is held now (not brought up to date), e.g. to rebuild it."""
        return self._person_index()

    def check_store(self) -> int:
        """Refuse a store of another kind of vector than this recognizer's (StoreError); returns
        the store revision checked."""
        return self._check_model()

    def _person_index(self):
        if self._index is None:
            from facerec.identity.index import PersonIndex, index_stem

            store, embedder = self.store, self.embedder
            use = self.index_kind
            if use == "auto":
                use = "pgvector" if store.pgvector_available() else "faiss"
            if use == "pgvector":
                from facerec.identity.pg_index import PgVectorIndex

                self._index = PgVectorIndex(store, embedder.model, embedder.centre_id, embedder.dimension)
                return self._index
            stem = index_stem(store, f"{embedder.model}-{embedder.centre_id or 'raw'}")
            self._index = PersonIndex(store, embedder.model, embedder.centre_id, stem)
        return self._index

    def _check_model(self) -> int:
        """Vectors of different kinds (another model, or the same model on another centre) never
        mix: refuse to work across them. Returns the store revision checked, so the caller's index
        is brought to that same revision (one read).

        Scanning the samples' kinds is O(samples), so it is done once per store revision."""
        revision = self.store.revision()
        if self._model_checked_at == revision:
            return revision
        embedder = self.embedder
        held = self.store.kinds() - {(embedder.model, embedder.centre_id)}
        if held:
            raise StoreError(_mixed_kinds_message(held, embedder))
        self._model_checked_at = revision
        return revision

    def enroll(
        self,
        name: str,
        images: EnrolmentImages,
        *,
        largest: bool = False,
        liveness: bool = False,
        allow_duplicate: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> EnrollReport:
        """Add every usable photo to a person, in one transaction (all or nothing).

        A photo is used when it holds exactly one face of confidence >= 0.9 that passes the
        quality gate; the others are reported with a reason. With ``largest``, a photo of several
        faces gives the face that looks most like the person's other photos (those of one face,
        and the samples held already), and is skipped if none looks like them (below the model's
        verification threshold); with nothing to compare to, the largest face. Photos already held
        for the person (same sha256) are not added twice. ``images`` is a folder (every file under
        it, recursively), a file, ``(label, bytes)`` for a photo that never was a file (an HTTP
        upload), or a list of those; anything else is a TypeError. With ``liveness``, a face that is not a
        live one (a print or a screen) is not used; off by default, as enrolment photos are often
        scans and press photos, which the liveness networks often call attacks. A face that
        identification would name as someone else (at the store's operating point, against their
        centroid or one of their samples: facerec.identity.duplicates) is refused and the report
        says who, unless ``allow_duplicate`` (twins): otherwise whoever may enrol could give
        another person's face a second name.
        """
        from facerec.store.records import StoredSample
        from facerec.store.repository import check_name

        images = enrolment_images(images)  # before anything else: a TypeError is a caller's mistake
        name = check_name(name)
        self.store.check_consent(name)  # before any photo is read: refused is refused at once
        revision = self._check_model()
        report = EnrollReport(name)
        pending: list[_Enrolment] = []
        uploads = {item[0] for item in images if isinstance(item, tuple)}
        done = 0
        for batch in _batches(images):
            photos = list(self._files.map(self._read, batch))
            found = iter(self.detector.detect_batch([p.pixels for p in photos if p.error is None]))
            for photo in photos:
                try:
                    if photo.error is not None:
                        raise photo.error
                    pending.append(self._candidates(photo, next(found), largest, liveness))
                except FacerecError as exc:
                    report.skipped.append(Skipped(photo.source, str(exc).removeprefix(f"{photo.source}: ")))
                done += 1
                if progress:
                    progress(done, len(images))
        crops = [crop for item in pending for _face, crop, _figures in item.candidates]
        vectors = iter(self.embedder.embed_crops(np.stack(crops)) if crops else [])
        for item in pending:
            item.vectors = np.stack([next(vectors) for _ in item.candidates])
        chosen = self._choose(name, pending, report)
        if not allow_duplicate:
            chosen = self._not_someone_else(name, chosen, report, revision)
        encoded = self._files.map(png, [item.candidates[k][1] for item, k in chosen])  # beside the samples, below
        samples = [
            StoredSample(
                embedding=item.vectors[k],
                model=self.embedder.model,
                centre=self.embedder.centre_id,
                preprocessing=self.embedder.provenance,
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
        if not samples:
            return report
        person, _added, duplicates = self.store.add_samples(name, samples)
        duplicate_set = set(duplicates)
        for sample, (item, _k) in zip(samples, chosen, strict=True):
            if sample.source_path in duplicate_set:
                report.skipped.append(Skipped(item.source, "already enrolled (same photo)"))
            else:
                report.added.append(item.source)
        report.samples = person.samples
        return report

    def _candidates(self, photo: _Photo, faces: list[Face], largest: bool, liveness: bool) -> _Enrolment:
        """The faces of an enrolment photo that may become the sample: its one face, or with
        ``largest`` each confident face of several that passes the quality gate (and with
        ``liveness`` is a live one), largest first."""
        face = choose.only_face(faces, photo.source, largest=largest)  # NoFace / MultipleFaces errors
        others = [f for f in choose.confident(faces) if f is not face]
        ordered = [face, *sorted(others, key=lambda f: -f.area)]
        verdicts = self.liveness_checker.check(photo.pixels, ordered) if liveness else [None] * len(ordered)
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
        return _Enrolment(photo.source, digest, candidates, bool(others), largest_issues)

    def _choose(self, name: str, pending: list[_Enrolment], report: EnrollReport) -> list[tuple[_Enrolment, int]]:
        """Which candidate of each photo becomes the sample (photo, candidate index), in photo order
        (see matching.pick_faces); the photos left out are reported."""
        several = [item.several for item in pending]
        held = self.store.embeddings(self.embedder.model, person=name)[2] if any(several) else np.zeros((0, 0))
        threshold = self.embedder.threshold
        picks = matching.pick_faces(
            [item.vectors for item in pending], several, [not item.largest_issues for item in pending], held, threshold
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
                        f"none of its {len(item.vectors)} usable faces looks like {name}'s other photos "
                        f"(best similarity {similarity:.2f} < {threshold:.2f})",
                    )
                )
        return chosen

    def claims(self, name: str, vectors: np.ndarray, revision: int | None = None) -> tuple[list, float]:
        """Who each of these faces (unit vectors of this recognizer's kind) already is, if enrolled
        as ``name`` they would be someone else's (facerec.identity.duplicates: a duplicate.Claim or
        None each), and the threshold that decided: the operating point identification uses now.
        The nearest centroids name the suspects; their samples are compared too."""
        from facerec.identity import duplicates
        from facerec.store.repository import check_name

        revision = self._check_model() if revision is None else revision
        index = self._person_index().current(revision)
        vectors = np.asarray(vectors, np.float32).reshape(len(vectors), -1)
        if not len(vectors) or not len(index):
            return [None] * len(vectors), float("nan")
        threshold = self.identify_threshold(len(index), revision)
        with single_threaded_blas():
            nearest = index.search(vectors, DUPLICATE_SUSPECTS)

        def samples_of(other: str) -> np.ndarray:
            return self.store.embeddings(self.embedder.model, person=other)[2]

        return duplicates.claimed(check_name(name), vectors, nearest, samples_of, threshold), threshold

    def refuse_someone_else(self, name: str, vectors: np.ndarray, what: Sequence[str]) -> None:
        """DuplicateIdentityError, naming who, if any of these faces would be identified as someone
        other than ``name`` (see :meth:`claims`); ``what`` labels each face for the message."""
        found, threshold = self.claims(name, vectors)
        refused = [f"{label}: {claim.reason(threshold)}" for label, claim in zip(what, found, strict=True) if claim]
        if refused:
            raise DuplicateIdentityError("; ".join(refused))

    def _not_someone_else(
        self, name: str, chosen: list[tuple[_Enrolment, int]], report: EnrollReport, revision: int
    ) -> list[tuple[_Enrolment, int]]:
        """The chosen faces that are not already someone else's (see :meth:`claims`); the others
        are reported with who they are."""
        if not chosen:
            return chosen
        found, threshold = self.claims(name, np.stack([item.vectors[k] for item, k in chosen]), revision)
        kept = []
        for (item, k), claim in zip(chosen, found, strict=True):
            if claim is None:
                kept.append((item, k))
            else:
                report.skipped.append(Skipped(item.source, claim.reason(threshold)))
        return kept

    def _read(self, item: str | Path | tuple[str, bytes]) -> _Photo:
        """A photo to enrol, read once (it is hashed and decoded) and decoded, or why it cannot be."""
        source = item[0] if isinstance(item, tuple) else str(item)
        try:
            data = item[1] if isinstance(item, tuple) else read_image_file(source)
            return _Photo(source, data, self.load(data, name=source))
        except FacerecError as exc:
            return _Photo(source, b"", np.zeros((0, 0, 3), np.uint8), exc)

    def identify(
        self, image: ImageSource, *, top_k: int = 1, threshold: float | None = None, liveness: bool = False
    ) -> list[Identified]:
        """Who is each confident face of the photo: a name, or unknown below the threshold; with
        ``liveness``, whether each face is a live one too (on the same detections)."""
        revision = self._check_model()
        pixels = self.load(image)
        faces = choose.confident(self.detector.detect(pixels))
        if not faces:
            return []
        verdicts = self.liveness_checker.check(pixels, faces) if liveness else [None] * len(faces)
        vectors = self.embedder.embed_faces(pixels, faces)
        matches = self.match_vectors(vectors, top_k=top_k, threshold=threshold, revision=revision)
        return [
            Identified(face.with_embedding(vector), match, verdict)
            for face, vector, match, verdict in zip(faces, vectors, matches, verdicts, strict=True)
        ]

    def match_vectors(
        self, vectors: np.ndarray, *, top_k: int = 1, threshold: float | None = None, revision: int | None = None
    ) -> list[matching.Match]:
        """Who each of these vectors (this recognizer's embeddings, or a track's fused one) is,
        at the store's operating point unless ``threshold``."""
        if revision is None:
            revision = self._check_model()
        index = self._person_index().current(revision)
        if not len(index):
            raise StoreError("no one is enrolled yet: enrol people first (facerec enroll NAME PHOTOS...)")
        if len(vectors) == 0:
            return []
        with single_threaded_blas():
            ranked = index.search(np.asarray(vectors, np.float32), max(top_k, 2))
        limit = self.identify_threshold(len(index), revision) if threshold is None else check_threshold(threshold)
        return matching.decide_ranked(ranked, limit, top_k)

    def liveness(self, image: ImageSource) -> list[tuple[Face, Liveness]]:
        """Every confident face of an image and whether it is a live one (not a print or a screen)."""
        pixels = self.load(image)
        faces = choose.confident(self.detector.detect(pixels))
        return list(zip(faces, self.liveness_checker.check(pixels, faces), strict=True))

    def identify_threshold(self, people: int, revision: int | None = None) -> float:
        """The store's calibrated threshold for this model's vectors if there is one, else the
        model's operating point for ``people`` enrolled (matching.operating_point).

        Given the store ``revision`` the caller has read, the setting is read once per revision
        (storing it bumps the revision), not once per photo. A calibration made for other vectors
        (before they were re-centred) is not used: its similarities are on another scale."""
        if revision is None or self._calibration is None or self._calibration[0] != revision:
            calibrated = self.store.setting(f"threshold:{self.embedder.model}")
            if calibrated and calibrated.get("centre") != self.embedder.centre_id:
                log.warning("the calibrated threshold was made for other vectors; run `facerec calibrate` again")
                calibrated = None
            self._calibration = (revision, calibrated)
        calibrated = self._calibration[1]
        return float(calibrated["threshold"]) if calibrated else matching.operating_point(self.embedder.spec, people)

    def calibrate(self, far: float = 0.01, folder: Path | None = None) -> dict:
        """Pick the identification threshold at an open-set false accept rate ``far`` measured on
        your own people, and store it (it then replaces the model's operating point).

        Each person in turn plays the stranger: their photos are matched against everyone else's
        centroid, and the threshold is the lowest that names at most ``far`` of those photos. The
        people are the enrolled gallery, or a labelled folder (``folder/<person>/<photos>``)."""
        if not 0 < far < 1:
            raise FacerecError(f"--far must be between 0 and 1, got {far}")
        if folder is None:
            self._check_model()
            _ids, names, vectors = self.store.embeddings(self.embedder.model)
            gallery, source = matching.Gallery.build(names, vectors), "gallery"
        else:
            names, vectors = [], []
            for person in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
                for photo in sorted(person.iterdir()):
                    try:
                        pixels = self.load(photo)
                    except FacerecError:
                        continue
                    face = choose.centre_weighted(self.detector.detect(pixels), pixels.shape[1], pixels.shape[0])
                    if face is not None:
                        names.append(person.name)
                        vectors.append(self.embedder.embed_faces(pixels, [face])[0])
            gallery = matching.Gallery.build(names, np.stack(vectors) if vectors else np.zeros((0, 0), np.float32))
            source = str(folder)
        if gallery is None or len(gallery) < 2:
            raise StoreError("calibration needs at least two people with photos")
        value = {
            "threshold": matching.open_set_threshold(gallery, far),
            "far": far,
            "source": source,
            "people": len(gallery),
            "samples": int(len(gallery.samples)),
            "centre": self.embedder.centre_id,  # the vectors it was measured on
        }
        self.store.put_setting(f"threshold:{self.embedder.model}", value)
        return value

    def reembed(self, model: str | None = None, progress: Callable[[int, int], None] | None = None) -> Reembedded:
        """Bring every stored vector (samples and unknown sightings) to one model's kind, in one
        transaction each: the same model's vectors on another centre (or none: stores of facerec
        before centring) are re-centred exactly, without their crops; any other is embedded again
        from its stored crop. ``model`` None: this recognizer's model. A calibrated threshold made
        for the old kind is dropped (calibrate again)."""
        target = self.embedder if model is None else Embedder(model, **self._model_options())
        from facerec.store.attendance_log import AttendanceLog

        log = AttendanceLog(self.store)
        samples, sample_crops = _moved(self.store.models(), self.store.vectors, self.store.crops, target)
        sightings, sighting_crops = _moved(log.sighting_models(), log.sighting_vectors, log.snapshots, target)
        again = sample_crops + sighting_crops
        missing = sum(1 for _, png in sample_crops if not png)
        if missing:
            raise StoreError(
                f"{missing} samples have no photo (the store keeps no photos: facerec privacy --keep-photos off), "
                f"so they cannot be embedded again with {target.model}: enrol those people again from their photos"
            )
        vectors: dict[int, np.ndarray] = {}
        for start in range(0, len(again), 64):
            chunk = again[start : start + 64]
            crops = np.stack([np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for _, png in chunk])
            vectors.update(zip((i for i, _ in chunk), target.embed_crops(crops), strict=True))
            if progress:
                progress(min(start + 64, len(again)), len(again))
        key = f"threshold:{target.model}"
        calibrated = self.store.setting(key)
        stale = [key] if calibrated and calibrated.get("centre") != target.centre_id else []
        for sample_id, _ in sample_crops:
            samples[sample_id] = vectors.pop(sample_id)
        count = self.store.replace_embeddings(target.model, target.centre_id, samples, drop_settings=stale)
        for sighting_id, _ in sighting_crops:
            sightings[sighting_id] = vectors.pop(sighting_id)
        log.replace_sighting_embeddings(target.model, target.centre_id, sightings)
        if model is not None:
            self.model_name, self._embedder = model, target
        self._index = None
        self._model_checked_at = None
        self._calibration = None
        return Reembedded(target.model, count - len(sample_crops), len(sample_crops), len(sightings), bool(stale))

    @property
    def preprocessing(self) -> Preprocessing:
        return self.embedder.preprocessing

    def load(self, image: ImageSource, name: str | None = None) -> np.ndarray:
        """Decode any supported input with this recognizer's pixel limit (``name`` for messages);
        large images one at a time (see LARGE_DECODE_PIXELS)."""
        if isinstance(image, (str, os.PathLike)):
            name, image = name or describe(image), read_image_file(image)
        if isinstance(image, (bytes, bytearray)):
            size = image_size(bytes(image))
            if size and size[0] * size[1] > LARGE_DECODE_PIXELS:
                with self._large_decodes:
                    return load_image(image, max_pixels=self.max_pixels, name=name)
        return load_image(image, max_pixels=self.max_pixels, name=name)

    def detect(self, image: ImageSource) -> list[Face]:
        """Every face in one image, most confident first."""
        return self.detector.detect(self.load(image))

    def detect_many(self, images: Sequence[ImageSource]) -> list[list[Face]]:
        """Every face in each image; images may differ in size and are batched together."""
        return self.detector.detect_batch([self.load(image) for image in images])

    def embed_faces(self, pixels: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        vectors = self.embedder.embed_faces(pixels, faces)
        return [face.with_embedding(vector) for face, vector in zip(faces, vectors, strict=True)]

    def embed(self, image: ImageSource) -> list[Face]:
        """Every face in one image, each with its embedding (a unit vector)."""
        pixels = self.load(image)
        return self.embed_faces(pixels, self.detector.detect(pixels))

    def embed_one(self, image: ImageSource, *, largest: bool = False) -> Face:
        """The one face of an image, embedded; NoFaceError / MultipleFacesError otherwise."""
        pixels = self.load(image)
        face = choose.only_face(self.detector.detect(pixels), describe(image), largest=largest)
        return self.embed_faces(pixels, [face])[0]

    def verify(self, first: ImageSource | Face, second: ImageSource, *, largest: bool = False) -> Verification:
        """Are the faces of two photos the same person? Cosine similarity against the model's threshold.
        ``first`` may be a face embedded already (one reference against many photos)."""
        embedded = isinstance(first, Face) and first.embedding is not None
        a = first if embedded else self.embed_one(first, largest=largest)  # type: ignore[arg-type]
        b = self.embed_one(second, largest=largest)
        similarity = float(np.dot(a.embedding, b.embedding))
        threshold = self.embedder.threshold
        return Verification(similarity >= threshold, similarity, threshold, self.embedder.model, a, b)

    def evaluate_pairs(
        self,
        pairs: Sequence[evaluate.Pair],
        *,
        far: float = 1e-3,
        cache: EmbeddingCache | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[evaluate.Result, list[str]]:
        """Verification accuracy on labelled pairs (LFW protocol). Returns the result and the
        photos where the detector found no face.

        Each photo gives one face: of several, the largest near the centre; of none, the usual
        face region of a centred photo (:func:`facerec.detection.choose.centre_face`), counted as missed.
        """
        files = sorted({path for pair in pairs for path in (pair.first, pair.second)})
        settings = {"model": self.embedder.model, "sha256": self.embedder.spec.files["weights"].sha256}
        settings |= {"centre": self.embedder.centre_id, "precision": self.embedder.precision}
        settings |= {"preprocessing": repr(self.preprocessing), "detector": repr(self._detector_config)}
        vectors: dict = {}
        missed: list[str] = []
        for done, path in enumerate(files, start=1):
            entry = cache.get(path, settings) if cache else None
            if entry is None:
                pixels = self.load(path)
                face = choose.centre_weighted(self.detector.detect(pixels), pixels.shape[1], pixels.shape[0])
                found = face is not None
                face = face or choose.centre_face(pixels.shape[1], pixels.shape[0])
                entry = (self.embedder.embed_faces(pixels, [face])[0], found)
                if cache:
                    cache.put(path, settings, *entry)
            vectors[path] = entry[0]
            if not entry[1]:
                missed.append(str(path))
            if progress:
                progress(done, len(files))
        if cache:
            cache.save()
        similarities = np.array([float(vectors[p.first] @ vectors[p.second]) for p in pairs])
        same = np.array([p.same for p in pairs])
        folds = np.array([p.fold for p in pairs])
        return evaluate.evaluate(similarities, same, folds, far), missed


@dataclass(frozen=True)
class Reembedded:
    """What :meth:`FaceRecognizer.reembed` changed."""

    model: str
    recentred: int  # samples moved to the model's centre arithmetically
    reembedded: int  # samples embedded again from their crops
    sightings: int  # unknown sightings changed either way
    calibration_dropped: bool  # a calibrated threshold for the old vectors was removed

    @property
    def samples(self) -> int:
        return self.recentred + self.reembedded


def _moved(
    models: set[str], read: Callable, crops_of: Callable, target: Embedder
) -> tuple[dict[int, np.ndarray], list[tuple[int, bytes]]]:
    """The vectors that are not of ``target``'s kind: those of its model on a centre we know
    (none, or its own), re-centred; and (id, crop) of the others, to be embedded again.
    ``read(model)`` gives (ids, centres, vectors) of one model, ``crops_of(ids)`` (id, crop) pairs."""
    known = {None: None, target.centre_id: target.centre}
    moved: dict[int, np.ndarray] = {}
    again: list[int] = []
    for model in sorted(models):
        ids, centres, vectors = read(model)
        for centre in set(centres):
            rows = np.array([c == centre for c in centres])
            if model != target.model or centre not in known:
                again.extend(ids[rows].tolist())
            elif centre != target.centre_id:
                recentred = space.recentre(vectors[rows], known[centre], target.centre)
                moved.update(zip(ids[rows].tolist(), recentred, strict=True))
    return moved, crops_of(again) if again else []


def _mixed_kinds_message(held: set[tuple[str, str | None]], embedder: Embedder) -> str:
    from facerec.store.repository import describe_kinds

    mine = (embedder.model, embedder.centre_id)
    if any(model == embedder.model for model, _ in held):
        return (
            f"the store holds vectors of {describe_kinds(held)}, but {describe_kinds({mine})} makes them now "
            "(facerec centres embeddings since 0.2): run `facerec reembed` to re-centre them (exact, in seconds: "
            "no photo or crop is embedded again)"
        )
    name = sorted(model for model, _ in held)[0]
    return (
        f"the store holds embeddings of model {', '.join(sorted({m for m, _ in held}))}, not {embedder.model}; "
        f"use that model (--model {_model_hint(name)}) or re-embed the store with `facerec reembed`"
    )


def check_threshold(threshold: float) -> float:
    """A similarity threshold someone typed: a number in [-1, 1] (NaN would make everyone unknown)."""
    if not (isinstance(threshold, int | float) and math.isfinite(threshold) and -1 <= threshold <= 1):
        raise FacerecError(f"a threshold is a cosine similarity between -1 and 1, got {threshold!r}")
    return float(threshold)


def _model_hint(name: str) -> str:
    """How to name a model on the command line: its manifest name, or the file a trained one is in."""
    if name in weights.model_names():
        return name
    return f"FILE, the model file made by facerec train that is named {name}: its file name, then its sha256's start"


def png(crop: np.ndarray) -> bytes:
    """Lossless, so a re-embedding sees the very pixels; the fastest zlib level, since level 6
    cost 7 ms a crop (a tenth of enrolling a photo) for files only 10% smaller."""
    out = io.BytesIO()
    Image.fromarray(crop).save(out, "PNG", compress_level=1)
    return out.getvalue()
