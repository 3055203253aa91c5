"""What every ``facerec`` command shares: the Typer app, common options, settings, errors, progress.

The commands live in ``cli.py`` (detection, recognition, the identity store) and in
``facerec/cli_attendance.py`` and ``facerec/cli_train.py``, which register on this app.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, NoReturn

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

EXIT_FAILED = 1

ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="CPU threads for the networks and OpenCV.", show_default=False)
]
IndexOption = Annotated[
    str,
    typer.Option(
        "--index",
        help="What answers identify: auto (pgvector on a PostgreSQL store that has the extension, else faiss), "
        "faiss (an index beside the store, in each process) or pgvector (PostgreSQL searches).",
    ),
]
BackendOption = Annotated[
    str,
    typer.Option("--backend", help="Network runtime: auto (ONNX Runtime on the CPU, torch on a GPU), onnx or torch."),
]
DeviceOption = Annotated[str | None, typer.Option("--device", help="Compute device: cpu (default) or cuda.")]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Embedding model: a manifest name (default casia-webface) or a facerec train file."),
]
MarginOption = Annotated[
    float | None, typer.Option("--margin", min=0, help="Crop margin in pixels of the 160 px crop (model default).")
]
AlignOption = Annotated[str | None, typer.Option("--align", help="crop (box + margin) or similarity (5-point).")]
FlipOption = Annotated[
    bool | None, typer.Option("--flip/--no-flip", help="Add the mirror image's embedding (model default).")
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The store: a SQLite file (PATH.db, or sqlite:///PATH) or postgresql+psycopg://...; "
        "default in $FACEREC_HOME.",
    ),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="auto (int8 on the CPU where the model ships int8 ranges, else fp32), fp32 (the reference), "
        "int8 (ONNX Runtime) or bf16 (torch).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
MinFaceOption = Annotated[
    float,
    typer.Option(
        "--min-face-size", min=1.0, help="Smallest face to find, pixels (a larger one searches less: faster)."
    ),
]
LargestOption = Annotated[
    bool,
    typer.Option(
        "--largest",
        help="In a photo with several faces, take one: the largest "
        "(enroll: the one most like the person's other photos).",
    ),
]
LivenessThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--liveness-threshold",
        min=0.0,
        max=1.0,
        help="Real-face score a live face needs (default: the vendor's rule, real the likeliest class).",
    ),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help="Cosine similarity a face needs to be named (default: the model's operating point for the gallery's size, "
        "or the store's calibrated threshold).",
    ),
]


@dataclass(frozen=True)
class Settings:
    """Options shared by every command."""

    threads: int | None = None
    device: str = "cpu"
    model: str | None = None
    db: str | None = None
    backend: str = "auto"  # given before the command only
    index: str = "auto"  # given before the command only

    def merged(
        self, threads: int | None, device: str | None, model: str | None = None, db: str | None = None
    ) -> Settings:
        """These settings overridden by the same options given after the command."""
        return Settings(
            threads if threads is not None else self.threads,
            device or self.device,
            model or self.model,
            db or self.db,
            self.backend,
            self.index,
        )


def recognizer_for(
    ctx: typer.Context,
    threads: int | None,
    device: str | None,
    model: str | None = None,
    db: str | None = None,
    **kwargs,
) -> facerec.FaceRecognizer:
    settings = (ctx.obj or Settings()).merged(threads, device, model, db)
    from facerec.runtime.settings import set_threads

    try:
        set_threads(settings.threads)
        return facerec.FaceRecognizer(
            device=settings.device,
            backend=settings.backend,
            threads=settings.threads,
            model=settings.model,
            db=settings.db,
            index=settings.index,
            **kwargs,
        )
    except FacerecError as exc:
        fail(str(exc))


def embedding_recognizer(ctx, threads, device, model, margin, align, flip, precision) -> facerec.FaceRecognizer:
    """A recognizer whose embedder is loaded now, so bad settings fail before any work."""
    recognizer = recognizer_for(ctx, threads, device, model, margin=margin, align=align, flip=flip, precision=precision)
    try:
        recognizer.embedder  # noqa: B018 - load (and validate) the model up front
    except FacerecError as exc:
        fail(str(exc))
    return recognizer


class _Stderr(logging.Handler):
    """Each line to the stderr of the moment (a test runner swaps it between commands)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


def show_preparation() -> None:
    """Say on stderr when models are prepared for this machine (once, about 20 s on a first run)."""
    preparing = logging.getLogger("facerec.preparing")
    if not any(isinstance(h, _Stderr) for h in preparing.handlers):
        preparing.addHandler(_Stderr())
    preparing.setLevel(logging.INFO)
    preparing.propagate = False  # not twice with --verbose


def fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(EXIT_FAILED)


def progress_bar(total: int) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=total < 2,
    )


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that the first Ctrl-C (SIGINT) or SIGTERM sets, for a command that runs until
    stopped to end between two units of work. A KeyboardInterrupt can land anywhere (inside a
    database commit, a thread pool's bookkeeping); the event is only looked at where stopping is
    clean. A second Ctrl-C interrupts at once, as usual."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stop
        return

    def handle(signum: int, _frame) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
