"""``facerec group``: groups of people (a class, a department), for report --group, the HTTP API
and the desk's page. Only the store is opened."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, JsonOption
from facerec.interfaces.cli.settings import store_for

group_app = typer.Typer(help="Groups of people (a class, a department): report --group, the API and the page.")
app.add_typer(group_app, name="group")


@group_app.command("add")
def group_add(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group (created by its first member).")],
    names: Annotated[list[str], typer.Argument(help="Enrolled people to put in it.", show_default=False)],
    db: DbOption = None,
) -> None:
    """Put enrolled people in a group."""
    from facerec.store.groups import Groups

    store = store_for(ctx, db)
    members = Groups(store).add(group, names)
    typer.echo(f"{group}: {len(members)} members")


@group_app.command("remove")
def group_remove(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group.")],
    names: Annotated[list[str], typer.Argument(help="People to take out of it.", show_default=False)],
    db: DbOption = None,
) -> None:
    """Take people out of a group (a group without members is gone)."""
    from facerec.store.groups import Groups

    store = store_for(ctx, db)
    members = Groups(store).remove(group, names)
    typer.echo(f"{group}: {len(members)} members")


@group_app.command("list")
def group_list(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Argument(help="One group's members (default: every group).")] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Groups and their members."""
    from facerec.store.groups import Groups

    store = store_for(ctx, db)
    groups = {group: Groups(store).members(group)} if group else Groups(store).all()
    if json_out:
        typer.echo(json.dumps(groups, indent=2, ensure_ascii=False))
        return
    for name, members in groups.items():
        typer.echo(f"{name}\t{len(members)} members\t{', '.join(members)}")
