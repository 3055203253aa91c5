"""``facerec audit``: what was changed through the HTTP API, and erasures, consent and exports
from anywhere. Only the store is opened."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, JsonOption
from facerec.interfaces.cli.settings import store_for


@app.command()
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest entries to show.")] = 50,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Changes made through the HTTP API, and erasures, consent and exports from anywhere: when, by
    which key (local: the command line), what (newest first)."""
    from facerec.store.audit import AuditTrail

    store = store_for(ctx, db)
    entries = AuditTrail(store).latest(limit)
    if json_out:
        typer.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    for e in entries:
        details = ", ".join(f"{k} {v}" for k, v in e["details"].items())
        typer.echo(f"{e['at']}\t{e['key']}\t{e['action']}\t{e['target']}\t{details}")
