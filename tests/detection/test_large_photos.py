"""Photos larger than DETECT_MAX_PIXELS: the same faces as facenet-pytorch's cascade on the whole
photo, within a bounded memory.

The photos are built here from real faces of ../shared/data: faces placed at 1000-1500 px on
4000 x 3000 and 6000 x 4000 canvases, and a real group photo upscaled. facenet-pytorch is not a
dependency, so the reference is its cascade to the letter on the whole photo: facerec's detector
with ``max_pixels=None`` (one summed-area table of the photo, every pyramid level), the code that
test_detector_parity.py holds to facenet-pytorch's own output on 930 photos. The detector under
test makes its levels and crops from the photo in parts (area.level, area.window_crops).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_detector_parity import CONFIDENT, Parity, _iou

from facerec.detection.mtcnn import MTCNN, area
from facerec.images import load_image

REPO = Path(__file__).resolve().parents[2]
# Background: a photo with no human face (dogs), scaled up to the canvas.
BACKGROUND = "detection_gt/dogs.jpg"
# (photo, its face's box there as facenet-pytorch gives it (mtcnn.json), face width on the canvas, where)
Placed = tuple[str, tuple[int, int, int, int], int, tuple[int, int]]
OBAMA = "face_recognition/examples/obama.jpg", (367, 79, 616, 428)
BIDEN = "face_recognition/examples/biden.jpg", (427, 167, 714, 560)
MIRANDA = "face_recognition/examples/lin-manuel-miranda.png", (256, 119, 535, 497)


def _placed(data: Path, width: int, height: int, faces: list[Placed]) -> np.ndarray:
    """A canvas with each face (and some of its head and shoulders) scaled to its width and put at
    its place."""
    canvas = cv2.resize(load_image(data / BACKGROUND), (width, height), interpolation=cv2.INTER_CUBIC)
    for name, (x1, y1, x2, y2), face_width, (left, top) in faces:
        photo = load_image(data / name)
        factor = face_width / (x2 - x1)
        centre_x, centre_y, reach = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.8
        x0, y0 = max(0, int(centre_x - reach)), max(0, int(centre_y - 1.2 * reach))
        x1_, y1_ = min(photo.shape[1], int(centre_x + reach)), min(photo.shape[0], int(centre_y + 1.2 * reach))
        size = (round((x1_ - x0) * factor), round((y1_ - y0) * factor))
        part = cv2.resize(photo[y0:y1_, x0:x1_], size, interpolation=cv2.INTER_CUBIC)
        assert top + part.shape[0] <= height and left + part.shape[1] <= width
        canvas[top : top + part.shape[0], left : left + part.shape[1]] = part
    return canvas


def _upscaled(data: Path, name: str, width: int) -> np.ndarray:
    photo = load_image(data / name)
    return cv2.resize(photo, (width, round(photo.shape[0] * width / photo.shape[1])), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def photos(data):
    made = {
        "4000x3000, faces of 1000 and 1300 px": _placed(
            data, 4000, 3000, [(*OBAMA, 1000, (200, 150)), (*BIDEN, 1300, (1880, 300))]
        ),
        "6000x4000, faces of 1200 and 1500 px": _placed(
            data, 6000, 4000, [(*OBAMA, 1200, (300, 200)), (*MIRANDA, 1500, (3000, 400))]
        ),
        "multiface.jpg x5 (6 faces)": _upscaled(data, "facenet_pytorch/multiface.jpg", 6000),
    }
    for pixels in made.values():
        assert pixels.shape[0] * pixels.shape[1] > area.DETECT_MAX_PIXELS
    return made


@pytest.fixture(scope="module")
def reference(photos):
    """facenet-pytorch's cascade on each whole photo (see the module's docstring)."""
    whole = MTCNN(backend="onnx", native_pnet=False, max_pixels=None)
    return {name: whole.detect(pixels) for name, pixels in photos.items()}


@pytest.fixture(scope="module")
def found(photos, detector):
    """What the detector under test (the default one) finds on each photo."""
    return {name: detector.detect(pixels) for name, pixels in photos.items()}


def test_large_photos_match_the_cascade_on_the_whole_photo(reference, found):
    """As test_detector_parity.py asks of smaller photos: every confident face found with IoU >=
    0.95, confidence within 0.01, landmarks within 2 px, and no confident face more."""
    parity = Parity()
    for name in found:
        parity.check(name, found[name], [(f.box, f.confidence, f.landmarks) for f in reference[name]])
    widths = parity.widths
    print(f"checked {len(widths)} faces of {min(widths):.0f} to {max(widths):.0f} px; worst: {parity.worst}")
    assert len(widths) == 10 and max(widths) >= 1400 and sum(w >= 950 for w in widths) == 4
    assert not parity.problems, "\n".join(parity.problems)


def test_liveness_scores_on_large_photos_stay_with_the_vendors(photos, reference, found):
    """MiniFASNet's crops are cut around the detector's boxes; the vendor's boxes are
    facenet-pytorch's (the reference's), through which test_liveness.py holds the networks to the
    vendor's scores. On large photos the score from our boxes stays within 0.02 of it (before,
    from the reduced copy's boxes: 0.033 on average, 0.23 at worst, on photos like these)."""
    from facerec.liveness import LivenessChecker

    checker = LivenessChecker()
    drifts = []
    for name, pixels in photos.items():
        for ref in (face for face in reference[name] if face.confidence >= CONFIDENT):
            ours = max(found[name], key=lambda f: _iou(f.box, ref.box))
            ours_score, vendor_score = (verdict.score for verdict in checker.check(pixels, [ours, ref]))
            drifts.append(abs(ours_score - vendor_score))
    print(f"liveness drift on {len(drifts)} faces: mean {np.mean(drifts):.4f}, largest {max(drifts):.4f}")
    assert len(drifts) == 10 and max(drifts) <= 0.02


# A 36 MP photo (7200 x 5000) with a real face of 500 px, detected in a fresh process: how far its
# peak resident memory rises above what it held before (the photo included). The peak is the
# process's, so anything made before that was larger would count against the detector, never for it.
PEAK_SCRIPT = """
import json, sys
import cv2, numpy as np
from facerec.detection.mtcnn import MTCNN
from facerec.images import load_image


def memory(field):  # kB; VmHWM is this process's own peak (ru_maxrss starts at its parent's)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


detector = MTCNN()
face = load_image(sys.argv[1])
detector.detect(face)
photo = np.empty((5000, 7200, 3), np.uint8)  # made in place: no transient copy of its size
cv2.resize(load_image(sys.argv[2]), (7200, 5000), dst=photo, interpolation=cv2.INTER_CUBIC)
photo[500 : 500 + 2 * face.shape[0], 2000 : 2000 + 2 * face.shape[1]] = cv2.resize(face, None, fx=2, fy=2)
resident = memory("VmRSS")
faces = detector.detect(photo)
print(json.dumps({"rise_kb": memory("VmHWM") - resident, "faces": [f.box for f in faces if f.confidence >= 0.9]}))
"""


def test_a_36_megapixel_photo_needs_less_memory_than_its_reduced_copy_did(data):
    """Before, a photo past DETECT_MAX_PIXELS was searched on an area-reduced copy of 8.4 MP with an
    int32 summed-area table of it, 120 MiB together; the peak rise of this script was 127 MiB then
    (70 MiB now). Nothing of the photo's size is made any more: the rise must stay under what
    the copy and its table alone took."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(data / OBAMA[0]), str(data / BACKGROUND)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    copy_and_table = area.DETECT_MAX_PIXELS * 3 * (1 + 4)  # uint8 pixels, int32 sums
    print(f"peak rise {measured['rise_kb'] / 1024:.0f} MiB; reduced copy and table: {copy_and_table / 2**20:.0f} MiB")
    assert max(x2 - x1 for x1, _, x2, _ in measured["faces"]) > 450  # Obama, at twice his size
    assert measured["rise_kb"] * 1024 < copy_and_table
