"""Project hygiene that CI enforces: the README's set-up commands are what CI runs; ruff is clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_commands():
    lines = (REPO / ".ci/run").read_text().splitlines()
    commands = [lines[i + 1] for i, line in enumerate(lines) if line.startswith("# README command")]
    assert len(commands) == 2
    readme = (REPO / "README.md").read_text()
    for command in commands:
        assert f"```bash\n{command}\n```" in readme, command


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
