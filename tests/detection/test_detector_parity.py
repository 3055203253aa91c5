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


# "native": ONNX Runtime with P-Net on facerec's C kernel, the default on the CPU where it is built.
@pytest.mark.parametrize("backend", ["torch", "onnx", "native"])
def test_every_reference_image_matches(backend, data, reference_faces):
    if backend == "native" and native.kernel() is None:
        pytest.skip("the C kernel is not built on this platform (test_native.py asserts it is on x86-64 Linux)")
    detector = MTCNN(backend="torch" if backend == "torch" else "onnx", native_pnet=backend == "native")
    problems = []
    checked_faces = 0
    worst = {"iou": 1.0, "confidence": 0.0, "landmark_px": 0.0}
    for name, expected in reference_faces.items():
        with Image.open(data / name) as image:
            pixels = np.asarray(image.convert("RGB"))
        assert pixels.shape[:2] == (expected["height"], expected["width"]), name
        found = detector.detect(pixels)
        for ref in expected["faces"]:
            if ref["prob"] < CONFIDENT:
                continue
            checked_faces += 1
            best = max(found, key=lambda f: _iou(f.box, ref["box"]), default=None)
            if best is None:
                problems.append(f"{name}: reference face {ref['box']} not found")
                continue
            iou = _iou(best.box, ref["box"])
            dconf = abs(best.confidence - ref["prob"])
            dland = float(np.abs(np.array(best.landmarks) - np.array(ref["landmarks"])).max())
            worst = {
                "iou": min(worst["iou"], iou),
                "confidence": max(worst["confidence"], dconf),
                "landmark_px": max(worst["landmark_px"], dland),
            }
            if iou < 0.95 or dconf > 0.01 or dland > 2.0:
                problems.append(f"{name}: IoU {iou:.3f}, confidence off {dconf:.4f}, landmark off {dland:.2f} px")
        for face in found:
            if face.confidence >= CONFIDENT and not any(_iou(face.box, r["box"]) >= 0.5 for r in expected["faces"]):
                problems.append(f"{name}: extra face {face.box} ({face.confidence:.3f}) not in the reference")
    print(f"checked {checked_faces} reference faces; worst: {worst}")
    assert checked_faces > 900
    assert not problems, "\n".join(problems)
