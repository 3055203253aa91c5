"""The facerec command run in-process, as the tests drive it (arguments may be paths or numbers)."""

from __future__ import annotations

from typer.testing import CliRunner

import cli

runner = CliRunner()


def run(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def new_key(url: str, name: str, role: str | None = "admin") -> str:
    """A new API key of ``role`` (None: the default role) in the store at ``url``."""
    result = run("--db", url, "apikey", "create", name, *(("--role", role) if role else ()))
    assert result.exit_code == 0, result.output
    return result.stdout.strip()
