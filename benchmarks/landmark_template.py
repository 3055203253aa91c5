"""Measure where MTCNN's five landmarks sit inside its box, on average, over lfw_train.

    python benchmarks/landmark_template.py

Prints the 5 x 2 fractions that facerec.detection.mtcnn.boxes.MEAN_LANDMARKS_IN_BOX holds: the similarity
alignment template is this average face layout, so aligned faces are framed like margin crops.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facerec import FaceRecognizer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lfw_train"


def main() -> None:
    recognizer = FaceRecognizer()
    relative = []
    for path in sorted(DATA.rglob("*.jpg")):
        faces = recognizer.detect(path)
        if not faces:
            continue
        face = faces[0]
        x1, y1, x2, y2 = face.box
        points = np.asarray(face.landmarks)
        relative.append((points - [x1, y1]) / [x2 - x1, y2 - y1])
    mean = np.mean(relative, axis=0)
    print(f"{len(relative)} faces")
    print("[" + ", ".join(f"[{x:.4f}, {y:.4f}]" for x, y in mean) + "]")


if __name__ == "__main__":
    main()
