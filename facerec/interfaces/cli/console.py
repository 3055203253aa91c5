"""What the ``facerec`` command writes beside its answer: stderr, progress bars, preparation notes.

Answers go to stdout (with ``--json``, only the JSON document); everything else goes to stderr
through the console here, so that piping a command's output never mixes the two.
"""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

stderr = Console(stderr=True, soft_wrap=True)


class StderrLines(logging.Handler):
    """Each line to the stderr of the moment (a test runner swaps it between commands)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


def show_preparation() -> None:
    """Say on stderr when models are prepared for this machine (once, about 20 s on a first run)."""
    preparing = logging.getLogger("facerec.preparing")
    if not any(isinstance(h, StderrLines) for h in preparing.handlers):
        preparing.addHandler(StderrLines())
    preparing.setLevel(logging.INFO)
    preparing.propagate = False  # not twice with --verbose


def progress_bar(total: int) -> Progress:
    """A bar on stderr that is gone when done, and not shown at all for a single item."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=total < 2,
    )
