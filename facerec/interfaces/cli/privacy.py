"""``facerec consent``, ``privacy`` and ``keys``: what a data-protection officer asks of the
command line (docs/privacy.md): consent records, withdrawal with its erasure receipt, the privacy
settings, and the encryption key's rotation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from facerec.attendance.presence import retention_days
from facerec.interfaces.cli.console import progress_bar, stderr
from facerec.interfaces.cli.errors import fail
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, JsonOption
from facerec.interfaces.cli.settings import checked_settings, open_store, store_for

consent_app = typer.Typer(help="Consent to the processing of a person's face (docs/privacy.md).", no_args_is_help=True)
app.add_typer(consent_app, name="consent")
keys_app = typer.Typer(help="The key that encrypts faces at rest ($FACEREC_KEY_FILE).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

OnOff = Annotated[str | None, typer.Option(help="on or off.", show_default=False)]


def receipt_text(receipt: dict) -> str:
    """An erasure receipt in one line: what went, counted."""
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in receipt.items() if not isinstance(v, list))
    files = receipt.get("index_files") or []
    return counts + (f"; index files rewritten: {', '.join(files)}" if files else "")


@consent_app.command("give")
def consent_give(
    ctx: typer.Context,
    name: str,
    purpose: Annotated[str, typer.Option("--purpose", help="What the face is used for (e.g. attendance).")],
    policy: Annotated[str, typer.Option("--policy", help="The version of the notice the person agreed to.")],
    db: DbOption = None,
) -> None:
    """Record a person's consent (before enrolment, where the store requires it)."""
    from facerec.store.privacy import Privacy

    record = Privacy(store_for(ctx, db)).give(name, purpose, policy)
    typer.echo(f"consent of {record.subject} recorded ({record.purpose}; policy {record.policy_version})")


@consent_app.command("list")
def consent_list(
    ctx: typer.Context, name: str | None = None, json_out: JsonOption = False, db: DbOption = None
) -> None:
    """Consent records (of one person, or everyone's)."""
    from facerec.store.privacy import Privacy

    records = Privacy(store_for(ctx, db)).consents(name)
    if json_out:
        typer.echo(json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False))
        return
    for r in records:
        state = f"withdrawn {r.withdrawn.isoformat()}" if r.withdrawn else "given"
        typer.echo(f"{r.subject}\t{r.purpose}\tpolicy {r.policy_version}\t{r.given.isoformat()}\t{state}")


@consent_app.command("withdraw")
def consent_withdraw(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Withdraw consent: the person's face data (samples, crops, vectors, snapshots) is erased now."""
    from facerec.identity import erasure

    settings = checked_settings(ctx, db)
    if not yes and not typer.confirm(f"withdraw the consent of {name} and erase their face data?", err=True):
        fail("nothing changed")
    receipt = erasure.withdraw(open_store(settings), name)
    typer.echo(json.dumps(receipt, indent=2) if json_out else f"erased for {name}: {receipt_text(receipt)}")


def _switch(value: str | None, what: str) -> bool | None:
    if value is None:
        return None
    if value not in ("on", "off"):
        fail(f"--{what} takes on or off, not {value!r}")
    return value == "on"


@app.command()
def privacy(
    ctx: typer.Context,
    require_consent: OnOff = None,
    keep_photos: OnOff = None,
    template_retention: Annotated[
        str | None, typer.Option(help="Erase templates this long after the last sighting or enrolment (3y, 90d; off).")
    ] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show or set the privacy settings; setting a template retention purges what it covers now."""
    from facerec.identity import erasure
    from facerec.store.privacy import Privacy

    checked = checked_settings(ctx, db)
    changes: dict = {}
    for key, value in (("require_consent", require_consent), ("keep_photos", keep_photos)):
        if (switch := _switch(value, key.replace("_", "-"))) is not None:
            changes[key] = switch
    if template_retention is not None:
        changes["template_retention_days"] = retention_days(template_retention)
    store = open_store(checked)
    store_privacy = Privacy(store)
    settings = store_privacy.configure(**changes) if changes else store_privacy.settings()
    purged = erasure.purge_templates(store) if "template_retention_days" in changes else None
    if json_out:
        typer.echo(json.dumps(settings | ({"purged": purged["people"]} if purged is not None else {}), indent=2))
        return
    days = settings["template_retention_days"]
    typer.echo(f"consent required before enrolment: {'yes' if settings['require_consent'] else 'no'}")
    typer.echo(f"face photos kept beside templates: {'yes' if settings['keep_photos'] else 'no'}")
    typer.echo(f"templates kept: {f'{days:g} days after last seen' if days else 'until removed'}")
    if purged and purged["people"]:
        typer.echo(f"purged the templates of {len(purged['people'])} people: {receipt_text(purged['receipt'])}")


@keys_app.command("new")
def keys_new(
    file: Annotated[Path, typer.Argument(help="Where to write the key (never overwritten; mode 0600).")],
) -> None:
    """Make a new random AES-256 key file; point FACEREC_KEY_FILE at it to encrypt the store."""
    from facerec.store.sealing import new_key_file

    key = new_key_file(file)
    typer.echo(f"key {key.id} written to {file}: keep a copy apart from the store's backups")


@keys_app.command("status")
def keys_status(ctx: typer.Context, db: DbOption = None) -> None:
    """The key configured, and the keys the store's rows are sealed with."""
    from facerec.store.rotation import pending

    store = store_for(ctx, db)
    current = store.keyring.current
    held = sorted(store.sealed_with())
    plain = pending(store, current.id) if current else None
    typer.echo(f"key configured: {current.id if current else 'none (faces are stored unencrypted)'}")
    typer.echo(f"rows sealed with: {', '.join(held) or 'no key'}")
    if plain:
        typer.echo(f"{plain} rows not under the configured key: run facerec keys rotate --new-key-file KEYFILE")


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    new_key_file: Annotated[Path, typer.Option("--new-key-file", help="The new key (facerec keys new FILE).")],
    batch: Annotated[int, typer.Option("--batch", min=1, max=100_000, help="Rows per transaction.")] = 500,
    db: DbOption = None,
) -> None:
    """Re-encrypt every row with a new key, in place; the old key ($FACEREC_KEY_FILE) opens the rest.

    Resumable: a run stopped at any point (even killed) leaves each row whole under the old key
    or the new; run it again with both keys to finish. Then point FACEREC_KEY_FILE at the new key.
    A store not yet encrypted (no key configured) is encrypted by it.
    """
    from facerec.identity.index import refresh_saved
    from facerec.store import Store
    from facerec.store.rotation import rotate
    from facerec.store.sealing import Key, Keyring

    settings = checked_settings(ctx, db)
    old = Keyring.from_environment()
    new = Key.read(new_key_file)
    keyring = Keyring(new, older=(old.current,) if old.current and old.current != new else ())
    store = Store(settings.db, keyring=keyring)  # opened with both keys
    with progress_bar(2) as progress:
        task = progress.add_task("re-encrypting", total=None)
        result = rotate(store, lambda done, total: progress.update(task, completed=done, total=total), batch)
    refresh_saved(store, force=True)  # the saved index files, sealed again with the new key
    if result.remaining:
        fail(f"{result.remaining} rows are still under another key (written meanwhile?): run it again")
    stderr.print(f"point FACEREC_KEY_FILE at {new_key_file}; the old key is no longer needed by this store")
    typer.echo(f"{result.rows} rows re-encrypted with key {result.key_id}")
