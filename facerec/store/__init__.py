"""The identity store: SQL is the source of truth for people and their face samples."""

from facerec.store.records import PersonRecord, SampleRecord, StoredSample
from facerec.store.repository import Store, default_url

__all__ = ["PersonRecord", "SampleRecord", "Store", "StoredSample", "default_url"]
