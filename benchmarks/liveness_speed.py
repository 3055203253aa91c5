"""What liveness costs: the two MiniFASNet networks per face next to FaceNet, and attend's frames/s.

    python benchmarks/liveness_speed.py

1. Milliseconds per face for the liveness check (both networks, crops included) and for FaceNet's
   embedding of the same face, on one face and on a batch of 8, ONNX Runtime (the CPU default).
2. `facerec attend`'s processing rate on the recorded camera of the tests (640x480, a face in
   most frames) with and without --liveness, the two taking turns frame by frame (this VM's speed
   drifts within seconds), as Attendance.process runs them.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import camera  # noqa: E402

from facerec import FaceRecognizer  # noqa: E402
from facerec.attendance.checkins import Attendance  # noqa: E402
from facerec.detection import choose  # noqa: E402
from facerec.images import load_image  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def median_ms(work, repeats: int = 30) -> float:
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    recognizer = FaceRecognizer(threads=2)
    pixels = load_image(DATA / "antispoof/image_T1.jpg")
    face = choose.confident(recognizer.detector.detect(pixels))[0]
    checker, embedder = recognizer.liveness_checker, recognizer.embedder
    print("ms per face (ONNX Runtime, 2 threads)   1 face   8 faces (per face)")
    for label, work in (
        ("liveness (2 networks + crops)", lambda faces: checker.check(pixels, faces)),
        ("FaceNet embedding (+ crop)", lambda faces: embedder.embed_faces(pixels, faces)),
    ):
        one = median_ms(lambda work=work: work([face]))
        eight = median_ms(lambda work=work: work([face] * 8)) / 8
        print(f"  {label:36s} {one:7.2f}  {eight:7.2f}")

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/store.db"
        people = FaceRecognizer(db=url, threads=2)
        train = DATA / "face_recognition/examples/knn_examples/train"
        for name in ("obama", "biden", "kit_harington"):
            people.enroll(name, sorted((train / name).iterdir()))
        frames = camera.frames(DATA)
        doors = {flag: Attendance(people, f"door-{flag}", liveness=flag) for flag in (False, True)}
        spent = {False: [], True: []}
        start = datetime(2026, 12, 1, 9, tzinfo=UTC)
        for i, frame in enumerate(frames[::2]):  # 5 frames per second, as attend's default
            for flag in (False, True) if i % 2 else (True, False):
                began = time.perf_counter()
                doors[flag].process(frame, start + timedelta(seconds=i / 5))
                spent[flag].append(time.perf_counter() - began)
    without, with_ = (statistics.mean(spent[flag]) for flag in (False, True))
    print(f"\nattend on the recorded camera ({len(spent[False])} frames, 640x480, each taking turns):")
    print(f"  without liveness  {1 / without:6.1f} frames/s  ({1000 * without:.1f} ms a frame)")
    print(f"  with liveness     {1 / with_:6.1f} frames/s  ({1000 * with_:.1f} ms a frame, {with_ / without:.2f}x)")


if __name__ == "__main__":
    main()
