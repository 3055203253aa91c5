"""Detection speed: facerec's MTCNN against facenet-pytorch 2.6.0, measured in the same run.

    python benchmarks/detect_speed.py [--reference-python /tmp/venv-facenet-pytorch/bin/python]

Prints the median latency of one detection (JPEG decode included, 2 threads) at 640x480, 1280x720
and 1920x1080 on real photos from ../shared/data, and images/s for a batch of 16 frames. With
``--reference-python`` (a venv with facenet-pytorch, see ../shared/tools/) the same measurements
run there too and the ratios facerec / facenet-pytorch are printed. The reference is never a
dependency of facerec.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PHOTOS = [
    "face_recognition/examples/obama-1080p.jpg",
    "facenet_pytorch/multiface.jpg",
    "detection_gt/bald_guys.jpg",
]
SIZES = [(640, 480), (1280, 720), (1920, 1080)]
BATCH_PHOTOS = [
    "face_recognition/examples/obama-1080p.jpg",
    "facenet_pytorch/multiface.jpg",
    "detection_gt/bald_guys.jpg",
    "faceapi_bbt/examples_images/bbt1.jpg",
]
BATCH_SIZE = (1280, 720)


def frame(photo: str, size: tuple[int, int]) -> bytes:
    """The photo cropped to the aspect ratio of ``size``, resized to it, as JPEG bytes (quality 95)."""
    image = Image.open(DATA / photo).convert("RGB")
    w, h = image.size
    target = size[0] / size[1]
    if w / h > target:
        new_w = round(h * target)
        image = image.crop(((w - new_w) // 2, 0, (w - new_w) // 2 + new_w, h))
    else:
        new_h = round(w / target)
        image = image.crop((0, (h - new_h) // 2, w, (h - new_h) // 2 + new_h))
    out = io.BytesIO()
    image.resize(size, Image.BILINEAR).save(out, "JPEG", quality=95)
    return out.getvalue()


def make_backend(name: str):
    """A function bytes-list -> faces-per-image, decode included, for one implementation."""
    import torch

    torch.set_num_threads(2)
    if name == "facerec":
        import cv2

        cv2.setNumThreads(2)
        from facerec import DetectorConfig, FaceRecognizer

        # MTCNN's own settings (20 px), as facenet-pytorch's; recognition searches from 40 px
        recognizer = FaceRecognizer(detector=DetectorConfig())
        return lambda frames: [len(faces) for faces in recognizer.detect_many(frames)]
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(keep_all=True)

    def detect(frames):
        images = [Image.open(io.BytesIO(f)).convert("RGB") for f in frames]
        boxes, _ = mtcnn.detect(images)
        return [0 if b is None else len(b) for b in boxes]

    return detect


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(name: str, repeats: int) -> dict:
    detect = make_backend(name)
    results = {}
    for width, height in SIZES:
        per_photo, faces = [], []
        for photo in PHOTOS:
            data = frame(photo, (width, height))
            seconds, found = timed(lambda data=data: detect([data]), repeats)
            per_photo.append(seconds * 1000)
            faces.append(found[0])
        results[f"{width}x{height}"] = {"ms": per_photo, "faces": faces}
    batch = [frame(BATCH_PHOTOS[i % len(BATCH_PHOTOS)], BATCH_SIZE) for i in range(16)]
    seconds, _ = timed(lambda: detect(batch), max(3, repeats // 3))
    results["batch16"] = {"images_per_s": 16 / seconds}
    return results


def report(ours: dict, reference: dict | None) -> None:
    names = [Path(p).name for p in PHOTOS]
    print(f"detection latency, median ms (2 threads, decode included); photos: {', '.join(names)}")
    for size in (f"{w}x{h}" for w, h in SIZES):
        mine = ours[size]["ms"]
        line = f"  {size:>9}  facerec " + " / ".join(f"{v:6.1f}" for v in mine)
        if reference:
            theirs = reference[size]["ms"]
            ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
            line += "   facenet-pytorch " + " / ".join(f"{v:6.1f}" for v in theirs)
            line += "   ratio " + " / ".join(f"{r:.2f}" for r in ratios) + f"  (mean {np.mean(ratios):.2f})"
        print(line + f"   faces {ours[size]['faces']}")
    line = f"  batch of 16 x {BATCH_SIZE[0]}x{BATCH_SIZE[1]}: facerec {ours['batch16']['images_per_s']:.1f} images/s"
    if reference:
        theirs = reference["batch16"]["images_per_s"]
        line += f", facenet-pytorch {theirs:.1f} images/s, speed-up {ours['batch16']['images_per_s'] / theirs:.2f}x"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", help="python of a venv with facenet-pytorch 2.6.0")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--backend", default="facerec", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.backend, args.repeats)))
        return
    reference = None
    if args.reference_python:
        out = subprocess.run(
            [args.reference_python, __file__, "--backend", "facenet-pytorch", "--json", "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        reference = json.loads(out.stdout.strip().splitlines()[-1])
    report(measure("facerec", args.repeats), reference)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
