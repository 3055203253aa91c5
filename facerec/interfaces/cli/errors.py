"""The one place where the ``facerec`` command turns errors into messages and exit codes.

A user's mistake, or a store or model that cannot do what was asked, reaches the library's edge
as a :class:`~facerec.errors.FacerecError`; the command line answers it with one red ``error:``
line on stderr and exit code 1, never a traceback. :class:`ReportingGroup` does that for every
command at once, so a command's body states only what it does; :func:`reported` is the same
mapping for the few commands that also answer another kind of error (a file that cannot be
written, a bad training setting). Usage errors stay Typer's (exit code 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from facerec.errors import FacerecError
from facerec.interfaces.cli.console import stderr

EXIT_FAILED = 1


def fail(message: str) -> NoReturn:
    """End the command with ``message`` on stderr and exit code 1."""
    stderr.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(EXIT_FAILED)


@contextmanager
def reported(*also: type[Exception]) -> Iterator[None]:
    """Turn a FacerecError (and ``also``) raised inside into :func:`fail`'s message and exit code."""
    answered: tuple[type[Exception], ...] = (FacerecError, *also)
    try:
        yield
    except answered as exc:
        fail(str(exc))


class ReportingGroup(TyperGroup):
    """The command group whose every command (at any depth) runs inside :func:`reported`."""

    def invoke(self, ctx: Any) -> Any:  # Any: Typer's click Context lives in a private module
        with reported():
            return super().invoke(ctx)
