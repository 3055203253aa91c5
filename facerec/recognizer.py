"""FaceRecognizer: the one object the CLI, the HTTP server and Python users call.

It composes the parts (image loading, detector, embedder, and later store and index) and owns
their settings, so callers never wire parts together themselves. Parts load on first use, so a
command that never embeds never loads the embedding model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from facerec import choose, evaluate, weights
from facerec.embedder import Embedder, Precision, Preprocessing
from facerec.embedding_cache import EmbeddingCache
from facerec.images import DEFAULT_MAX_PIXELS, ImageSource, describe, load_image
from facerec.mtcnn import MTCNN, DetectorConfig
from facerec.runtime import resolve_device
from facerec.types import Face, Verification


class FaceRecognizer:
    """Detect faces, turn them into vectors, and compare them.

    >>> recognizer = FaceRecognizer()
    >>> recognizer.detect("group.jpg")              # faces: box, confidence, landmarks
    >>> recognizer.embed("group.jpg")               # the same faces, each with .embedding
    >>> recognizer.verify("a.jpg", "b.jpg").same    # one face each; cosine similarity vs threshold
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        device: str | torch.device = "cpu",
        precision: Precision = "fp32",
        detector: DetectorConfig | None = None,
        margin: float | None = None,
        align: str | None = None,
        flip: bool | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.device = resolve_device(device)
        self.max_pixels = max_pixels
        self.model_name = model
        self.precision = precision
        self._overrides = {"margin": margin, "align": align, "flip": flip}
        self._detector_config = detector or DetectorConfig()
        self._detector: MTCNN | None = None
        self._embedder: Embedder | None = None

    @property
    def detector(self) -> MTCNN:
        if self._detector is None:
            self._detector = MTCNN(self._detector_config, device=self.device)
        return self._detector

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            spec = weights.model_spec(self.model_name or weights.default_model())
            preprocessing = Preprocessing.from_manifest(spec).with_overrides(**self._overrides)
            self._embedder = Embedder(
                spec.name, device=self.device, precision=self.precision, preprocessing=preprocessing
            )
        return self._embedder

    @property
    def preprocessing(self) -> Preprocessing:
        return self.embedder.preprocessing

    def load(self, image: ImageSource) -> np.ndarray:
        """Decode any supported input with this recognizer's pixel limit."""
        return load_image(image, max_pixels=self.max_pixels)

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
