"""HTTP API keys: created with a name, kept only as a sha256 (keys are 256-bit random, so a plain
hash suffices: nothing to brute-force), revoked by name."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from facerec.errors import DuplicateNameError, UnknownPersonError
from facerec.store.models import ApiKey, utcnow
from facerec.store.repository import Store, _aware

PREFIX = "frk_"


@dataclass(frozen=True)
class KeyRecord:
    name: str
    created: datetime
    revoked: datetime | None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "created": self.created.isoformat(),
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str) -> str:
        """A new key for ``name``; the only time the key itself is seen."""
        name = name.strip()
        if not name:
            raise UnknownPersonError("an API key needs a name")
        key = PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as session:
            if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
                raise DuplicateNameError(f"an API key named {name!r} exists already")
            session.add(ApiKey(name=name, key_sha256=digest(key)))
        return key

    def list(self) -> list[KeyRecord]:
        with self.store.reading() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.name))
            return [
                KeyRecord(r.name, _aware(r.created_at), _aware(r.revoked_at) if r.revoked_at else None) for r in rows
            ]

    def revoke(self, name: str) -> None:
        with self.store.transaction() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None:
                raise UnknownPersonError(f"no API key named {name!r}")
            row.revoked_at = row.revoked_at or utcnow()

    def valid(self, key: str | None) -> str | None:
        """The name of a live key, or None (missing, unknown or revoked)."""
        if not key:
            return None
        with self.store.reading() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.key_sha256 == digest(key)))
            return row.name if row is not None and row.revoked_at is None else None
