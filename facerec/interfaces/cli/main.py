"""The root of the ``facerec`` command: the Typer app every command registers on, and the options
given before any command (kept in ``ctx.obj``: see :mod:`facerec.interfaces.cli.settings`)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

import facerec
from facerec.interfaces.cli.console import show_preparation
from facerec.interfaces.cli.errors import ReportingGroup
from facerec.interfaces.cli.options import (
    BackendOption,
    DbOption,
    DeviceOption,
    IndexOption,
    ModelOption,
    ThreadsOption,
)
from facerec.interfaces.cli.settings import Settings

app = typer.Typer(
    name="facerec",
    help="Face detection and recognition: MTCNN + FaceNet, from the shell.",
    cls=ReportingGroup,  # every command's errors: one line and exit code 1 (facerec.interfaces.cli.errors)
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from facerec.detection.mtcnn import native

        # Whether detection runs on facerec's C kernel is what a slow install most often hides.
        kernel = native.kernel()
        typer.echo(f"facerec {facerec.__version__}")
        typer.echo(
            f"detection kernel: {kernel.INSTRUCTION_SET}"
            if kernel
            else "detection kernel: not built (P-Net, NMS and crops run on ONNX Runtime and numpy)"
        )
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    model: ModelOption = None,
    db: DbOption = None,
    backend: BackendOption = "auto",
    index: IndexOption = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    show_preparation()
    ctx.obj = Settings(backend=backend, index=index).merged(threads, device, model, db)
