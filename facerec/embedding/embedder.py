"""Embedder: aligned face crops -> L2-normalised FaceNet vectors, with a model's preprocessing.

It owns the choices that turn a detected face into a vector (crop margin, alignment, test-time
flip, standardisation, batching, device, precision), taking their defaults from the model's
entry in the weights manifest, where they were chosen by measurement.

Precision ``auto`` is int8 on ONNX Runtime for a model that ships activation ranges (see
:mod:`facerec.runtime.quantize`: 3x fp32's faces/s on the CPU, LFW fold 1 and the open-set figures
unchanged), and fp32 elsewhere; vectors of either are comparable in one store (cosine >= 0.998
between them), so a store does not record which made them.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, cast, get_args

import numpy as np

from facerec.embedding import align, space
from facerec.errors import FacerecError, WeightsError
from facerec.runtime import weights
from facerec.runtime.settings import Backend, Network, resolve
from facerec.types import Face

log = logging.getLogger(__name__)

Align = Literal["crop", "similarity"]
Border = Literal["clip", "pad"]
Precision = Literal["auto", "fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
BATCH = 32


@dataclass(frozen=True)
class Preprocessing:
    """How a detected face becomes the network's input."""

    image_size: int = 160
    margin: float = 0.0  # pixels of the output crop, as facenet-pytorch counts it
    align: Align = "crop"  # "crop": box + margin; "similarity": 5-point alignment to a template
    flip: bool = False  # also embed the mirror image and average the two
    border: Border = "clip"  # crops past the image edge: "clip" (facenet-pytorch) or "pad" with black

    def __post_init__(self) -> None:
        if self.align not in ("crop", "similarity"):
            raise FacerecError(f"unknown alignment {self.align!r}; use 'crop' or 'similarity'")
        if self.border not in ("clip", "pad"):
            raise FacerecError(f"unknown border handling {self.border!r}; use 'clip' or 'pad'")
        if not 0 <= self.margin < self.image_size:
            raise FacerecError(f"margin must be between 0 and {self.image_size - 1} pixels, got {self.margin}")

    @classmethod
    def from_manifest(cls, spec: weights.ModelSpec) -> Preprocessing:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in spec.preprocessing.items() if k in known})

    def with_overrides(self, **overrides) -> Preprocessing:
        """A copy with the given settings changed; ``None`` means keep this one."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def crop(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The image_size x image_size RGB crop of one face."""
        if self.align == "similarity":
            return align.similarity_align(image, face, self.image_size, self.margin)
        return align.margin_crop(image, face, self.image_size, self.margin, self.border)


def standardise(crops: np.ndarray) -> np.ndarray:
    """N x S x S x 3 uint8 -> N x 3 x S x S float32, (x - 127.5) / 128 ("fixed" standardisation)."""
    pixels = np.asarray(crops, dtype=np.float32) - np.float32(127.5)
    pixels /= np.float32(128.0)
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def open_network(
    spec: weights.ModelSpec,
    path: Path,
    backend: str,
    device: str,
    *,
    eager: bool = False,
    precision: Precision = "fp32",
    threads: int | None = None,
) -> Network:
    """The model's network on a backend (``precision`` resolved: not auto); torch is imported only
    for the torch backend, or once to export the ONNX graph into the cache."""
    if backend == "torch":
        from facerec.embedding import facenet
        from facerec.runtime.torch_backend import TorchNetwork

        module = facenet.load(str(path), fused=not eager, device=device)
        return TorchNetwork(module, device, threads=threads, channels_last=not eager, precision=precision)
    from facerec.runtime import onnx_backend

    name, export = _onnx_export(spec, path)
    if precision != "int8":
        return onnx_backend.open_network(name, export, threads)
    from facerec.runtime import quantize

    ranges_file = spec.files["int8_ranges"]
    ranges = quantize.read_ranges(weights.locate(ranges_file))
    int8 = f"{name}-int8-{ranges_file.sha256[:16]}-q{quantize.QUANTIZE_VERSION}"

    def quantized(out: BinaryIO) -> None:  # only when the int8 graph is not cached yet
        quantize.quantize(onnx_backend.parsed_model(name, export), ranges, out)

    return onnx_backend.open_network(int8, quantized, threads)


def fp32_graph(spec: weights.ModelSpec, path: Path) -> Path | bytes:
    """The model's fp32 ONNX graph from the cache (exported first if missing): what int8 ranges are
    measured on and quantization starts from."""
    from facerec.runtime import onnx_backend

    return onnx_backend.cached_model(*_onnx_export(spec, path))


def _onnx_export(spec: weights.ModelSpec, path: Path) -> tuple[str, Callable[[BinaryIO], None]]:
    return f"facenet-{spec.files['weights'].sha256[:16]}", functools.partial(_export, str(path))


def resolve_precision(precision: str, backend: str, spec: weights.ModelSpec) -> Precision:
    """``auto`` made concrete for a model on a backend; a precision the two cannot run is an error."""
    if precision not in PRECISIONS:
        raise FacerecError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    has_ranges = "int8_ranges" in spec.files
    if precision == "auto":
        return "int8" if backend == "onnx" and has_ranges else "fp32"
    if precision == "int8" and backend != "onnx":
        raise FacerecError("int8 precision runs on ONNX Runtime, on the CPU: use --backend onnx, or --precision fp32")
    if precision == "int8" and not has_ranges:
        raise FacerecError(f"model {spec.name!r} has no int8 activation ranges: use --precision fp32")
    return cast(Precision, precision)  # one of PRECISIONS, checked above


def _export(path: str, out: BinaryIO) -> None:
    from facerec.embedding import facenet  # torch: only when the graph is not cached yet

    facenet.export_onnx(path, out)


class Embedder:
    """Turns faces into unit vectors with one FaceNet model.

    >>> embedder = Embedder()                      # the default model, its measured defaults
    >>> vectors = embedder.embed_faces(image, faces)   # len(faces) x 512
    """

    def __init__(
        self,
        model: str | weights.ModelSpec | None = None,
        *,
        device: str = "cpu",
        precision: Precision = "auto",
        eager: bool = False,
        preprocessing: Preprocessing | None = None,
        backend: Backend = "auto",
        threads: int | None = None,
        centre: bool = True,
    ) -> None:
        if isinstance(model, weights.ModelSpec):
            self.spec = model
        else:
            self.spec = weights.model_spec(model or weights.default_model())
        if self.spec.kind not in ("facenet", "finetuned"):
            raise FacerecError(f"model {self.spec.name!r} is a {self.spec.kind} model, not an embedding model")
        torch_only = "the eager network" if eager else "bf16 precision" if precision == "bf16" else None
        self.device, self.backend = resolve(device, backend, threads, torch_only=torch_only)
        self.precision = resolve_precision(precision, self.backend, self.spec)
        self.preprocessing = preprocessing or Preprocessing.from_manifest(self.spec)
        self.weights_path = weights.locate(self.spec.files["weights"])
        # centre=False gives the network's own unit vectors (for measuring what centring does).
        self.centre = weights.load_centre(self.spec) if centre else None
        self.centre_id = space.centre_id(self.centre)
        where = (self.spec, self.weights_path, self.backend, self.device)
        try:
            self.network = open_network(*where, eager=eager, precision=self.precision, threads=threads)
        except WeightsError as exc:  # ranges that do not fit this export: auto is the best that runs
            if precision != "auto" or self.precision != "int8":
                raise
            log.warning("%s; embedding in fp32", exc)
            self.precision = "fp32"
            self.network = open_network(*where, eager=eager, threads=threads)

    @property
    def model(self) -> str:
        return self.spec.name

    @property
    def provenance(self) -> dict:
        """What made a vector, as stored beside it: this model's preprocessing, its name and the
        centre subtracted (None: not centred)."""
        return dataclasses.asdict(self.preprocessing) | {"model": self.model, "centre": self.centre_id}

    @property
    def threshold(self) -> float:
        """Cosine similarity at or above which two faces are taken as the same person."""
        return float(self.spec.threshold if self.spec.threshold is not None else 0.5)

    @property
    def dimension(self) -> int:
        return int(self.spec.embedding_size or 512)

    def crops(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        size = self.preprocessing.image_size
        if not faces:
            return np.zeros((0, size, size, 3), np.uint8)
        return np.stack([self.preprocessing.crop(image, face) for face in faces])

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """N x S x S x 3 uint8 crops -> N x D float32 unit vectors, centred if the model has a centre."""
        if len(crops) == 0:
            return np.zeros((0, self.dimension), np.float32)
        out = []
        for start in range(0, len(crops), BATCH):
            batch = standardise(crops[start : start + BATCH])
            vectors = self.network(batch)[0]
            if self.preprocessing.flip:
                vectors = vectors + self.network(np.ascontiguousarray(batch[:, :, :, ::-1]))[0]
            out.append(vectors)
        # Unit length in float32 whatever the network's precision (and after adding the mirror's).
        return space.centred(np.concatenate(out), self.centre)

    def embed_faces(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """One vector per face of ``image``."""
        return self.embed_crops(self.crops(image, faces))
