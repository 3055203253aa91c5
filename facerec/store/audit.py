"""The audit trail: who changed what, and every read or erasure of biometric data.

An audit line is written in the transaction of the change it describes (``write``), so a change
is never without its line nor a line without its change. Who is acting is a context variable the
HTTP API sets around a request's work (``acting``); the command line and the Python API act as
``LOCAL_ACTOR`` and are audited only where biometric data is touched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from facerec.store.models import AuditEntry, aware

if TYPE_CHECKING:
    from facerec.store.repository import Store

log = logging.getLogger(__name__)

LOCAL_ACTOR = "local"  # who the audit names for changes made from the command line or Python
# Who is making changes, for the audit log: set by the HTTP API around a request's work (the key's
# name); unset (the command line, the Python API) nothing is audited.
_ACTOR: ContextVar[str | None] = ContextVar("facerec_actor", default=None)


@contextmanager
def acting(actor: str) -> Iterator[None]:
    """Changes made inside are audited as ``actor``'s (in the same transaction as each change)."""
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def actor() -> str | None:
    """Who is acting now: an API key's name, or None outside a request (command line, Python)."""
    return _ACTOR.get()


def actor_or_local() -> str:
    """Who a record names as having acted: the API key's name, else ``LOCAL_ACTOR``."""
    return _ACTOR.get() or LOCAL_ACTOR


def write(session: Session, action: str, target: str, always: bool = False, **details) -> None:
    """An audit line if an actor is set (the HTTP API); with ``always`` (what touches biometric
    data: erasure, consent, exports) also from the command line or the Python API."""
    who = _ACTOR.get()
    if who is not None or always:
        session.add(AuditEntry(actor=who or LOCAL_ACTOR, action=action, target=target, details=details))


class AuditTrail:
    """The audit lines of one store: written on their own, and read back."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, action: str, target: str, **details) -> None:
        """Write an audit line on its own (a read of biometric data: a crop, an export); none on a
        read-only store, which can be read but not written."""
        if self.store.read_only:
            log.warning("read-only store: %s of %s is not audited", action, target)
            return
        with self.store.transaction() as session:
            write(session, action, target, always=True, **details)

    def latest(self, limit: int = 200) -> list[dict]:
        """The latest changes made through the API, newest first."""
        with self.store.reading() as session:
            rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
            return [
                {
                    "at": aware(r.at).isoformat(),
                    "key": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "details": r.details,
                }
                for r in rows
            ]
