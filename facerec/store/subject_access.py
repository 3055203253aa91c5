"""A person's data on request (GDPR Art. 15 and 20): one zip of everything the store holds about
them: their samples (crops as PNG, embeddings as .npy, metadata), attendance and spoof events,
consent records, and the audit lines about them; nothing about anyone else. The export itself is
audited."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC

import numpy as np
from sqlalchemy import select

from facerec.errors import UnknownPersonError
from facerec.store.archive import Archive
from facerec.store.attendance_log import AttendanceLog
from facerec.store.audit import AuditTrail
from facerec.store.models import AuditEntry, aware
from facerec.store.names import check_name
from facerec.store.privacy import Privacy
from facerec.store.repository import Store
from facerec.store.spoofs import SpoofEvents

FORMAT = 1
DOCUMENT = "person.json"


def _audit_about(store: Store, name: str) -> list[dict]:
    """Audit lines whose target is the person (enrolment, consent, removal, exports, reads)."""
    with store.reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.target == name).order_by(AuditEntry.id))
        return [{"at": aware(r.at).isoformat(), "key": r.actor, "action": r.action, "details": r.details} for r in rows]


def archive(store: Store, name: str) -> bytes:
    """The zip (bytes) of everything held about ``name``; UnknownPersonError if nobody of that
    name is enrolled and no consent is on record for them."""
    name = check_name(name)
    consents = [c.to_dict() for c in Privacy(store).consents(name)]
    try:
        (person,) = Archive(store).dump(name)
    except UnknownPersonError:  # consent records alone may still be held
        if not consents:
            raise
        person = {"name": name, "samples": []}
    log = AttendanceLog(store)
    events = log.events(person=name)
    samples, buffer = [], io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for n, s in enumerate(person["samples"]):
            meta = {k: v for k, v in s.items() if k not in ("embedding", "crop_png")}
            if s["crop_png"]:
                out.writestr(f"crops/{n:04d}.png", s["crop_png"])
            vectors = io.BytesIO()
            np.save(vectors, np.asarray(s["embedding"], np.float32), allow_pickle=False)
            out.writestr(f"embeddings/{n:04d}.npy", vectors.getvalue())
            samples.append(meta | {"crop": f"crops/{n:04d}.png" if s["crop_png"] else None})
        for event in events:
            snapshot = log.snapshot(event.id)
            if snapshot:
                out.writestr(f"attendance/{event.id}.png", snapshot)
        AuditTrail(store).record("export", name, samples=len(samples), events=len(events))
        document = {
            "format": FORMAT,
            "person": {k: v for k, v in person.items() if k != "samples"},
            "samples": samples,
            "attendance": [e.to_dict(UTC) for e in events],
            "spoof_events": [s.to_dict(UTC) for s in SpoofEvents(store).between(claimed=name)],  # their face held up
            "consents": consents,
            "audit": _audit_about(store, name),
        }
        out.writestr(DOCUMENT, json.dumps(document, indent=1, ensure_ascii=False))
    return buffer.getvalue()
