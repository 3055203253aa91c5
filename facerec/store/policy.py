"""The store's privacy settings (one ``privacy`` setting row), read inside a caller's transaction.

- ``require_consent``: enrolment needs a live consent record for the name (facerec.store.consent);
- ``template_retention_days``: a person's templates are erased this long after their last sighting
  or enrolment (None: kept until removed; BIPA's outer limit is 3 years after the last interaction);
- ``keep_photos``: whether aligned face crops are kept beside the templates (False: only templates;
  re-embedding for another model then needs the photos again).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facerec.errors import ConsentRequiredError, StoreError
from facerec.store.models import Consent, StoreSetting

SETTING = "privacy"
DEFAULTS = {"require_consent": False, "template_retention_days": None, "keep_photos": True}


def read(session: Session) -> dict:
    row = session.get(StoreSetting, SETTING)
    return DEFAULTS | (dict(row.value) if row else {})


def may_keep(session: Session, name: str) -> dict:
    """The privacy settings, once it is known that ``name``'s biometric data may be kept:
    ConsentRequiredError if the store requires consent and holds no live record for them."""
    rules = read(session)
    if rules["require_consent"]:
        given = session.scalar(
            select(Consent.id).where(Consent.subject == name, Consent.withdrawn_at.is_(None)).limit(1)
        )
        if given is None:
            raise ConsentRequiredError(
                f"this store requires consent before enrolment and holds none for {name!r}: "
                f"record it first (facerec consent give {name} --purpose ... --policy ...)"
            )
    return rules


def checked(values: dict) -> dict:
    """The settings given, refused if one is unknown or of the wrong kind."""
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        raise StoreError(f"unknown privacy setting {', '.join(sorted(unknown))}; use {', '.join(DEFAULTS)}")
    for key in ("require_consent", "keep_photos"):
        if key in values and not isinstance(values[key], bool):
            raise StoreError(f"{key} is true or false, not {values[key]!r}")
    days = values.get("template_retention_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 36500):
        raise StoreError(f"template_retention_days is a number of days in (0, 36500] or null, not {days!r}")
    return values
