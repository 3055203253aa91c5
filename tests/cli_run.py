"""The facerec command run in-process, as the tests drive it (arguments may be paths or numbers)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner

from facerec.interfaces import cli

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]  # where cli.py, the entry of `python cli.py`, lives
EXAMPLES = "face_recognition/examples"  # under ../shared/data
TRAIN = f"{EXAMPLES}/knn_examples/train"  # two photos each of obama, biden, ...


def run(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def sqlite_copy(source: Path, target: Path) -> str:
    """A private copy of the SQLite store at ``source`` (SQLite's backup API: consistent, WAL
    included), as a store URL: tests that change a shared enrolled store start from its state."""
    import sqlite3

    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    return f"sqlite:///{target}"


def new_key(url: str, name: str, role: str | None = "admin") -> str:
    """A new API key of ``role`` (None: the default role) in the store at ``url``."""
    result = run("--db", url, "apikey", "create", name, *(("--role", role) if role else ()))
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def enroll_people(url: str, data: Path, names: Sequence[str] = ("obama", "biden"), options: Sequence = ()) -> None:
    """Enrol each of ``names`` from its example photos (TRAIN) into the store at ``url``;
    ``options`` go before the command (as ``--model``)."""
    for name in names:
        result = run("--db", url, *options, "enroll", name, data / TRAIN / name)
        assert result.exit_code == 0, result.output
