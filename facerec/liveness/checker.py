"""LivenessChecker: is each face a real one in front of the camera, or a print or a screen?

Both MiniFASNet networks look at the face, each at its own crop around the detector's box (2.7x
and 4.0x: the face with its surroundings, where a print's edge or a screen's frame shows), and
their class probabilities are summed: the vendor's verdict is the class with the larger sum (1 =
real), its score the summed real-face probability over two. A ``threshold`` replaces the argmax
with ``score >= threshold``. Networks run on ONNX Runtime on the CPU (graphs exported once from the
shipped weights into the user cache, checked against torch), on torch on a GPU.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from facerec.errors import FacerecError
from facerec.liveness import crops
from facerec.runtime import weights
from facerec.runtime.settings import Backend, Network, resolve
from facerec.types import Face, Liveness

MODEL = "minifasnet"


class LivenessChecker:
    """>>> LivenessChecker().check(pixels, faces)  # one Liveness(live, score) per face"""

    def __init__(
        self,
        device: str = "cpu",
        *,
        backend: Backend = "auto",
        threads: int | None = None,
        threshold: float | None = None,
    ) -> None:
        if threshold is not None and not 0 <= threshold <= 1:
            raise FacerecError(f"a liveness threshold is a probability between 0 and 1, got {threshold!r}")
        self.device, self.backend = resolve(device, backend, threads)
        self.threshold = threshold
        spec = weights.model_spec(MODEL)
        self.size = int(spec.preprocessing["input_size"])
        self.networks: list[tuple[float, Network]] = []
        for role, about in spec.preprocessing["networks"].items():
            path = str(weights.locate(spec.files[role]))
            network = _open(about["architecture"], path, spec.files[role].sha256, self.backend, self.device, threads)
            self.networks.append((float(about["scale"]), network))

    def probabilities(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """faces x networks x 3 class probabilities (softmax), for RGB ``image``."""
        if not faces:
            return np.zeros((0, len(self.networks), 3))
        boxes = [crops.vendor_box(face) for face in faces]
        out = []
        for scale, network in self.networks:
            batch = np.stack([crops.network_input(image, box, scale, self.size) for box in boxes])
            logits = network(batch)[0].astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            exp = np.exp(logits)
            out.append(exp / exp.sum(axis=1, keepdims=True))
        return np.stack(out, axis=1)

    def check(self, image: np.ndarray, faces: Sequence[Face]) -> list[Liveness]:
        """The verdict on each face of RGB ``image``."""
        return [self.verdict(p) for p in self.probabilities(image, faces)]

    def verdict(self, probabilities: np.ndarray) -> Liveness:
        """networks x 3 probabilities -> live or not, and the mean real-face probability."""
        summed = probabilities.sum(axis=0)
        score = float(summed[REAL] / len(probabilities))
        live = score >= self.threshold if self.threshold is not None else int(np.argmax(summed)) == REAL
        return Liveness(bool(live), score)


REAL = 1


def _open(architecture: str, path: str, sha256: str, backend: str, device: str, threads: int | None) -> Network:
    if backend == "torch":
        from facerec.liveness import nets
        from facerec.runtime.torch_backend import TorchNetwork

        module = nets.load(architecture, path)
        if device != "cpu":
            import copy

            module = copy.deepcopy(module).to(device)
        return TorchNetwork(module, device, threads=threads)
    from facerec.runtime import onnx_backend

    export = functools.partial(_export, architecture, path)
    return onnx_backend.open_network(f"{architecture.lower()}-{sha256[:16]}", export, threads)


def _export(architecture: str, path: str, out: BinaryIO) -> None:
    from facerec.liveness import nets  # torch: only when the graph is not cached yet

    nets.export_onnx(architecture, path, out)
