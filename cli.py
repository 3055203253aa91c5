"""The ``facerec`` command: parse options, call the library, format text or JSON, map errors to exit codes.

Conventions every command follows:
- ``--json`` puts only the JSON document on stdout; progress, logs and warnings go to stderr.
- Options that apply to every command (``--threads``, ``--device``) are accepted before the command
  and after it; the one given after the command wins.
- With several inputs, a file that fails is reported (a line on stderr, an ``error`` entry in the
  JSON) and the others go on; the exit code is then 1. Usage errors exit with 2.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import facerec
from facerec.errors import FacerecError

app = typer.Typer(
    name="facerec",
    help="Face detection and recognition: MTCNN + FaceNet, from the shell.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("facerec")

EXIT_FAILED = 1

ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="CPU threads for torch and OpenCV.", show_default=False)
]
DeviceOption = Annotated[str | None, typer.Option("--device", help="Compute device: cpu (default) or cuda.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@dataclass(frozen=True)
class Settings:
    """Options shared by every command."""

    threads: int | None = None
    device: str = "cpu"

    def merged(self, threads: int | None, device: str | None) -> Settings:
        """These settings overridden by the same options given after the command."""
        return Settings(threads if threads is not None else self.threads, device or self.device)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"facerec {facerec.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    ctx.obj = Settings().merged(threads, device)


def _recognizer(ctx: typer.Context, threads: int | None, device: str | None, **kwargs) -> facerec.FaceRecognizer:
    settings = (ctx.obj or Settings()).merged(threads, device)
    from facerec.runtime import set_threads

    try:
        set_threads(settings.threads)
        return facerec.FaceRecognizer(device=settings.device, **kwargs)
    except FacerecError as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    stderr.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(EXIT_FAILED)


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=total < 2,
    )


def _annotated_path(folder: Path, source: str, used: set[Path]) -> Path:
    """Where the annotated copy of ``source`` goes: same name, numbered if two inputs share it."""
    name = Path(source)
    suffix = (
        name.suffix.lower()
        if name.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
        else ".png"
    )
    target = folder / f"{name.stem}{suffix}"
    n = 1
    while target in used:
        target = folder / f"{name.stem}_{n}{suffix}"
        n += 1
    used.add(target)
    return target


@app.command()
def detect(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(help="Image files.", show_default=False)],
    json_out: JsonOption = False,
    annotate: Annotated[
        Path | None, typer.Option("--annotate", help="Write copies with boxes and landmarks drawn into DIR.")
    ] = None,
    min_face_size: Annotated[
        float, typer.Option("--min-face-size", min=1.0, help="Smallest face to find, pixels.")
    ] = 20.0,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
) -> None:
    """Find every face in each image: box, confidence and five landmarks."""
    from facerec.annotate import draw_faces, save_rgb
    from facerec.mtcnn import DetectorConfig

    recognizer = _recognizer(ctx, threads, device, detector=DetectorConfig(min_face_size=min_face_size))
    if annotate is not None:
        annotate.mkdir(parents=True, exist_ok=True)
    results, failed, written = [], False, set()
    with _progress(len(images)) as progress:
        task = progress.add_task("detecting", total=len(images))
        for source in images:
            try:
                pixels = recognizer.load(source)
                faces = recognizer.detector.detect(pixels)
                if annotate is not None:
                    save_rgb(str(_annotated_path(annotate, source, written)), draw_faces(pixels, faces))
            except (FacerecError, OSError) as exc:
                failed = True
                message = str(exc)
                stderr.print(f"[red]error:[/red] {message}", highlight=False)
                results.append({"file": source, "error": message})
            else:
                results.append({"file": source, "faces": [face.to_dict() for face in faces]})
                if not json_out:
                    _print_faces(source, faces)
            progress.advance(task)
    if json_out:
        typer.echo(json.dumps(results, indent=2))
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _print_faces(source: str, faces: list[facerec.Face]) -> None:
    if not faces:
        typer.echo(f"{source}\tno faces")
    for face in faces:
        x1, y1, x2, y2 = face.box
        typer.echo(f"{source}\tbox {x1:.1f},{y1:.1f},{x2:.1f},{y2:.1f}\tconfidence {face.confidence:.4f}")


if __name__ == "__main__":
    app()
