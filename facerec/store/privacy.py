"""What the store does for the people whose faces it holds: consent records, withdrawal that erases
their biometric data at once, and the retention of templates (see docs/privacy.md).

Every step that touches biometric data writes an audit line (who: the API key's name, or
``local`` for the command line), with the receipt of what was erased; the audit lines hold names
and counts, never a template or a photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from facerec.errors import StoreError, UnknownPersonError
from facerec.store import audit, policy
from facerec.store.models import AttendanceEvent, Consent, FaceSample, Person, StoreSetting, aware, utcnow
from facerec.store.names import check_name
from facerec.store.people import People
from facerec.store.repository import Store

MAX_PURPOSE = 1024
MAX_POLICY = 64


@dataclass(frozen=True)
class ConsentRecord:
    subject: str
    purpose: str
    policy_version: str
    given: datetime
    recorded_by: str
    withdrawn: datetime | None
    withdrawn_by: str | None

    def to_dict(self) -> dict:
        return {
            "subject": self.subject,
            "purpose": self.purpose,
            "policy_version": self.policy_version,
            "given": self.given.isoformat(),
            "recorded_by": self.recorded_by,
            "withdrawn": self.withdrawn.isoformat() if self.withdrawn else None,
            "withdrawn_by": self.withdrawn_by,
        }


def _consent(row: Consent) -> ConsentRecord:
    return ConsentRecord(
        row.subject,
        row.purpose,
        row.policy_version,
        aware(row.given_at),
        row.recorded_by,
        aware(row.withdrawn_at) if row.withdrawn_at else None,
        row.withdrawn_by,
    )


def _text(value: str, what: str, limit: int) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > limit:
        raise StoreError(f"a consent's {what} is required, at most {limit} characters")
    return cleaned


class Privacy:
    """Consent, withdrawal and template retention over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- settings ----------------------------------------------------------------------------------

    def settings(self) -> dict:
        with self.store.reading() as session:
            return policy.read(session)

    def configure(self, **values) -> dict:
        """Change privacy settings (see facerec.store.policy); audited."""
        values = policy.checked(values)
        with self.store.transaction() as session:
            settings = policy.read(session) | values
            session.merge(StoreSetting(key=policy.SETTING, value=settings))
            self.store.changed(session, "settings")
            audit.write(session, "privacy_settings", policy.SETTING, always=True, value=settings)
        return settings

    # --- consent -----------------------------------------------------------------------------------

    def give(self, name: str, purpose: str, policy_version: str) -> ConsentRecord:
        """Record ``name``'s consent (before or after enrolment), by the current actor."""
        name = check_name(name)
        purpose, policy_version = _text(purpose, "purpose", MAX_PURPOSE), _text(policy_version, "policy", MAX_POLICY)
        actor = audit.actor_or_local()
        with self.store.transaction() as session:
            row = Consent(subject=name, purpose=purpose, policy_version=policy_version, recorded_by=actor)
            session.add(row)
            session.flush()
            audit.write(session, "consent_given", name, always=True, purpose=purpose, policy=policy_version)
            return _consent(row)

    def consents(self, name: str | None = None) -> list[ConsentRecord]:
        query = select(Consent).order_by(Consent.subject, Consent.id)
        if name is not None:
            query = query.where(Consent.subject == check_name(name))
        with self.store.reading() as session:
            return [_consent(row) for row in session.scalars(query)]

    def withdraw(self, name: str) -> dict:
        """Withdraw ``name``'s consent and erase their biometric data in the same transaction
        (samples, crops, centroid and its pgvector copy, attendance snapshots); their attendance rows
        stay, under the attendance retention. Returns the erasure receipt (also audited)."""
        name = check_name(name)
        actor = audit.actor_or_local()
        with self.store.transaction() as session:
            live = session.scalars(select(Consent).where(Consent.subject == name, Consent.withdrawn_at.is_(None)))
            withdrawn = 0
            for row in live:
                row.withdrawn_at, row.withdrawn_by = utcnow(), actor
                withdrawn += 1
            person = session.scalar(select(Person).where(Person.name == name))
            if person is None and not withdrawn:
                raise UnknownPersonError(f"no person named {name!r} is enrolled, nor has consent on record")
            receipt = {"consents_withdrawn": withdrawn}
            if person is not None:
                receipt |= People(self.store).erase_biometrics_in(session, person.id)
            audit.write(session, "consent_withdrawn", name, always=True, receipt=receipt)
        self.store.checkpoint()
        return receipt

    # --- retention of templates ----------------------------------------------------------------------

    def purge_templates(self, now: datetime | None = None, days: float | None = None) -> dict:
        """Erase the biometric data of people neither enrolled nor seen (attendance) within the
        template retention (``days``, default the setting; none: nothing is purged). Returns
        {"people": [names], "receipt": summed counts}; audited when anything was purged."""
        days = self.settings()["template_retention_days"] if days is None else days
        if not days:
            return {"people": [], "receipt": {}}
        cutoff = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=days)
        enrolled = (
            select(FaceSample.person_id, func.max(FaceSample.created_at).label("at"))
            .group_by(FaceSample.person_id)
            .subquery()
        )
        seen = (
            select(AttendanceEvent.person_id, func.max(AttendanceEvent.last_seen).label("at"))
            .group_by(AttendanceEvent.person_id)
            .subquery()
        )
        with self.store.transaction() as session:
            rows = session.execute(
                select(Person.id, Person.name, enrolled.c.at, seen.c.at)
                .join(enrolled, enrolled.c.person_id == Person.id)
                .outerjoin(seen, seen.c.person_id == Person.id)
            ).all()
            stale = [
                (pid, name) for pid, name, *times in rows if max(aware(t) for t in times if t is not None) < cutoff
            ]
            total: dict[str, int] = {}
            for person_id, _name in stale:
                for key, value in People(self.store).erase_biometrics_in(session, person_id).items():
                    total[key] = total.get(key, 0) + value
            names = sorted(name for _, name in stale)
            if names:
                audit.write(
                    session, "retention_purge", "templates", always=True, days=days, people=names, receipt=total
                )
        if names:
            self.store.checkpoint()
        return {"people": names, "receipt": total}
