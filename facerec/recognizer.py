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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from facerec import choose, evaluate, matching, quality, weights
from facerec.embedder import Embedder, Precision, Preprocessing
from facerec.embedding_cache import EmbeddingCache
from facerec.enrollment import EnrollReport, Identified, Skipped
from facerec.errors import FacerecError, StoreError
from facerec.images import DEFAULT_MAX_PIXELS, ImageSource, describe, load_image, read_image_file
from facerec.mtcnn import MTCNN, DetectorConfig
from facerec.runtime import Backend, available_cpus, resolve, single_threaded_blas
from facerec.types import Face, Verification

# Photos an enrolment decodes and then detects together: the detector shares a batch among its
# workers, one photo each (enrol 17 -> 21 photos/s on 2 cores); a few decoded photos at a time.
ENROL_DETECT_BATCH = 8


@dataclass(frozen=True)
class _Photo:
    source: str
    data: bytes
    pixels: np.ndarray
    error: FacerecError | None = None


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
        precision: Precision = "fp32",
        detector: DetectorConfig | None = None,
        margin: float | None = None,
        align: str | None = None,
        flip: bool | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        db: str | None = None,
        quality_gate: quality.QualityGate | None = None,
        aggregate: matching.Aggregate = "centroid",
    ) -> None:
        self.device, _ = resolve(device, backend, threads)  # bad settings fail here, not at first use
        self.backend, self.threads = backend, threads  # as asked: each model resolves "auto" itself
        self.db_url = db
        self.quality_gate = quality_gate or quality.QualityGate()
        self.aggregate = aggregate
        self._store = None
        self._index = None
        self._model_checked_at: int | None = None
        self._calibration: tuple[int | None, dict | None] | None = None  # (revision, setting)
        self.max_pixels = max_pixels
        self.model_name = model
        self.precision = precision
        self._overrides = {"margin": margin, "align": align, "flip": flip}
        self._detector_config = detector or DetectorConfig(min_face_size=self.quality_gate.min_face_px)
        self._detector: MTCNN | None = None
        self._embedder: Embedder | None = None

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
        """The faiss index of this model's samples, in step with the store."""
        return self._face_index().current()

    def _face_index(self):
        if self._index is None:
            from facerec.index import FaceIndex
            from facerec.store.repository import facerec_home

            store = self.store
            database = store.engine.url.database if store.engine.url.get_backend_name() == "sqlite" else None
            if database and database != ":memory:":
                folder = Path(database).resolve().parent
            else:
                folder = facerec_home() / "indexes" / hashlib.sha256(store.url.encode()).hexdigest()[:16]
            self._index = FaceIndex(store, self.embedder.model, folder)
        return self._index

    def _check_model(self) -> int:
        """Embeddings of different models never mix: refuse to work across them. Returns the store
        revision checked, so the caller's index is brought to that same revision (one read).

        Scanning the samples' models is O(samples), so it is done once per store revision."""
        revision = self.store.revision()
        if self._model_checked_at == revision:
            return revision
        held = self.store.models() - {self.embedder.model}
        if held:
            raise StoreError(
                f"the store holds embeddings of model {', '.join(sorted(held))}, not {self.embedder.model}; "
                f"use that model (--model {_model_hint(sorted(held)[0])}) or re-embed the store with `facerec reembed`"
            )
        self._model_checked_at = revision
        return revision

    def enroll(
        self,
        name: str,
        images: Sequence[str | Path | tuple[str, bytes]],
        *,
        largest: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> EnrollReport:
        """Add every usable photo to a person, in one transaction (all or nothing).

        A photo is used when it holds exactly one face of confidence >= 0.9 (with ``largest``,
        the largest of several) that passes the quality gate; the others are reported with a
        reason. Photos already held for the person (same sha256) are not added twice. An image is
        a path, or (label, bytes) for one that never was a file (an HTTP upload).
        """
        from facerec.store.records import StoredSample
        from facerec.store.repository import check_name

        name = check_name(name)
        self._check_model()
        report = EnrollReport(name)
        images = list(images)
        pending: list[tuple[str, str, Face, np.ndarray, dict]] = []
        uploads = {item[0] for item in images if isinstance(item, tuple)}
        done = 0
        for start in range(0, len(images), ENROL_DETECT_BATCH):
            photos = list(self._files.map(self._read, images[start : start + ENROL_DETECT_BATCH]))
            found = iter(self.detector.detect_batch([p.pixels for p in photos if p.error is None]))
            for photo in photos:
                try:
                    if photo.error is not None:
                        raise photo.error
                    face = choose.only_face(next(found), photo.source, largest=largest)
                    crop = self.embedder.crops(photo.pixels, [face])[0]
                    figures = quality.measure(face, crop)
                    issues = quality.problems(figures, self.quality_gate)
                    if issues:
                        raise FacerecError("; ".join(issues))
                except FacerecError as exc:
                    report.skipped.append(Skipped(photo.source, str(exc).removeprefix(f"{photo.source}: ")))
                else:
                    pending.append((photo.source, hashlib.sha256(photo.data).hexdigest(), face, crop, figures))
                done += 1
                if progress:
                    progress(done, len(images))
        encoded = self._files.map(png, [p[3] for p in pending])  # beside the embedding, below
        vectors = self.embedder.embed_crops(np.stack([p[3] for p in pending])) if pending else []
        samples = [
            StoredSample(
                embedding=vector,
                model=self.embedder.model,
                preprocessing=self.embedder.provenance,
                crop_png=crop_png,
                source_path=source if source in uploads else str(Path(source).resolve()),
                source_sha256=digest,
                box=face.box,
                landmarks=face.landmarks,
                confidence=face.confidence,
                quality=figures,
            )
            for (source, digest, face, _crop, figures), vector, crop_png in zip(pending, vectors, encoded, strict=True)
        ]
        if not samples:
            return report
        person, _added, duplicates = self.store.add_samples(name, samples)
        duplicate_set = set(duplicates)
        for sample, (source, *_rest) in zip(samples, pending, strict=True):
            if sample.source_path in duplicate_set:
                report.skipped.append(Skipped(source, "already enrolled (same photo)"))
            else:
                report.added.append(source)
        report.samples = person.samples
        return report

    def _read(self, item: str | Path | tuple[str, bytes]) -> _Photo:
        """A photo to enrol, read once (it is hashed and decoded) and decoded, or why it cannot be."""
        source = item[0] if isinstance(item, tuple) else str(item)
        try:
            data = item[1] if isinstance(item, tuple) else read_image_file(source)
            return _Photo(source, data, self.load(data, name=source))
        except FacerecError as exc:
            return _Photo(source, b"", np.zeros((0, 0, 3), np.uint8), exc)

    def identify(self, image: ImageSource, *, top_k: int = 1, threshold: float | None = None) -> list[Identified]:
        """Who is each confident face of the photo: a name, or unknown below the threshold."""
        revision = self._check_model()
        pixels = self.load(image)
        faces = choose.confident(self.detector.detect(pixels))
        if not faces:
            return []
        vectors = self.embedder.embed_faces(pixels, faces)
        index = self._face_index().current(revision)
        gallery = index.gallery
        if gallery is None or len(gallery) == 0:
            raise StoreError("no one is enrolled yet: enrol people first (facerec enroll NAME PHOTOS...)")
        with single_threaded_blas():
            scores = matching.person_scores(gallery, vectors, self.aggregate)
        limit = self.identify_threshold(len(gallery), revision) if threshold is None else threshold
        matches = matching.decide(scores, gallery.names, limit, top_k)
        return [
            Identified(face.with_embedding(vector), match)
            for face, vector, match in zip(faces, vectors, matches, strict=True)
        ]

    def identify_threshold(self, people: int, revision: int | None = None) -> float:
        """The store's calibrated threshold for this model if there is one, else the model's.

        Given the store ``revision`` the caller has read, the setting is read once per revision
        (storing it bumps the revision), not once per photo."""
        if revision is None or self._calibration is None or self._calibration[0] != revision:
            self._calibration = (revision, self.store.setting(f"threshold:{self.embedder.model}"))
        calibrated = self._calibration[1]
        return float(calibrated["threshold"]) if calibrated else self.embedder.identify_threshold(people)

    def calibrate(self, far: float = 0.05, folder: Path | None = None) -> dict:
        """Pick the identification threshold at an open-set false accept rate ``far``, from the
        enrolled gallery or from a labelled folder (``folder/<person>/<photos>``), and store it."""
        if not 0 < far < 1:
            raise FacerecError(f"--far must be between 0 and 1, got {far}")
        if folder is None:
            self._check_model()
            gallery, source = self.index.gallery, "gallery"
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
        }
        self.store.put_setting(f"threshold:{self.embedder.model}", value)
        return value

    def reembed(self, model: str, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every stored crop with another model, in one transaction; afterwards the store
        holds only that model's embeddings. Returns the number of samples."""
        target = Embedder(model, **self._model_options())
        rows = self.store.crops()
        vectors: dict[int, np.ndarray] = {}
        for start in range(0, len(rows), 64):
            chunk = rows[start : start + 64]
            crops = np.stack([np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for _, png in chunk])
            vectors.update(zip((i for i, _ in chunk), target.embed_crops(crops), strict=True))
            if progress:
                progress(min(start + 64, len(rows)), len(rows))
        count = self.store.replace_embeddings(target.model, vectors)
        self.model_name, self._embedder, self._index = model, target, None
        self._model_checked_at = None
        self._calibration = None
        return count

    @property
    def preprocessing(self) -> Preprocessing:
        return self.embedder.preprocessing

    def load(self, image: ImageSource, name: str | None = None) -> np.ndarray:
        """Decode any supported input with this recognizer's pixel limit (``name`` for messages)."""
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

    def verify(self, first: ImageSource, second: ImageSource, *, largest: bool = False) -> Verification:
        """Are the faces of two photos the same person? Cosine similarity against the model's threshold."""
        a = self.embed_one(first, largest=largest)
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
        face region of a centred photo (:func:`facerec.choose.centre_face`), counted as missed.
        """
        files = sorted({path for pair in pairs for path in (pair.first, pair.second)})
        settings = {"model": self.embedder.model, "sha256": self.embedder.spec.files["weights"].sha256}
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
