"""``facerec list``, ``show``, ``rename``, ``remove`` and ``remove-sample``: the people held in the
store and their samples. They only open the store: no model is loaded."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from facerec.interfaces.cli.console import stderr
from facerec.interfaces.cli.errors import fail
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, JsonOption
from facerec.interfaces.cli.settings import store_for
from facerec.types import MAX_ID, counted


@app.command("list")
def list_people(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """Everyone enrolled, with how many samples each."""
    from facerec.store.people import People

    store = store_for(ctx, db)
    people = People(store).all()
    if json_out:
        typer.echo(json.dumps([p.to_dict() for p in people], indent=2))
        return
    if not people:
        stderr.print("nobody is enrolled yet: facerec enroll NAME PHOTOS...", highlight=False)
    for person in people:
        typer.echo(f"{person.name}\t{counted(person.samples, 'sample')}\tupdated {person.updated:%Y-%m-%d %H:%M}")


@app.command()
def show(ctx: typer.Context, name: str, json_out: JsonOption = False, db: DbOption = None) -> None:
    """One person's samples: ids, files, quality."""
    from facerec.store.people import People
    from facerec.store.samples import Samples

    store = store_for(ctx, db)
    person = People(store).get(name)
    samples = Samples(store).records(name)
    rows = [s.to_dict() for s in samples]
    if json_out:
        typer.echo(json.dumps(person.to_dict() | {"samples": rows}, indent=2))
        return
    typer.echo(f"{person.name}: {counted(person.samples, 'sample')}")
    for row in rows:
        q = row["quality"]
        typer.echo(f"  {row['id']}\t{row['file']}\tsize {q['size']:.0f}px sharpness {q['sharpness']:.0f}")


@app.command()
def rename(ctx: typer.Context, old: str, new: str, db: DbOption = None) -> None:
    """Give an enrolled person another name."""
    from facerec.store.people import People

    store = store_for(ctx, db)
    People(store).rename(old, new)
    typer.echo(f"renamed {old} to {new}")


@app.command()
def remove(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a person: every sample, embedding, crop, attendance event and snapshot; prints the
    receipt of what was erased (also written to the audit)."""
    from facerec.identity import erasure
    from facerec.interfaces.cli.privacy import receipt_text
    from facerec.store.people import People

    store = store_for(ctx, db)
    person = People(store).get(name)
    if not yes and not typer.confirm(f"remove {person.name} and {counted(person.samples, 'sample')}?", err=True):
        fail("nothing removed")
    receipt = erasure.remove(store, name)
    typer.echo(f"removed {name} ({counted(receipt['samples'], 'sample')})")
    stderr.print(f"erased: {receipt_text(receipt)}", highlight=False)


@app.command("remove-sample")
def remove_sample(
    ctx: typer.Context,
    sample_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The sample's id (facerec show NAME).")],
    db: DbOption = None,
) -> None:
    """Delete one face sample by its id (see `facerec show NAME`)."""
    from facerec.store.samples import Samples

    store = store_for(ctx, db)
    record = Samples(store).remove(sample_id)
    typer.echo(f"removed sample {record.id} of {record.person} ({record.source_path})")
