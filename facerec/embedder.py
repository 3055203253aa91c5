"""Embedder: aligned face crops -> L2-normalised FaceNet vectors, with a model's preprocessing.

It owns the choices that turn a detected face into a vector (crop margin, alignment, test-time
flip, standardisation, batching, device, precision), taking their defaults from the model's
entry in the weights manifest, where they were chosen by measurement.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from facerec import align, finetuned, matching, weights
from facerec.errors import FacerecError, WeightsError
from facerec.facenet import BasicConv2d, InceptionResnetV1, checkpoint_filter
from facerec.runtime import resolve_device
from facerec.types import Face

Align = Literal["crop", "similarity"]
Border = Literal["clip", "pad"]
Precision = Literal["fp32", "bf16"]
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


def standardise(crops: np.ndarray) -> torch.Tensor:
    """N x S x S x 3 uint8 -> N x 3 x S x S float, (x - 127.5) / 128 ("fixed" standardisation)."""
    pixels = torch.from_numpy(np.array(crops, dtype=np.float32))
    return ((pixels - 127.5) / 128.0).permute(0, 3, 1, 2)


@functools.cache
def _load_network(path: str, fused: bool = False, device: str = "cpu") -> torch.nn.Module:
    """The network of a weights file on a device, cached per process (Module.to moves in place,
    so each device has its own); ``fused`` gives the inference path (:func:`fast_network`) built
    on a fresh load, so the eager copy is never held as well. A fine-tuned model file is its base
    network with the parameters training changed, followed by its projection head."""
    checkpoint = weights.load_state_dict(Path(path))
    head = None
    if finetuned.is_finetuned(checkpoint):
        base = weights.model_spec(checkpoint["base_model"])
        state = checkpoint_filter(weights.load_state_dict(weights.locate(base.files["weights"])))
        state |= checkpoint["backbone"]
        head = finetuned.head_from(checkpoint)
    else:
        state = checkpoint_filter(checkpoint)
    with torch.device("meta"):  # no random initialisation: every tensor comes from the file
        network = InceptionResnetV1()
    try:
        network.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:  # wrong keys or shapes: not a FaceNet checkpoint in this layout
        raise WeightsError(f"{path} is not an Inception-ResNet-v1 checkpoint facerec can load: {exc}") from None
    network = network.eval().requires_grad_(False)
    network = fast_network(network, inplace=True) if fused else network
    if head is not None:
        network = finetuned.WithHead(network, head).eval()
    return network.to(device)


def fast_network(network: torch.nn.Module, *, inplace: bool = False) -> torch.nn.Module:
    """The inference path: batch norms folded into their convolutions, channels-last memory.

    Equal to the eager network within float rounding (tests hold it to 1e-5). Folding walks the
    modules directly: torch.fx tracing did the same but cost 0.6 s of every cold start.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    network = network if inplace else copy.deepcopy(network)
    for module in network.modules():
        if isinstance(module, BasicConv2d) and isinstance(module.bn, torch.nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.bn = torch.nn.Identity()
    return network.to(memory_format=torch.channels_last).eval()


class Embedder:
    """Turns faces into unit vectors with one FaceNet model.

    >>> embedder = Embedder()                      # the default model, its measured defaults
    >>> vectors = embedder.embed_faces(image, faces)   # len(faces) x 512
    """

    def __init__(
        self,
        model: str | weights.ModelSpec | None = None,
        *,
        device: str | torch.device = "cpu",
        precision: Precision = "fp32",
        eager: bool = False,
        preprocessing: Preprocessing | None = None,
    ) -> None:
        if isinstance(model, weights.ModelSpec):
            self.spec = model
        else:
            self.spec = weights.model_spec(model or weights.default_model())
        if self.spec.kind not in ("facenet", "finetuned"):
            raise FacerecError(f"model {self.spec.name!r} is a {self.spec.kind} model, not an embedding model")
        if precision not in ("fp32", "bf16"):
            raise FacerecError(f"unknown precision {precision!r}; use 'fp32' or 'bf16'")
        self.device = resolve_device(device)
        self.precision = precision
        self.preprocessing = preprocessing or Preprocessing.from_manifest(self.spec)
        self.weights_path = weights.locate(self.spec.files["weights"])
        self.network = _load_network(str(self.weights_path), fused=not eager, device=str(self.device))
        self._channels_last = not eager

    @property
    def model(self) -> str:
        return self.spec.name

    @property
    def threshold(self) -> float:
        """Cosine similarity at or above which two faces are taken as the same person."""
        return float(self.spec.threshold if self.spec.threshold is not None else 0.5)

    def identify_threshold(self, people: int) -> float:
        """Similarity a face needs to be named among ``people`` enrolled: the model's target
        open-set false accept rate, spread over that many comparisons (see the manifest)."""
        if not self.spec.impostor_quantiles:
            return self.threshold
        return matching.threshold_for(self.spec.impostor_quantiles, self.spec.open_set_far / max(people, 1))

    @property
    def dimension(self) -> int:
        return int(self.spec.embedding_size or 512)

    def crops(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        size = self.preprocessing.image_size
        if not faces:
            return np.zeros((0, size, size, 3), np.uint8)
        return np.stack([self.preprocessing.crop(image, face) for face in faces])

    @torch.inference_mode()
    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """N x S x S x 3 uint8 crops -> N x D float32 unit vectors."""
        if len(crops) == 0:
            return np.zeros((0, self.dimension), np.float32)
        out = []
        for start in range(0, len(crops), BATCH):
            batch = standardise(crops[start : start + BATCH])
            vectors = self._forward(batch)
            if self.preprocessing.flip:
                vectors = torch.nn.functional.normalize(vectors + self._forward(batch.flip(3)), dim=1)
            out.append(vectors.float().cpu())
        return torch.cat(out).numpy()

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device)
        if self._channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        if self.precision == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                vectors = self.network(batch)
            return torch.nn.functional.normalize(vectors.float(), dim=1)  # unit length in fp32
        return self.network(batch)

    def embed_faces(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """One vector per face of ``image``."""
        return self.embed_crops(self.crops(image, faces))
