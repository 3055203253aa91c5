"""Project hygiene that CI enforces: the README's set-up commands are what CI runs; ruff is clean."""

from __future__ import annotations

import os
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


def test_a_missing_system_package_stops_the_run_at_once_with_the_command(tmp_path):
    """The browser tests on a machine without Chromium: no test runs, and the message names
    .ci/setup (the command that installs it) instead of a traceback per test."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/interfaces/test_api_docs.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "FACEREC_TEST_CHROMIUM": str(tmp_path / "no-chromium")},
        timeout=120,
    )
    assert result.returncode == 4, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"Chromium ({tmp_path / 'no-chromium'}" in output
    assert "sudo bash .ci/setup" in output
    assert "passed" not in output and "failed" not in output
