"""Erasure across the store and every index of it: the store's transaction erases the rows (and
the pgvector copies with them); then each faiss file saved for the store is caught up and written
again, so no file on disk keeps an erased face. The receipt names what went."""

from __future__ import annotations

from datetime import datetime

from facerec.identity.index import refresh_saved
from facerec.store import Store
from facerec.store.attendance_log import AttendanceLog
from facerec.store.people import People
from facerec.store.privacy import Privacy


def remove(store: Store, name: str) -> dict:
    """Delete a person wholly (samples, centroid, attendance); the receipt."""
    return People(store).erase(name) | {"index_files": refresh_saved(store)}


def withdraw(store: Store, name: str) -> dict:
    """Withdraw consent and erase the person's biometric data; the receipt."""
    return Privacy(store).withdraw(name) | {"index_files": refresh_saved(store)}


def apply_retention(store: Store, settings: dict | None = None, now: datetime | None = None) -> dict[str, int]:
    """Every retention applied now: attendance by its setting (``settings`` as AttendanceLog
    .settings returns them, if at hand), and the templates of people not seen within the privacy
    setting's ``template_retention_days``, index files included. Counts; ``templates_of``: people."""
    gone = AttendanceLog(store).apply_retention(settings, now)
    return gone | {"templates_of": len(purge_templates(store, now)["people"])}


def purge_templates(store: Store, now: datetime | None = None) -> dict:
    """The template retention applied now; {"people": [...], "receipt": {...}}."""
    purged = Privacy(store).purge_templates(now)
    if purged["people"]:
        purged["receipt"]["index_files"] = refresh_saved(store)
    return purged
