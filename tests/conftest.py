"""Shared fixtures: where the real test images are, and one detector per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACEREC_SHARED_DIR", REPO.parent / "shared"))
DATA = SHARED / "data"
REFERENCE = SHARED / "reference"

# Two threads, like the machines CI runs on; keeps timings comparable between runs.
torch.set_num_threads(2)


def pytest_configure(config: pytest.Config) -> None:
    if not DATA.is_dir():
        raise pytest.UsageError(
            f"test data not found at {DATA}: put ../shared beside the repository or set FACEREC_SHARED_DIR"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on the PostgreSQL server: it uses the fixture, or a fixture
    parametrised over the backends that it got as "postgresql"."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgres" in getattr(item, "fixturenames", ()) or "postgresql" in params.values():
            item.add_marker(pytest.mark.postgres)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop before the first test when the selected tests need a system package that is missing."""
    from prerequisites import message, missing_for

    if session.config.option.collectonly:
        return
    markers = {mark.name for item in session.items for mark in item.iter_markers()}
    missing = missing_for(markers)
    if missing:
        pytest.exit(message(missing), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def reference() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def detector():
    from facerec.detection.mtcnn import MTCNN

    return MTCNN()


@pytest.fixture(scope="session")
def postgres():
    from postgres import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty store on each backend: the same tests run on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres").new_database()
