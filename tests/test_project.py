"""Project hygiene that CI enforces: the README's set-up commands are what CI runs; ruff (lint,
complexity, format) is clean; one source for the version; pre-commit runs the same checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_ruff_format_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "format", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_version_has_one_source_and_the_changelog_names_it():
    import tomllib

    import facerec

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "facerec/__init__.py"
    headings = [line for line in (REPO / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")]
    assert headings and headings[0].split()[1] == facerec.__version__, headings[:1]


def test_pre_commit_runs_the_checks_of_the_suite():
    import yaml

    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "mypy", "commit-subject"}
    for hook in hooks.values():  # the project's own tools, so the versions are the suite's
        tool = REPO / hook["entry"].split()[0]
        assert tool.name in ("ruff", "mypy", "commit-subject"), hook
    assert hooks["commit-subject"]["stages"] == ["commit-msg"]


@pytest.mark.parametrize(
    ("message", "accepted"),
    [
        ("Store: one class per kind of record\n\nWhy it moved.\n", True),
        ("x" * 72 + "\n", True),
        ("x" * 73 + "\n", False),
        ("# only a comment\n", False),
        ("Subject\nbody without a blank line\n", False),
    ],
)
def test_commit_subjects_are_at_most_72_characters(tmp_path, message, accepted):
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text(message)
    result = subprocess.run(
        [sys.executable, str(REPO / ".ci/commit-subject"), str(path)], capture_output=True, text=True
    )
    assert (result.returncode == 0) == accepted, result.stderr
    assert accepted or "commit-subject:" in result.stderr


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
