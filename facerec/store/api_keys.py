"""HTTP API keys: created with a name and a role, kept only as a sha256 (keys are 256-bit random,
so a plain hash suffices: nothing to brute-force), revoked by name.

Roles, each allowing what the ones before it allow: ``checkin`` posts check-ins and identifies
(a door's terminal), ``read`` reads people and attendance, ``enrol`` also enrols, renames and
removes people, ``admin`` everything, settings included. A key made without a role is a
``checkin`` key: the narrowest that does something on its own, and what most keys are for."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from facerec.errors import DuplicateNameError, StoreError, UnknownPersonError
from facerec.store.models import ApiKey, aware, utcnow
from facerec.store.names import check_name
from facerec.store.repository import Store

PREFIX = "frk_"
ROLES = ("checkin", "read", "enrol", "admin")  # each includes what the ones before it may do
DEFAULT_ROLE = "checkin"


def allows(role: str, needed: str) -> bool:
    """Whether a key of ``role`` may do what ``needed`` may."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class KeyRecord:
    name: str
    role: str
    created: datetime
    revoked: datetime | None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "created": self.created.isoformat(),
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, role: str = DEFAULT_ROLE) -> str:
        """A new key for ``name`` with ``role``; the only time the key itself is seen."""
        name = check_name(name, "key")
        if role not in ROLES:
            raise StoreError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        key = PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as session:
            old = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if old is not None and old.revoked_at is None:
                raise DuplicateNameError(f"an API key named {name!r} exists already (facerec apikey revoke {name})")
            if old is not None and old.revoked_at is not None:  # a revoked key gives its name up; its row stays
                old.name = f"{name} (revoked {aware(old.revoked_at).isoformat(timespec='seconds')} #{old.id})"
                session.flush()
            session.add(ApiKey(name=name, key_sha256=digest(key), role=role))
        return key

    def list(self) -> list[KeyRecord]:
        with self.store.reading() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.name))
            return [
                KeyRecord(r.name, r.role, aware(r.created_at), aware(r.revoked_at) if r.revoked_at else None)
                for r in rows
            ]

    def revoke(self, name: str) -> None:
        with self.store.transaction() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
            row = row or session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None:
                raise UnknownPersonError(f"no API key named {name!r}")
            row.revoked_at = row.revoked_at or utcnow()

    def valid(self, key: str | None) -> tuple[str, str] | None:
        """(name, role) of a live key, or None (missing, unknown or revoked)."""
        if not key:
            return None
        wanted = digest(key)
        with self.store.reading() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.key_sha256 == wanted))
            # The look-up is by digest, so its timing says nothing about the key; the comparison
            # after it is constant-time anyway.
            if row is None or not hmac.compare_digest(row.key_sha256, wanted) or row.revoked_at is not None:
                return None
            return row.name, row.role
