"""Bring a store's schema to the latest Alembic revision (``db/versions``) when it is opened.

Alembic is imported only when a store needs upgrading: a current store is recognised by one
query against :data:`HEAD`, which saves every command about 0.4 s of start-up. A test holds
:data:`HEAD` equal to the newest revision in ``db/versions``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from facerec.errors import StoreError

HEAD = "0009"


def migrations_dir() -> Path:
    """``db/``: inside the installed package, or the source checkout's."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_db"
    return installed if (installed / "env.py").is_file() else package.parent / "db"


def _config(connection: Connection | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision, as Alembic reads it from ``db/versions``."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise StoreError("db/versions holds no schema revision: this facerec is incomplete")
    return revision


def current(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(connection: Connection) -> None:
    """Apply every revision the store lacks (none for a current store), inside the caller's transaction."""
    if current(connection) != HEAD:
        from alembic import command

        command.upgrade(_config(connection), "head")
