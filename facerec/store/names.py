"""The one rule for names people give things (a person, a group, an API key), checked wherever a
name enters the store so that the same name is always the same text."""

from __future__ import annotations

import unicodedata

from facerec.errors import StoreError

MAX_NAME = 255


def check_name(name: str, what: str = "person") -> str:
    """Names are free text (slashes, quotes, any script) but not empty, not control characters."""
    cleaned = name.strip()
    if not cleaned:
        raise StoreError(f"a {what}'s name cannot be empty")
    if len(cleaned) > MAX_NAME:
        raise StoreError(f"a {what}'s name can have at most {MAX_NAME} characters, got {len(cleaned)}")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise StoreError(f"a {what}'s name cannot contain control characters: {cleaned!r}")
    return unicodedata.normalize("NFC", cleaned)
