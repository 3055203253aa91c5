"""``facerec apikey``: the HTTP API's keys, created, listed and revoked. Only the store is opened."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from facerec.interfaces.cli.console import stderr
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, JsonOption
from facerec.interfaces.cli.settings import store_for

apikey_app = typer.Typer(help="HTTP API keys.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context,
    name: str,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="checkin (post check-ins, identify), read (+ people, attendance), enrol (+ enrol, rename, "
            "remove) or admin (+ settings, audit).",
        ),
    ] = "checkin",
    db: DbOption = None,
) -> None:
    """Create a key; it is printed once and stored only as a hash. Its role says what it may do."""
    from facerec.store.api_keys import ApiKeys

    store = store_for(ctx, db)
    key = ApiKeys(store).create(name, role)
    typer.echo(key)
    stderr.print(f"API key {name!r} ({role}) created; send it as the X-API-Key header. It is not shown again.")


@apikey_app.command("list")
def apikey_list(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """Keys by name, with creation and revocation times (never the keys)."""
    from facerec.store.api_keys import ApiKeys

    store = store_for(ctx, db)
    keys = ApiKeys(store).list()
    if json_out:
        typer.echo(json.dumps([k.to_dict() for k in keys], indent=2))
        return
    for k in keys:
        state = f"revoked {k.revoked:%Y-%m-%d %H:%M}" if k.revoked else "active"
        typer.echo(f"{k.name}\t{k.role}\tcreated {k.created:%Y-%m-%d %H:%M}\t{state}")


@apikey_app.command("revoke")
def apikey_revoke(ctx: typer.Context, name: str, db: DbOption = None) -> None:
    """Revoke a key by name; requests with it get 401 from then on."""
    from facerec.store.api_keys import ApiKeys

    store = store_for(ctx, db)
    ApiKeys(store).revoke(name)
    typer.echo(f"revoked {name}")
