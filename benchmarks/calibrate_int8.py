"""Measure FaceNet's int8 activation ranges once, on faces outside every evaluation set.

    python benchmarks/calibrate_int8.py [--model casia-webface]

Every face the recogniser's detector finds in the photos of ../shared/data outside LFW (and
outside the liveness and bad-input folders), cropped with the model's preprocessing, goes through
the fp32 ONNX graph; the min/max of each activation that the quantizer quantizes is written to
``weights/inception_resnet_v1/<weights>-int8-ranges.json``, and the manifest's ``int8_ranges`` entry
(sha256, size) is updated. LFW fold 1 (accuracy) and lfw_train (open-set operating point) stay
unseen by it, so the figures measured on them with int8 are measured on people the ranges never saw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facerec import FaceRecognizer  # noqa: E402
from facerec.embedding.embedder import fp32_graph, standardise  # noqa: E402
from facerec.runtime import quantize, weights  # noqa: E402

DATA = REPO.parent / "shared" / "data"
LEFT_OUT = {"lfw_fold1", "lfw_train", "antispoof", "bad_inputs"}
SUFFIXES = {".jpg", ".jpeg", ".png"}


def calibration_photos() -> list[Path]:
    return sorted(
        p
        for folder in sorted(DATA.iterdir())
        if folder.is_dir() and folder.name not in LEFT_OUT
        for p in folder.rglob("*")
        if p.suffix.lower() in SUFFIXES
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=weights.default_model())
    args = parser.parse_args()
    recognizer = FaceRecognizer(model=args.model, precision="fp32")
    embedder = recognizer.embedder
    crops = []
    photos = calibration_photos()
    for photo in photos:
        image = recognizer.load(photo)
        faces = recognizer.detector.detect(image)
        if faces:
            crops.append(embedder.crops(image, faces))
    crops = np.concatenate(crops)
    print(f"{len(crops)} faces from {len(photos)} photos outside LFW")
    graph = fp32_graph(embedder.spec, embedder.weights_path)
    if not isinstance(graph, Path):
        sys.exit("the ONNX cache cannot be written; calibration needs the fp32 graph on disk")
    started = time.perf_counter()
    batches = ({"input": standardise(crops[i : i + 16])} for i in range(0, len(crops), 16))
    ranges = quantize.calibrate(graph, batches)
    print(f"{len(ranges)} activation ranges in {time.perf_counter() - started:.1f} s")

    weights_file = embedder.spec.files["weights"]
    target = REPO / "weights" / Path(weights_file.path).with_name(Path(weights_file.path).stem + "-int8-ranges.json")
    about = {
        "model": embedder.model,
        "weights_sha256": weights_file.sha256,
        "method": "MinMax over the outputs quantize_static quantizes (facerec.runtime.quantize.calibrate)",
        "data": f"{len(crops)} faces of {len(photos)} photos of ../shared/data outside LFW, antispoof, bad_inputs",
        "preprocessing": embedder.preprocessing.__dict__,
        "made_by": "benchmarks/calibrate_int8.py",
    }
    quantize.write_ranges(target, ranges, about)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    manifest_path = REPO / "weights" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = {"path": str(target.relative_to(REPO / "weights")), "sha256": digest, "size": target.stat().st_size}
    manifest["models"][embedder.model]["files"]["int8_ranges"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {target.relative_to(REPO)} ({entry['size']} bytes, sha256 {digest[:16]}...) and its manifest entry")


if __name__ == "__main__":
    main()
