"""What admins do with subscriptions (the CLI, the HTTP API and the desk call these): add a
webhook (its URL checked first), allow a private host, point events at an MQTT broker."""

from __future__ import annotations

from collections.abc import Sequence

from facerec.events.urls import check_broker_url, check_webhook_url, parse
from facerec.store.names import check_name
from facerec.store.outbox import Outbox
from facerec.store.repository import Store
from facerec.store.subscriptions import Subscription, Subscriptions


def add_webhook(
    store: Store,
    url: str,
    events: Sequence[str] = (),
    group: str | None = None,
    from_start: bool = False,
) -> tuple[Subscription, str]:
    """A webhook subscription and its signing secret (shown this once)."""
    url = check_webhook_url(url, Outbox(store).settings()["allowed_hosts"])
    group = check_name(group, "group") if group else None
    subscription, secret = Subscriptions(store).add("webhook", url, list(events), group, from_start=from_start)
    return subscription, secret or ""


def allow_host(store: Store, host: str, allowed: bool = True) -> list[str]:
    """Let webhooks reach a private host (or no longer). Returns the hosts allowed."""
    host = host.strip().lower()
    if not host or "/" in host or ":" in host.strip("[]").replace("::", ""):
        host = parse(f"http://{host}").host  # "host:port" or a URL-ish spelling: the name alone
    hosts = set(Outbox(store).settings()["allowed_hosts"])
    hosts = hosts | {host} if allowed else hosts - {host}
    return Outbox(store).configure(allowed_hosts=sorted(hosts))["allowed_hosts"]


def set_mqtt(
    store: Store,
    url: str | None,
    site: str = "default",
    events: Sequence[str] = (),
    away_seconds: float | None = None,
) -> Subscription | None:
    """Send events to the MQTT broker at ``url`` (replacing any broker set before; None: none).
    The broker gets events from now on."""
    subscriptions = Subscriptions(store)
    for old in subscriptions.list("mqtt"):
        subscriptions.remove(old.id)
    if url is None:
        return None
    options: dict = {"site": check_name(site, "site")}
    if away_seconds is not None:
        options["away_seconds"] = float(away_seconds)
    return subscriptions.add("mqtt", check_broker_url(url), list(events), options=options)[0]
