"""What a command works with: the settings given around it, and the recognizer or store they open.

The global options may be given before the command (kept in ``ctx.obj`` by the root callback)
and after it (the command's own); the one after wins. A command that only reads or changes
records opens the :class:`~facerec.store.Store` alone: no networks are loaded for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import typer

import facerec

if TYPE_CHECKING:
    from facerec.runtime.settings import Backend
    from facerec.store import Store


@dataclass(frozen=True)
class Settings:
    """Options shared by every command."""

    threads: int | None = None
    device: str = "cpu"
    model: str | None = None
    db: str | None = None
    backend: str = "auto"  # given before the command only
    index: str = "auto"  # given before the command only

    def merged(
        self, threads: int | None, device: str | None, model: str | None = None, db: str | None = None
    ) -> Settings:
        """These settings overridden by the same options given after the command."""
        return Settings(
            threads if threads is not None else self.threads,
            device or self.device,
            model or self.model,
            db or self.db,
            self.backend,
            self.index,
        )


def settings_for(
    ctx: typer.Context,
    threads: int | None = None,
    device: str | None = None,
    model: str | None = None,
    db: str | None = None,
) -> Settings:
    """The settings a command runs with: those before it, overridden by its own."""
    return (ctx.obj or Settings()).merged(threads, device, model, db)


def checked_settings(ctx: typer.Context, db: str | None) -> Settings:
    """The settings of a command that opens only the store, refused where a recognizer would refuse
    them (a bad --device, --backend or --index), with its message, though no network is loaded."""
    from facerec.identity.index_files import check_index_kind
    from facerec.runtime.settings import resolve

    settings = settings_for(ctx, db=db)
    resolve(settings.device, settings.backend, settings.threads)
    check_index_kind(settings.index)
    return settings


def open_store(settings: Settings) -> Store:
    """The store named by ``--db`` (after the command, else before it, else $FACEREC_HOME's),
    opened now, and migrated if older: what a recognizer would open, without its networks."""
    from facerec.store import Store

    return Store(settings.db)


def store_for(ctx: typer.Context, db: str | None) -> Store:
    """:func:`checked_settings` and :func:`open_store` at once, for a command that needs the store
    from its start."""
    return open_store(checked_settings(ctx, db))


def recognizer_for(
    ctx: typer.Context,
    threads: int | None,
    device: str | None,
    model: str | None = None,
    db: str | None = None,
    **kwargs: Any,
) -> facerec.FaceRecognizer:
    """A recognizer on the command's settings (its networks load on first use)."""
    from facerec.runtime.settings import set_threads

    settings = settings_for(ctx, threads, device, model, db)
    set_threads(settings.threads)
    return facerec.FaceRecognizer(
        device=settings.device,
        backend=cast("Backend", settings.backend),  # a bad name is the recognizer's error to report
        threads=settings.threads,
        model=settings.model,
        db=settings.db,
        index=settings.index,
        **kwargs,
    )


def embedding_recognizer(
    ctx: typer.Context,
    threads: int | None,
    device: str | None,
    model: str | None,
    margin: float | None,
    align: str | None,
    flip: bool | None,
    precision: str,
) -> facerec.FaceRecognizer:
    """A recognizer whose embedder is loaded now, so bad settings fail before any work."""
    recognizer = recognizer_for(ctx, threads, device, model, margin=margin, align=align, flip=flip, precision=precision)
    recognizer.embedder  # noqa: B018 - load (and validate) the model up front
    return recognizer
