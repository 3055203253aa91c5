"""``facerec webhook``, ``mqtt``, ``events``, ``event-settings`` and ``deliver``: events out to the
systems attendance feeds (see docs/events.md)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, cast

import typer

from facerec.interfaces.cli.console import stderr
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import DbOption, JsonOption
from facerec.interfaces.cli.settings import store_for
from facerec.interfaces.cli.signals import stop_on_signals
from facerec.store.outbox import EVENT_TYPES

if TYPE_CHECKING:
    from facerec.store.subscriptions import Subscription

EventOption = Annotated[
    list[str] | None,
    typer.Option("--event", help=f"Only this event type (repeat for several; default all): {', '.join(EVENT_TYPES)}."),
]

DeliverOption = Annotated[
    bool,
    typer.Option(
        "--deliver/--no-deliver",
        help="Deliver events to webhooks and MQTT from this process too (see facerec deliver).",
    ),
]


@contextlib.contextmanager
def delivering(recognizer, deliver: bool) -> Iterator[None]:
    """A deliverer thread for a command's lifetime (attend), if ``deliver`` and the store can be
    written; at the end it delivers what is due once more, so the last check-ins go out too."""
    if not deliver or recognizer.store.read_only:
        yield
        return
    from facerec.events import deliverer

    thread, stop = deliverer.start(recognizer.store, flush=True)
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=15)


webhook_app = typer.Typer(help="Webhooks: signed HTTP POSTs of events, with retries.", no_args_is_help=True)
mqtt_app = typer.Typer(help="An MQTT broker that events are published to (with Home Assistant discovery).")
app.add_typer(webhook_app, name="webhook")
app.add_typer(mqtt_app, name="mqtt")


@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    url: str,
    event: EventOption = None,
    group: Annotated[str | None, typer.Option("--group", help="Only events about this group's members.")] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Also send every event the outbox still holds (default: from now).")
    ] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Subscribe URL to events. Prints the signing secret: it is not shown again."""
    from facerec.events.manage import add_webhook

    store = store_for(ctx, db)
    subscription, secret = add_webhook(store, url, event or [], group, from_start)
    if json_out:
        typer.echo(json.dumps(subscription.to_dict() | {"secret": secret}, indent=2))
        return
    typer.echo(secret)
    stderr.print(
        f"webhook {subscription.id} added for {subscription.url}; verify each request's webhook-signature with "
        "the secret above (it is not shown again).",
        highlight=False,
    )


def _subscription_lines(kind: str, ctx: typer.Context, json_out: bool, db: str | None) -> None:
    from facerec.store.subscriptions import Subscriptions, shown_url

    subscriptions = Subscriptions(store_for(ctx, db))
    found = [(s, subscriptions.pending(s)) for s in subscriptions.list(kind)]
    if json_out:
        typer.echo(json.dumps([s.to_dict(pending) for s, pending in found], indent=2))
        return
    for s, pending in found:
        state = "enabled" if s.enabled else "DISABLED"
        error = f"\tlast error: {s.last_error}" if s.last_error else ""
        events = ",".join(s.event_types) or "all events"
        typer.echo(f"{s.id}\t{shown_url(s.url)}\t{events}\t{state}\t{pending} pending{error}")


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """Webhooks with their state: pending events, failures, last error (never the secrets)."""
    _subscription_lines("webhook", ctx, json_out, db)


@webhook_app.command("remove")
def webhook_remove(ctx: typer.Context, subscription_id: int, db: DbOption = None) -> None:
    """Stop sending events to a webhook."""
    from facerec.store.subscriptions import Subscriptions, shown_url

    removed = Subscriptions(store_for(ctx, db)).remove(subscription_id)
    typer.echo(f"removed webhook {removed.id} ({shown_url(removed.url)})")


@webhook_app.command("retry")
def webhook_retry(ctx: typer.Context, subscription_id: int, db: DbOption = None) -> None:
    """Retry now: end a subscription's back-off (and enable it again if it was disabled)."""
    from facerec.store.subscriptions import Subscriptions, shown_url

    again = Subscriptions(store_for(ctx, db)).retry_now(subscription_id)
    typer.echo(f"subscription {again.id} ({shown_url(again.url)}) is retried now")


@webhook_app.command("allow-host")
def webhook_allow_host(
    ctx: typer.Context,
    host: str,
    remove: Annotated[bool, typer.Option("--remove", help="No longer allow it.")] = False,
    db: DbOption = None,
) -> None:
    """Let webhooks reach a private host (a name on the local network, 10.x, 127.0.0.1...):
    without this, such URLs are refused."""
    from facerec.events.manage import allow_host

    hosts = allow_host(store_for(ctx, db), host, not remove)
    typer.echo("allowed private hosts: " + (", ".join(hosts) or "none"))


@mqtt_app.command("set")
def mqtt_set(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="mqtt://[user:password@]host[:1883] or mqtts://...")],
    site: Annotated[str, typer.Option("--site", help="Topic level naming the place: facerec/<site>/.")] = "default",
    event: EventOption = None,
    away: Annotated[
        float | None, typer.Option("--away-seconds", min=1, help="Not seen for this long: 'away' (900).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Publish events to this broker (replacing any set before), from now on."""
    from facerec.events.manage import set_mqtt
    from facerec.store.subscriptions import shown_url

    subscription = cast("Subscription", set_mqtt(store_for(ctx, db), url, site, event or [], away))  # set: not None
    typer.echo(f"events go to {shown_url(subscription.url)} under facerec/{subscription.options['site']}/")


@mqtt_app.command("off")
def mqtt_off(ctx: typer.Context, db: DbOption = None) -> None:
    """Stop publishing to MQTT."""
    from facerec.events.manage import set_mqtt

    set_mqtt(store_for(ctx, db), None)
    typer.echo("no MQTT broker")


@mqtt_app.command("show")
def mqtt_show(ctx: typer.Context, json_out: JsonOption = False, db: DbOption = None) -> None:
    """The broker set, with its state."""
    _subscription_lines("mqtt", ctx, json_out, db)


@app.command("events")
def events(
    ctx: typer.Context,
    after: Annotated[int, typer.Option("--after", min=0, help="Events after this id (the last one you had).")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many.")] = 1000,
    event: EventOption = None,
    db: DbOption = None,
) -> None:
    """Events from the outbox after a cursor, one JSON object a line, oldest first: what a
    consumer that was away missed. Pass the last id printed as --after next time."""
    from facerec.store.outbox import Outbox

    for record in Outbox(store_for(ctx, db)).after(after, limit, event or []):
        typer.echo(json.dumps(record.to_dict(), ensure_ascii=False))


@app.command("event-settings")
def event_settings(
    ctx: typer.Context,
    retention_days: Annotated[
        float | None, typer.Option("--retention-days", min=0, help="Keep delivered events this long (0: forever).")
    ] = None,
    retry_base: Annotated[float | None, typer.Option("--retry-base", min=0.01, help="First back-off, seconds.")] = None,
    retry_max: Annotated[float | None, typer.Option("--retry-max", min=0.01, help="Longest back-off, seconds.")] = None,
    disable_after: Annotated[
        float | None, typer.Option("--disable-after", min=1, help="Disable a webhook failing this long, seconds.")
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.1, help="A request's timeout, seconds.")] = None,
    lease: Annotated[
        float | None, typer.Option("--lease", min=1, help="Seconds before a stopped deliverer's work passes on.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Show (and change) how events are kept and delivered."""
    from facerec.store.outbox import Outbox

    given = {
        "retention_days": retention_days,
        "retry_base_seconds": retry_base,
        "retry_max_seconds": retry_max,
        "disable_after_seconds": disable_after,
        "timeout_seconds": timeout,
        "lease_seconds": lease,
    }
    changes: dict[str, float | None] = {k: v for k, v in given.items() if v is not None}
    if "retention_days" in changes:
        changes["retention_days"] = changes["retention_days"] or None
    outbox = Outbox(store_for(ctx, db))
    settings = outbox.configure(**changes) if changes else outbox.settings()
    typer.echo(json.dumps(settings, indent=2))


@app.command()
def deliver(ctx: typer.Context, db: DbOption = None) -> None:
    """Deliver events to webhooks and MQTT until stopped (Ctrl-C, SIGTERM). serve and attend
    deliver too; several deliverers on one PostgreSQL store share the work, never sending one
    subscription's events twice at once. On SQLite, run them on the store's own machine."""
    import logging

    from facerec.events.deliverer import Deliverer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = store_for(ctx, db)
    stderr.print("delivering events; Ctrl-C to stop", highlight=False)
    with stop_on_signals() as stop:
        Deliverer(store).run(stop)
