"""Bring a store's schema to the latest Alembic revision (``db/versions``) when it is opened."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection


def migrations_dir() -> Path:
    """``db/``: inside the installed package, or the source checkout's."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_db"
    return installed if (installed / "env.py").is_file() else package.parent / "db"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection) -> None:
    """Apply every revision the store lacks (none for a current store), inside the caller's transaction."""
    if current(connection) != head():
        command.upgrade(_config(connection), "head")
