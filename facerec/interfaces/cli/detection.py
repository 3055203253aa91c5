"""``facerec detect`` and ``liveness``: where the faces are, and whether they are live ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facerec.interfaces.cli.inputs import annotated_path, box_text, for_each_file
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import (
    DeviceOption,
    JsonOption,
    LivenessThresholdOption,
    MinFaceOption,
    ThreadsOption,
)
from facerec.interfaces.cli.settings import recognizer_for


@app.command()
def detect(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(help="Photos, or folders of photos (recursive).", show_default=False)],
    json_out: JsonOption = False,
    annotate: Annotated[
        Path | None, typer.Option("--annotate", help="Write copies with boxes and landmarks drawn into DIR.")
    ] = None,
    min_face_size: MinFaceOption = 20.0,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
) -> None:
    """Find every face in each image: box, confidence and five landmarks."""
    from facerec.annotate import draw_faces, save_rgb
    from facerec.detection.mtcnn import DetectorConfig

    recognizer = recognizer_for(ctx, threads, device, detector=DetectorConfig(min_face_size=min_face_size))
    if annotate is not None:
        annotate.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()

    def work(source: str) -> tuple[dict, list[str]]:
        pixels = recognizer.load(source)
        faces = recognizer.detector.detect(pixels)
        if annotate is not None:
            save_rgb(str(annotated_path(annotate, source, written)), draw_faces(pixels, faces))
        lines = [f"box {box_text(face.box)}\tconfidence {face.confidence:.4f}" for face in faces]
        return {"faces": [face.to_dict() for face in faces]}, lines

    for_each_file(images, "detecting", json_out, work)


@app.command()
def liveness(
    ctx: typer.Context,
    images: Annotated[
        list[str], typer.Argument(help="Photos or folders of them (camera frames work best).", show_default=False)
    ],
    json_out: JsonOption = False,
    threshold: LivenessThresholdOption = None,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
) -> None:
    """Is each face a live one, or a print or a screen held up to the camera? (MiniFASNet)"""
    recognizer = recognizer_for(ctx, threads, device, liveness_threshold=threshold)

    def work(source: str) -> tuple[dict, list[str]]:
        found = recognizer.liveness(source)
        faces = [face.to_dict() | verdict.to_dict() for face, verdict in found]
        for entry in faces:
            del entry["keypoints"]
        lines = [
            f"box {box_text(face.box)}	{'live' if verdict.live else 'not live'}	score {verdict.score:.4f}"
            for face, verdict in found
        ]
        return {"faces": faces}, lines

    for_each_file(images, "checking liveness", json_out, work)
