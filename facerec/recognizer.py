"""FaceRecognizer: the one object the CLI, the HTTP server and Python users call.

It composes the parts (image loading, detector, embedder, identity store and faiss index) and
owns their settings, so callers never wire parts together themselves. Parts load on first use, so
a command that never embeds never loads the embedding model, and one that never matches never
opens the store.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from facerec.detection import choose
from facerec.detection.mtcnn import MTCNN, DetectorConfig
from facerec.detection.mtcnn.area import DETECT_MAX_PIXELS
from facerec.embedding import evaluate
from facerec.embedding.cache import EmbeddingCache
from facerec.embedding.embedder import Embedder, Precision, Preprocessing
from facerec.identity import calibration, evaluation, index_files, matching, quality, reembedding, search, vector_kinds
from facerec.identity.calibration import check_threshold
from facerec.identity.enrollment import EnrollmentImages, EnrollReport, Identified, enrollment_images
from facerec.identity.enrollment import claims as duplicate_claims
from facerec.identity.enrollment.pipeline import Enrollment
from facerec.identity.reembedding import Reembedded
from facerec.images import DEFAULT_MAX_PIXELS, ImageSource, describe, image_size, load_image, read_image_file
from facerec.liveness import LivenessChecker
from facerec.runtime import weights
from facerec.runtime.settings import Backend, available_cpus, resolve
from facerec.types import Face, Liveness, Verification

if TYPE_CHECKING:
    from facerec.identity.index_files import PeopleIndex

# A decode above this many pixels holds hundreds of MB while it runs: one at a time per
# recognizer, so a burst of large uploads queues for memory instead of multiplying it.
LARGE_DECODE_PIXELS = DETECT_MAX_PIXELS


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
        self.index_kind = index_files.check_index_kind(index)
        self.quality_gate = quality_gate or quality.QualityGate()
        self._store = None
        self._index: PeopleIndex | None = None
        self._kinds, self._calibrated = vector_kinds.KindCheck(), calibration.CalibratedThreshold()
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

    def _person_index(self) -> PeopleIndex:
        if self._index is None:
            self._index = index_files.open_person_index(self.store, self.embedder, self.index_kind)
        return self._index

    def check_store(self) -> int:
        """Refuse a store of another kind of vector than this recognizer's (StoreError): vectors of
        another model, or of this one on another centre, never mix. Returns the store revision
        checked, so the caller's index is brought to that same revision (one read); checked once
        per store revision."""
        return self._kinds.check(self.store, self.embedder)

    def enroll(
        self,
        name: str,
        images: EnrollmentImages,
        *,
        largest: bool = False,
        liveness: bool = False,
        allow_duplicate: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> EnrollReport:
        """Add every usable photo to a person, in one transaction (all or nothing); the report says
        why each other photo was left out. ``images`` is a folder (every file under it, recursively),
        a file, ``(label, bytes)`` for a photo that never was a file (an HTTP upload), or a list of
        those; anything else is a TypeError. ``largest``: of several faces, the one most like the
        person's other photos; ``liveness``: refuse prints and screens (off by default: enrollment
        photos are often scans); ``allow_duplicate``: enroll a face identification would name as
        someone else (twins). Which photos are used, and why: :meth:`Enrollment.run
        <facerec.identity.enrollment.pipeline.Enrollment.run>`.
        """
        from facerec.store.names import check_name
        from facerec.store.samples import Samples

        photos = enrollment_images(images)  # before anything else: a TypeError is a caller's mistake
        name = check_name(name)
        Samples(self.store).check_consent(name)  # before any photo is read: refused is refused at once
        revision = self.check_store()
        checker = (lambda: self.liveness_checker) if liveness else None  # loaded when first needed
        parts = (self.store, self.detector, self.embedder, self.quality_gate, self.load, self._files, self.claims)
        run = Enrollment(*parts, liveness=checker).run
        return run(name, photos, revision, largest=largest, allow_duplicate=allow_duplicate, progress=progress)

    def claims(self, name: str, vectors: np.ndarray, revision: int | None = None) -> tuple[list, float]:
        """Who each of these faces (unit vectors of this recognizer's kind) already is, if enrolled
        as ``name`` they would be someone else's (facerec.identity.duplicates: a duplicate.Claim or
        None each), and the threshold that decided: the operating point identification uses now.
        The nearest centroids name the suspects; their samples are compared too."""
        from facerec.store.names import check_name

        revision = self.check_store() if revision is None else revision
        index = self._person_index().current(revision)
        threshold = functools.partial(self.identify_threshold, revision=revision)
        return duplicate_claims.claims(check_name(name), vectors, index, threshold, self.store, self.embedder.model)

    def refuse_someone_else(self, name: str, vectors: np.ndarray, what: Sequence[str]) -> None:
        """DuplicateIdentityError, naming who, if any of these faces would be identified as someone
        other than ``name`` (see :meth:`claims`); ``what`` labels each face for the message."""
        duplicate_claims.refuse(*self.claims(name, vectors), what)

    def identify(
        self, image: ImageSource, *, top_k: int = 1, threshold: float | None = None, liveness: bool = False
    ) -> list[Identified]:
        """Who is each confident face of the photo: a name, or unknown below the threshold; with
        ``liveness``, whether each face is a live one too (on the same detections)."""
        revision = self.check_store()
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
        revision = self.check_store() if revision is None else revision
        index = self._person_index().current(revision)
        if threshold is None:
            limit = functools.partial(self.identify_threshold, revision=revision)
            return search.identify_vectors(index, vectors, top_k, limit)
        return search.identify_vectors(index, vectors, top_k, lambda _people: check_threshold(threshold))

    def liveness(self, image: ImageSource) -> list[tuple[Face, Liveness]]:
        """Every confident face of an image and whether it is a live one (not a print or a screen)."""
        pixels = self.load(image)
        faces = choose.confident(self.detector.detect(pixels))
        return list(zip(faces, self.liveness_checker.check(pixels, faces), strict=True))

    def identify_threshold(self, people: int, revision: int | None = None) -> float:
        """The store's calibrated threshold for this model's vectors if there is one (made for
        them: see calibration.made_for), else the model's operating point for ``people`` enrolled.
        Given the store ``revision`` the caller has read, the setting is read once per revision
        (storing it bumps the revision), not once per photo."""
        calibrated = self._calibrated.get(self.store, self.embedder.model, self.embedder.centre_id, revision)
        return calibrated if calibrated is not None else matching.operating_point(self.embedder.spec, people)

    def calibrate(self, far: float = 0.01, folder: Path | None = None) -> dict:
        """Pick the identification threshold at an open-set false accept rate ``far`` measured on
        your own people, the enrolled gallery or a labelled folder (``folder/<person>/<photos>``),
        and store it: it then replaces the model's operating point (see calibration.calibrate)."""
        calibration.check_far(far)
        if folder is None:
            self.check_store()
            gallery, source = calibration.enrolled_gallery(self.store, self.embedder.model), "gallery"
        else:
            gallery = calibration.folder_gallery(folder, self.load, self.detector, self.embedder)
            source = str(folder)
        return calibration.calibrate(self.store, self.embedder, gallery, source, far)

    def reembed(self, model: str | None = None, progress: Callable[[int, int], None] | None = None) -> Reembedded:
        """Bring every stored vector (samples and unknown sightings) to ``model``'s kind (None: this
        recognizer's), re-centred exactly or embedded again from its crop (see reembedding.reembed);
        a calibrated threshold made for the old kind is dropped (calibrate again)."""
        target = self.embedder if model is None else Embedder(model, **self._model_options())
        done = reembedding.reembed(self.store, target, progress)
        if model is not None:
            self.model_name, self._embedder = model, target
        self._index = None
        self._kinds, self._calibrated = vector_kinds.KindCheck(), calibration.CalibratedThreshold()
        return done

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
        a = cast(Face, first) if embedded else self.embed_one(cast(ImageSource, first), largest=largest)
        b = self.embed_one(second, largest=largest)
        similarity = float(np.dot(cast(np.ndarray, a.embedding), cast(np.ndarray, b.embedding)))
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
        """Verification accuracy on labelled pairs (LFW protocol), one face a photo: the result and
        the photos where the detector found no face (see evaluation.evaluate_pairs)."""
        parts = (self.load, lambda pixels: self.detector.detect(pixels), self._detector_config, self.embedder)
        return evaluation.evaluate_pairs(pairs, *parts, far=far, cache=cache, progress=progress)
