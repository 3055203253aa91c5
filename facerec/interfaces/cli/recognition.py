"""``facerec enroll`` and ``identify``: people put in the store from photos, clips or a camera,
and named in photos and clips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from facerec.identity.quality import QualityGate
from facerec.interfaces.cli.console import progress_bar, stderr
from facerec.interfaces.cli.errors import fail
from facerec.interfaces.cli.inputs import annotated_path, box_text, files_in, for_each_file
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import (
    DbOption,
    DeviceOption,
    JsonOption,
    LargestOption,
    MinFaceOption,
    ModelOption,
    ThreadsOption,
    ThresholdOption,
)
from facerec.interfaces.cli.settings import recognizer_for
from facerec.types import counted


@app.command()
def enroll(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The person's name (added to if enrolled already).")],
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Photos, folders of photos (recursive), or video clips of the person.", show_default=False),
    ] = None,
    camera: Annotated[
        str | None,
        typer.Option("--camera", help="Enrol from a camera (index) or stream URL for --seconds, the person alone."),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", min=0.5, help="How long --camera is watched.")] = 10.0,
    faces: Annotated[int, typer.Option("--faces", min=1, help="Samples taken from each clip or camera.")] = 5,
    json_out: JsonOption = False,
    largest: LargestOption = False,
    liveness: Annotated[
        bool, typer.Option("--liveness", help="Skip photos whose face is not a live one (a print or a screen).")
    ] = False,
    allow_duplicate: Annotated[
        bool,
        typer.Option("--allow-duplicate", help="Enrol a face even if it is enrolled already as someone else (twins)."),
    ] = False,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Enrol a person from photos or video: one transaction; photos without exactly one good face,
    and faces enrolled already as someone else, are skipped. From a clip (or --camera), the person
    is followed and the --faces best, most varied frames become samples; a clip with several
    people in view is refused."""
    from facerec.attendance import sources

    recognizer = recognizer_for(ctx, threads, device, model, db)
    if not paths and camera is None:
        fail("give photos, folders, clips or --camera")
    files = files_in(paths) if paths else []
    videos = [f for f in files if sources.is_video(f)]
    images: list = [f for f in files if f not in videos]
    images += _faces_from_video(recognizer, videos, camera, seconds, faces)
    with progress_bar(len(images)) as progress:
        task = progress.add_task(f"enrolling {name}", total=len(images))
        report = recognizer.enroll(
            name,
            images,
            largest=largest or bool(videos or camera),
            liveness=liveness,
            allow_duplicate=allow_duplicate,
            progress=lambda done, total: progress.update(task, completed=done),
        )
    for skipped in report.skipped:
        stderr.print(f"skipped {skipped.file}: {skipped.reason}", highlight=False)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(
            f"{report.name}: added {len(report.added)}, skipped {len(report.skipped)}, "
            f"{counted(report.samples, 'sample')} held"
        )
    if not report.added:
        fail(f"no photo of {name} was added")


def _faces_from_video(recognizer, videos: list[str], camera: str | None, seconds: float, count: int) -> list:
    """(label, PNG) images of the person's best faces in each clip and in --camera's view."""
    import threading

    from facerec.attendance import clips, sources

    found: list = []
    for video in videos:
        picked = clips.enrollment_faces(recognizer, sources.frames(video, fps=10), count=count, label=video)
        stderr.print(f"{video}: {len(picked.images)} faces taken of {picked.considered} good ones", highlight=False)
        found += picked.images
    if camera is not None:
        stop = threading.Event()
        timer = threading.Timer(seconds, stop.set)
        stderr.print(f"watching {camera} for {seconds:g} s: one person alone, looking at the camera", highlight=False)
        timer.start()
        try:
            feed = sources.frames(camera, fps=10, stop=stop, reconnect=False)
            picked = clips.enrollment_faces(recognizer, feed, count=count, label=camera)
        finally:
            timer.cancel()
            stop.set()
        found += picked.images
    return found


@app.command()
def identify(
    ctx: typer.Context,
    images: Annotated[
        list[str], typer.Argument(help="Photos, folders of photos (recursive), or video clips.", show_default=False)
    ],
    json_out: JsonOption = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Candidates to list per face.")] = 1,
    threshold: ThresholdOption = None,
    liveness: Annotated[
        bool, typer.Option("--liveness", help="Also say whether each face is a live one (not a print or a screen).")
    ] = False,
    annotate: Annotated[Path | None, typer.Option("--annotate", help="Write copies with names drawn into DIR.")] = None,
    min_face_size: MinFaceOption = QualityGate().min_face_px,  # enrolment's smallest face: see FaceRecognizer
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
) -> None:
    """Name every face of each photo (40 px and larger unless --min-face-size), or say unknown. A
    video clip is answered per person seen in it (each face track: name or unknown, time range,
    frames, best similarity), decided on all of the track's faces, not frame by frame."""
    from facerec.annotate import draw_faces, save_rgb
    from facerec.attendance import sources
    from facerec.detection.mtcnn import DetectorConfig

    recognizer = recognizer_for(ctx, threads, device, model, db, detector=DetectorConfig(min_face_size=min_face_size))
    if annotate is not None:
        annotate.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()

    def work(source: str) -> tuple[dict, list[str]]:
        if sources.is_video(source):
            return _identify_video(recognizer, source, top_k, threshold)
        pixels = recognizer.load(source)  # decoded once, for matching and for drawing
        found = recognizer.identify(pixels, top_k=top_k, threshold=threshold, liveness=liveness)
        if annotate is not None:
            labels = [f"{i.match.name or 'unknown'} {i.match.similarity:.2f}" for i in found]
            save_rgb(
                str(annotated_path(annotate, source, written)), draw_faces(pixels, [i.face for i in found], labels)
            )
        lines = [
            f"box {box_text(i.face.box)}\t{i.match.name or 'unknown'}\tsimilarity {i.match.similarity:.4f}"
            + (f"\t{'live' if i.liveness.live else 'not live'} {i.liveness.score:.4f}" if i.liveness else "")
            for i in found
        ]
        return {"faces": [i.to_dict() for i in found]}, lines

    for_each_file(images, "identifying", json_out, work)


def _identify_video(recognizer, clip: str, top_k: int, threshold: float | None) -> tuple[dict, list[str]]:
    from facerec.attendance import clips, sources

    answers = clips.identify_video(
        recognizer, sources.frames(clip, fps=25, start=datetime.fromtimestamp(0, UTC)), threshold=threshold, top_k=top_k
    )
    lines = [
        f"track {a.track}\t{a.name or 'unknown'}\tsimilarity {a.similarity:.4f}\t"
        f"{a.first.timestamp():.2f}-{a.last.timestamp():.2f} s\t{a.frames} frames\tbox {box_text(a.box)}"
        for a in answers
    ]
    return {"tracks": [a.to_dict() | _seconds(a) for a in answers]}, lines or ["no face tracks"]


def _seconds(answer) -> dict:
    """Times in a clip as seconds from its start (a file has no wall clock)."""
    return {"start": round(answer.first.timestamp(), 3), "end": round(answer.last.timestamp(), 3)}
