"""What the commands that take many photos share: folders expanded, one file's failure reported
without stopping the others, annotated copies named apart, boxes written the same way."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from facerec.errors import FacerecError
from facerec.interfaces.cli.console import progress_bar, stderr
from facerec.interfaces.cli.errors import EXIT_FAILED, fail
from facerec.types import xywh

# One file's work: its JSON entry (without "file") and its lines of text (none: "no faces").
FileWork = Callable[[str], tuple[dict, list[str]]]


def annotated_path(folder: Path, source: str, used: set[Path]) -> Path:
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


def box_text(box: Sequence[float]) -> str:
    """Any box (a face's, a track's) as every command writes it in text: the numbers of the JSON
    output, x,y,width,height with one decimal (facerec.types.xywh)."""
    return ",".join(f"{v:.1f}" for v in xywh(box))


def files_in(paths: list[str]) -> list[str]:
    """Files as given, and every file under folders (recursively, in name order); none is an error."""
    from facerec.images import image_paths

    files = image_paths(paths)
    if not files:
        fail(f"no files found in {', '.join(paths)}")
    return files


def for_each_file(images: list[str], label: str, json_out: bool, work: FileWork) -> None:
    """Run ``work(source) -> (json entry, text lines)`` on each file (folders: every file under
    them), reporting failures per file.

    Prints the JSON array (``--json``) or each file's lines ("no faces" for none) on stdout, errors
    on stderr, and exits 1 if any file failed.
    """
    images = files_in(images)
    results: list[dict] = []
    failed = False
    with progress_bar(len(images)) as progress:
        task = progress.add_task(label, total=len(images))
        for source in images:
            try:
                entry, lines = work(source)
            except (FacerecError, OSError) as exc:
                failed = True
                stderr.print(f"[red]error:[/red] {exc}", highlight=False)
                results.append({"file": source, "error": str(exc)})
            else:
                results.append({"file": source} | entry)
                if not json_out:
                    for line in lines or ["no faces"]:
                        typer.echo(f"{source}\t{line}")
            progress.advance(task)
    if json_out:
        typer.echo(json.dumps(results, indent=2))
    if failed:
        raise typer.Exit(EXIT_FAILED)
