"""Parity with facenet-pytorch 2.6.0 on all 930 reference images (../shared/reference/mtcnn.json).

Each reference face with confidence >= 0.9 must be found with IoU >= 0.95, confidence within 0.01
and every landmark within 2 px; no face with confidence >= 0.9 may appear that the reference lacks.
Images are opened the way the reference opened them: Pillow, ``.convert("RGB")``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from facerec.detection.mtcnn import MTCNN, native

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)

CONFIDENT = 0.9


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def reference_faces(reference):
    return json.loads((reference / "mtcnn.json").read_text())["images"]


def test_reference_lists_930_images(reference_faces):
    assert len(reference_faces) == 930


class Parity:
    """Found faces against reference faces (box, confidence, landmarks), photo by photo: each
    confident reference face found with IoU >= 0.95, confidence within 0.01 and landmarks within
    2 px, no confident face more; the problems, the faces checked and the worst figures."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.widths: list[float] = []  # of the reference faces checked
        self.worst = {"iou": 1.0, "confidence": 0.0, "landmark_px": 0.0}

    def check(self, name: str, found, references) -> None:
        for box, prob, landmarks in references:
            if prob < CONFIDENT:
                continue
            self.widths.append(box[2] - box[0])
            best = max(found, key=lambda f: _iou(f.box, box), default=None)
            if best is None:
                self.problems.append(f"{name}: reference face {box} not found")
                continue
            iou = _iou(best.box, box)
            dconf = abs(best.confidence - prob)
            dland = float(np.abs(np.array(best.landmarks) - np.array(landmarks)).max())
            self.worst = {
                "iou": min(self.worst["iou"], iou),
                "confidence": max(self.worst["confidence"], dconf),
                "landmark_px": max(self.worst["landmark_px"], dland),
            }
            if iou < 0.95 or dconf > 0.01 or dland > 2.0:
                self.problems.append(f"{name}: IoU {iou:.3f}, confidence off {dconf:.4f}, landmark off {dland:.2f} px")
        for face in found:
            if face.confidence >= CONFIDENT and not any(_iou(face.box, r[0]) >= 0.5 for r in references):
                self.problems.append(f"{name}: extra face {face.box} ({face.confidence:.3f}) not in the reference")


# "native": ONNX Runtime with P-Net on facerec's C kernel, the default on the CPU where it is built.
@pytest.mark.parametrize("backend", ["torch", "onnx", "native"])
def test_every_reference_image_matches(backend, data, reference_faces):
    if backend == "native" and native.kernel() is None:
        pytest.skip("the C kernel is not built on this platform (test_native.py asserts it is on x86-64 Linux)")
    detector = MTCNN(backend="torch" if backend == "torch" else "onnx", native_pnet=backend == "native")
    parity = Parity()
    for name, expected in reference_faces.items():
        with Image.open(data / name) as image:
            pixels = np.asarray(image.convert("RGB"))
        assert pixels.shape[:2] == (expected["height"], expected["width"]), name
        parity.check(name, detector.detect(pixels), [(r["box"], r["prob"], r["landmarks"]) for r in expected["faces"]])
    print(f"checked {len(parity.widths)} reference faces; worst: {parity.worst}")
    assert len(parity.widths) > 900
    assert not parity.problems, "\n".join(parity.problems)
