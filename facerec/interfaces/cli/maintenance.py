"""``facerec reindex``, ``calibrate``, ``export``, ``import``, ``backup``, ``restore`` and
``reembed``: keeping the store whole. Archives and backups only open the store; the index, the
threshold and the vectors need the model too."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facerec.interfaces.cli.console import progress_bar, stderr
from facerec.interfaces.cli.errors import fail, reported
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, ModelOption, ThreadsOption
from facerec.interfaces.cli.settings import checked_settings, open_store, recognizer_for, settings_for, store_for


@app.command()
def reindex(ctx: typer.Context, db: DbOption = None, model: ModelOption = None) -> None:
    """Rebuild the identification index from the store: the repair for a damaged one (a missing or
    damaged index is rebuilt by itself; changes are followed in place, without rebuilding)."""
    recognizer = recognizer_for(ctx, None, None, model, db)
    recognizer.check_store()
    with progress_bar(2) as progress:
        task = progress.add_task("rebuilding the index", total=None)
        index = recognizer.person_index.rebuild(lambda done, total: progress.update(task, completed=done, total=total))
    typer.echo(f"index rebuilt: {len(index)} people of model {index.model} at store revision {index.revision}")


@app.command()
def calibrate(
    ctx: typer.Context,
    far: Annotated[
        float, typer.Option("--far", help="Share of strangers' photos that may be named (open-set false accept rate).")
    ] = 0.01,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="Labelled photos FOLDER/<person>/... instead of the gallery.")
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    threads: ThreadsOption = None,
) -> None:
    """Choose the identification threshold on your own people, and store it (it replaces the model's).

    It optimises the open-set false accept rate: each enrolled person (or each person of --folder)
    in turn plays the stranger, their photos matched against everyone else's centroid, and the
    threshold is the lowest that names at most --far of those photos. Without it, the model's
    operating point for the gallery's size applies (see `facerec identify`).
    """
    recognizer = recognizer_for(ctx, threads, None, model, db)
    value = recognizer.calibrate(far, folder)
    typer.echo(
        f"threshold {value['threshold']:.4f} for a {far:g} open-set false accept rate "
        f"({value['people']} people, {value['samples']} samples from {value['source']}); stored"
    )


@app.command("export")
def export_store(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive to write (.zip).")],
    person: Annotated[
        str | None,
        typer.Option("--person", help="Only what is held about this person (a subject access request); audited."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the whole store (people, samples, embeddings, crops) to a portable archive; with
    --person, everything held about one person (samples, attendance, consent, audit lines)."""
    from facerec.files import write_atomically
    from facerec.store import archive, subject_access
    from facerec.store.archive import Archive

    if person is not None:
        with reported(OSError):
            data = subject_access.archive(store_for(ctx, db), person)
            write_atomically(file, lambda tmp: tmp.write_bytes(data))
        typer.echo(f"exported everything held about {person} to {file}")
        return
    with reported(OSError):
        people = Archive(store_for(ctx, db)).dump()
        count = archive.write(people, file)
    typer.echo(f"exported {len(people)} people, {count} samples to {file}")


@app.command("import")
def import_store(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive made by facerec export.")],
    db: DbOption = None,
) -> None:
    """Add the people of an archive to the store (one transaction; photos held already are skipped)."""
    from facerec.store import archive
    from facerec.store.archive import Archive

    store = store_for(ctx, db)
    touched, added = Archive(store).load(archive.read(file))
    typer.echo(f"imported {added} samples of {touched} people from {file}")


@app.command()
def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write the copy (a SQLite file).")],
    db: DbOption = None,
) -> None:
    """A consistent copy of the live store (SQLite), taken while it is in use; PostgreSQL: pg_dump."""
    from facerec.store import backup as backups

    info = backups.backup(store_for(ctx, db), file)
    typer.echo(
        f"backed up {info.people} people, {info.samples} samples (revision {info.revision}) "
        f"to {file} ({info.size / 2**20:.1f} MB)"
    )


@app.command()
def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A copy made by facerec backup.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the store without asking.")] = False,
    db: DbOption = None,
) -> None:
    """Replace the whole store with a backup (one step: on failure the store is as it was)."""
    from facerec.store import backup as backups
    from facerec.store.people import People

    settings = checked_settings(ctx, db)
    info = backups.describe(file) if file.is_file() else fail(f"{file}: no such file")
    store = open_store(settings)
    current = len(People(store).all())
    if not yes and not typer.confirm(
        f"replace the store ({current} people) with {file} ({info.people} people, {info.samples} samples)?"
    ):
        fail("nothing restored")
    info = backups.restore(store, file)
    typer.echo(f"restored {info.people} people, {info.samples} samples from {file}")


@app.command()
def reembed(ctx: typer.Context, model: ModelOption = None, db: DbOption = None, threads: ThreadsOption = None) -> None:
    """Bring the store's vectors to a model (default: the one in use): re-centre, or re-embed the crops.

    Vectors of the same model made without its centre (stores of facerec before 0.2) or on another
    are re-centred exactly, in seconds; those of another model are embedded again from the stored
    crops. Unknown sightings follow. A calibrated threshold made for the old vectors is dropped.
    """
    recognizer = recognizer_for(ctx, threads, None, None, db)
    target = settings_for(ctx, threads, None, model, db).model
    with progress_bar(2) as progress:
        task = progress.add_task("re-embedding crops", total=None)
        done = recognizer.reembed(
            target, progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
    if not done.samples and not done.sightings:
        typer.echo(f"nothing to do: every vector is already one of {done.model}'s")
        return
    typer.echo(
        f"re-embedded {done.samples} samples with {done.model} "
        f"({done.recentred} re-centred, {done.reembedded} embedded again from their crops; "
        f"{done.sightings} unknown sightings)"
    )
    if done.calibration_dropped:
        stderr.print("the calibrated threshold was made for the old vectors and was removed: run `facerec calibrate`")
