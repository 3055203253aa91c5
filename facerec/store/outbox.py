"""The event outbox: what other systems are told (webhooks, MQTT, ``GET /v1/events``), written in
the same transaction as the change it tells of, so an event exists exactly when its change does.
Nothing is sent from here: deliverers (facerec.events) read the outbox after a cursor.

A cursor only works if ids appear in order: a reader that has seen id 11 must never later find
a 10 committed after it. SQLite has one writer at a time (BEGIN IMMEDIATE); on PostgreSQL
:func:`emit` takes a transaction-scoped advisory lock before it inserts, so transactions that
write events commit one after another in id order. Ids are never reused (AUTOINCREMENT on
SQLite, a sequence on PostgreSQL), even after a purge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from facerec.store.models import EventSubscription, GroupMember, OutboxRow, aware, utcnow
from facerec.store.settings import Settings

if TYPE_CHECKING:  # the repository writes events through emit(): no import back at run time
    from facerec.store.repository import Store

# Event types, as webhooks' ``type`` and MQTT topics (dots become slashes) name them.
EVENT_TYPES = (
    "checkin",  # a person checked in: a new attendance event
    "checkin.updated",  # seen again within the dedupe window: the same event, later last_seen
    "unknown",  # a face nobody enrolled matched (kept for review)
    "spoof",  # a print or a screen held up to a camera
    "person.enrolled",  # a new person
    "person.renamed",
    "person.removed",
)
_ORDER_LOCK = 0x66616365  # "face": the advisory lock that makes PostgreSQL commit events in id order
SETTING = "events"
# The ``events`` setting: how long delivered events are kept, the private hosts webhooks may reach,
# and delivery's pace: back-off from retry_base to retry_max seconds (doubling, with jitter), a
# webhook disabled after failing for disable_after seconds, each request's timeout, the lease.
DEFAULTS = {
    "retention_days": 7,
    "allowed_hosts": [],
    "retry_base_seconds": 5.0,
    "retry_max_seconds": 60.0,  # so a receiver back from any outage hears again within a minute
    "disable_after_seconds": 86400.0,
    "timeout_seconds": 10.0,
    "lease_seconds": 30.0,
}


@dataclass(frozen=True)
class OutboxEvent:
    id: int
    type: str
    at: datetime
    groups: tuple[str, ...]
    data: dict

    def to_dict(self) -> dict:
        """The event as every consumer gets it (the webhook body, the MQTT payload, /v1/events)."""
        return {"id": self.id, "type": self.type, "timestamp": self.at.isoformat(), "data": self.data}


def person_groups(session: Session, person_id: int) -> list[str]:
    return sorted(session.scalars(select(GroupMember.group_name).where(GroupMember.person_id == person_id)))


def emit(session: Session, type_: str, data: dict, groups: Iterable[str] = ()) -> None:
    """Add an event to the caller's transaction (it commits or rolls back with the change).
    Call it last in a transaction, after every other write: on PostgreSQL it takes the event
    lock, and a transaction holding that lock must not then wait for a row another holds while
    waiting for the lock (a deadlock)."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ORDER_LOCK})
    session.add(OutboxRow(at=utcnow(), type=type_, groups=sorted(groups), data=data))


def _event(row: OutboxRow) -> OutboxEvent:
    return OutboxEvent(row.id, row.type, aware(row.at), tuple(row.groups), dict(row.data))


class Outbox:
    """Reading and purging the outbox."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def after(self, cursor: int, limit: int = 100, types: Iterable[str] = ()) -> list[OutboxEvent]:
        """Events after ``cursor`` (an event id; 0: from the oldest kept), oldest first."""
        query = select(OutboxRow).where(OutboxRow.id > int(cursor)).order_by(OutboxRow.id).limit(int(limit))
        wanted = list(types)
        if wanted:
            query = query.where(OutboxRow.type.in_(wanted))
        with self.store.reading() as session:
            return [_event(row) for row in session.scalars(query)]

    def last_id(self) -> int:
        with self.store.reading() as session:
            return session.scalar(select(func.max(OutboxRow.id))) or 0

    def settings(self) -> dict:
        return DEFAULTS | (Settings(self.store).get(SETTING) or {})

    def configure(self, **values) -> dict:
        settings = self.settings() | values
        Settings(self.store).put(SETTING, settings)
        return settings

    def purge(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Drop events older than ``older_than`` that every enabled subscription has delivered
        (a disabled one holds nothing back: it would keep the outbox growing for ever). Returns
        how many went. Consumers that only read by cursor (/v1/events) can replay as far back
        as the retention."""
        cutoff = (now or datetime.now(UTC)) - older_than
        with self.store.reading() as session:  # most times nothing is due: no write lock for that
            oldest = session.scalar(select(func.min(OutboxRow.at)))
        if oldest is None or aware(oldest) >= cutoff:
            return 0
        with self.store.transaction() as session:
            behind = session.scalar(select(func.min(EventSubscription.position)).where(EventSubscription.enabled))
            query = delete(OutboxRow).where(OutboxRow.at < cutoff)
            if behind is not None:
                query = query.where(OutboxRow.id <= behind)
            return cast(CursorResult, session.execute(query)).rowcount

    def apply_retention(self, now: datetime | None = None) -> int:
        days = self.settings().get("retention_days")
        return self.purge(timedelta(days=days), now) if days else 0
