"""Store settings: small named JSON documents (calibrated thresholds, attendance and event
settings) that every process using the store shares. A change bumps the store revision, so that
servers reload what they derived from a setting, and is audited."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete

from facerec.store import audit
from facerec.store.models import StoreSetting

if TYPE_CHECKING:
    from facerec.store.repository import Store


class Settings:
    """The settings rows of one store, one transaction a call."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> dict | None:
        with self.store.reading() as session:
            row = session.get(StoreSetting, key)
            return dict(row.value) if row else None

    def put(self, key: str, value: dict) -> None:
        with self.store.transaction() as session:
            session.merge(StoreSetting(key=key, value=value))
            self.store.changed(session, "settings")
            audit.write(session, "settings", key, value=value)

    def remove(self, key: str) -> None:
        with self.store.transaction() as session:
            session.execute(delete(StoreSetting).where(StoreSetting.key == key))
            self.store.changed(session, "settings")
            audit.write(session, "settings", key, value=None)
