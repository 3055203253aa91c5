"""Event subscriptions: webhooks and an MQTT broker, each with its cursor over the outbox.

Who delivers a subscription is settled by a lease on its row: a process takes it with one
conditional UPDATE (free, or its lease run out), which PostgreSQL and SQLite both make atomic, and
renews it with every step of the cursor. So several ``serve`` processes on one store never send
the same subscription's events at the same time, and a killed one's subscriptions pass to another
once its lease runs out; the events after the cursor go again (at least once, same ids).
"""

from __future__ import annotations

import builtins
import secrets
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult

from facerec.errors import StoreError, UnknownPersonError
from facerec.store import audit
from facerec.store.models import EventSubscription, OutboxRow, aware, utcnow
from facerec.store.outbox import EVENT_TYPES
from facerec.store.repository import Store

KINDS = ("webhook", "mqtt")
SECRET_PREFIX = "whsec_"  # Standard Webhooks: the base64 of the key follows
MAX_ERROR = 1024


@dataclass(frozen=True)
class Subscription:
    id: int
    kind: str
    url: str
    event_types: tuple[str, ...]
    group: str | None
    secret: str | None
    options: dict
    enabled: bool
    created: datetime
    position: int
    attempts: int
    next_attempt: datetime | None
    failing_since: datetime | None
    last_error: str | None
    last_success: datetime | None

    def wants(self, type_: str, groups: tuple[str, ...]) -> bool:
        """Whether an event of ``type_`` about members of ``groups`` is for this subscription."""
        return (not self.event_types or type_ in self.event_types) and (self.group is None or self.group in groups)

    def to_dict(self, pending: int | None = None) -> dict:
        """As the CLI and the API list it: never the secret."""
        return {
            "id": self.id,
            "kind": self.kind,
            "url": shown_url(self.url),
            "events": list(self.event_types),
            "group": self.group,
            "options": self.options,
            "enabled": self.enabled,
            "created": self.created.isoformat(),
            "position": self.position,
            "pending": pending,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt.isoformat() if self.next_attempt else None,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
            "last_error": self.last_error,
            "last_success": self.last_success.isoformat() if self.last_success else None,
        }


def shown_url(url: str) -> str:
    """``url`` without its password (an MQTT broker's user:password@), for lists and the audit log."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _maybe(moment: datetime | None) -> datetime | None:
    return aware(moment) if moment is not None else None


def _record(row: EventSubscription) -> Subscription:
    return Subscription(
        row.id,
        row.kind,
        row.url,
        tuple(row.event_types),
        row.group_name,
        row.secret,
        dict(row.options),
        row.enabled,
        aware(row.created_at),
        row.position,
        row.attempts,
        _maybe(row.next_attempt_at),
        _maybe(row.failing_since),
        row.last_error,
        _maybe(row.last_success_at),
    )


def new_secret() -> str:
    import base64

    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise StoreError(f"unknown event type {', '.join(map(repr, unknown))}; use some of {', '.join(EVENT_TYPES)}")
    return sorted(set(types))


class Subscriptions:
    """The subscriptions' rows: kept, listed, and handed to one deliverer at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- managed by admins (the URL is checked by facerec.events.urls first) -----------------------

    def add(
        self,
        kind: str,
        url: str,
        event_types: list[str] = (),  # type: ignore[assignment]
        group: str | None = None,
        options: dict | None = None,
        from_start: bool = False,
    ) -> tuple[Subscription, str | None]:
        """A new subscription, delivering events from now on (``from_start``: every event kept).
        Returns it and its secret (webhooks), the only time the secret is handed out."""
        if kind not in KINDS:
            raise StoreError(f"unknown kind of subscription {kind!r}")
        types = check_types(list(event_types))
        secret = new_secret() if kind == "webhook" else None
        with self.store.transaction() as session:
            position = 0 if from_start else session.scalar(select(func.max(OutboxRow.id))) or 0
            row = EventSubscription(
                kind=kind,
                url=url,
                event_types=types,
                group_name=group,
                secret=secret,
                options=options or {},
                enabled=True,
                created_at=utcnow(),
                position=position,
                attempts=0,
            )
            session.add(row)
            session.flush()
            audit.write(session, f"{kind}_add", shown_url(url), id=row.id, events=types, group=group)
            return _record(row), secret

    def list(self, kind: str | None = None) -> list[Subscription]:
        query = select(EventSubscription).order_by(EventSubscription.id)
        if kind:
            query = query.where(EventSubscription.kind == kind)
        with self.store.reading() as session:
            return [_record(row) for row in session.scalars(query)]

    def get(self, subscription_id: int) -> Subscription:
        with self.store.reading() as session:
            return _record(self._row(session, subscription_id))

    @staticmethod
    def _row(session, subscription_id: int) -> EventSubscription:
        row = session.get(EventSubscription, int(subscription_id))
        if row is None:
            raise UnknownPersonError(f"no subscription with id {subscription_id}")
        return row

    def remove(self, subscription_id: int) -> Subscription:
        with self.store.transaction() as session:
            row = self._row(session, subscription_id)
            record = _record(row)
            session.delete(row)
            audit.write(session, f"{row.kind}_remove", shown_url(row.url), id=row.id)
            return record

    def retry_now(self, subscription_id: int) -> Subscription:
        """Try again at once (and enable a subscription disabled after failing too long)."""
        with self.store.transaction() as session:
            row = self._row(session, subscription_id)
            row.enabled, row.attempts, row.next_attempt_at, row.failing_since = True, 0, None, None
            audit.write(session, f"{row.kind}_retry", shown_url(row.url), id=row.id)
            session.flush()
            return _record(row)

    def pending(self, subscription: Subscription) -> int:
        """Events after its cursor (of every type: some may not be for it)."""
        with self.store.reading() as session:
            query = select(func.count(OutboxRow.id)).where(OutboxRow.id > subscription.position)
            return session.scalar(query) or 0

    # --- used by deliverers ---------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> builtins.list[Subscription]:  # list: the method above
        """Enabled subscriptions not backing off that have events after their cursor."""
        now = now or datetime.now(UTC)
        with self.store.reading() as session:
            last = session.scalar(select(func.max(OutboxRow.id))) or 0
            rows = session.scalars(
                select(EventSubscription)
                .where(EventSubscription.enabled, EventSubscription.position < last)
                .order_by(EventSubscription.id)
            )
            return [r for r in map(_record, rows) if r.next_attempt is None or r.next_attempt <= now]

    def claim(self, subscription_id: int, owner: str, lease: timedelta) -> Subscription | None:
        """Take (or keep) the lease of a subscription; None if another process holds it."""
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            taken = cast(
                CursorResult,
                session.execute(
                    update(EventSubscription)
                    .where(EventSubscription.id == subscription_id, EventSubscription.enabled)
                    .where(
                        (EventSubscription.lease_owner.is_(None))
                        | (EventSubscription.lease_owner == owner)
                        | (EventSubscription.lease_until < now)
                    )
                    .values(lease_owner=owner, lease_until=now + lease)
                ),
            ).rowcount
            return _record(self._row(session, subscription_id)) if taken else None

    def advance(self, subscription_id: int, owner: str, position: int, lease: timedelta, sent: bool) -> bool:
        """Move the cursor past ``position`` (delivered, or not for it) and renew the lease. False
        if the lease was lost meanwhile: the new holder goes on from the cursor it finds."""
        now = datetime.now(UTC)
        values: dict = {"position": position, "lease_until": now + lease}
        if sent:
            values |= {"attempts": 0, "next_attempt_at": None, "failing_since": None, "last_success_at": now}
        with self.store.transaction() as session:
            moved = session.execute(
                update(EventSubscription)
                .where(EventSubscription.id == subscription_id, EventSubscription.lease_owner == owner)
                .where(EventSubscription.position <= position)
                .values(**values)
            )
            return bool(cast(CursorResult, moved).rowcount)

    def failed(self, subscription_id: int, owner: str, error: str, delay: timedelta, give_up: timedelta) -> None:
        """A delivery failed: back off for ``delay``; disabled once failing for ``give_up``."""
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            row = session.get(EventSubscription, subscription_id)
            if row is None or row.lease_owner != owner:
                return
            row.attempts += 1
            row.failing_since = _maybe(row.failing_since) or now
            row.last_error = f"{now.isoformat(timespec='seconds')}: {error}"[:MAX_ERROR]
            row.next_attempt_at = now + delay
            if now - row.failing_since >= give_up:
                row.enabled = False
            row.lease_owner, row.lease_until = None, None

    def release(self, subscription_id: int, owner: str) -> None:
        with self.store.transaction() as session:
            session.execute(
                update(EventSubscription)
                .where(EventSubscription.id == subscription_id, EventSubscription.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
