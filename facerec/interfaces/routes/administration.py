"""Endpoints about the server and its store rather than about people: health and version (no key
needed), who a key is, the settings, the privacy settings and the audit."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

import facerec
from facerec.identity import calibration, erasure
from facerec.interfaces import api_models as models
from facerec.interfaces.deps import Admin, Checkin, Reader, Services, ServicesDep
from facerec.store.api_keys import ROLES, allows
from facerec.store.audit import AuditTrail

INDEX_NAMES = {"PersonIndex": "faiss", "PgVectorIndex": "pgvector"}

router = APIRouter()


@router.get("/health", response_model=models.Health)
async def health(svc: ServicesDep) -> dict:
    """Answered by the event loop itself: fast however busy the models are."""
    queue = svc.queue
    return {"status": "ok", "model_queue": {**vars(queue.figures), "max_pending": queue.max_pending}}


@router.get("/version", response_model=models.Version)
async def version(svc: ServicesDep) -> dict:
    recognizer = svc.recognizer
    index = await svc.run(lambda: type(recognizer.person_index).__name__)
    return {"version": facerec.__version__, "model": recognizer.embedder.model, "index": INDEX_NAMES[index]}


@router.get("/v1/me", response_model=models.Me, responses=models.errors(401))
async def me(caller: Checkin) -> dict:
    """The key's name and role (what the web page may show)."""
    return {"name": caller.name, "role": caller.role, "allows": [r for r in ROLES if allows(caller.role, r)]}


# --- settings and audit --------------------------------------------------------------------------


def current_settings(svc: Services) -> dict:
    """The attendance settings and the identification threshold set for this model (if its
    centre is still the embedder's)."""
    recognizer = svc.recognizer
    stored = svc.log.settings()
    threshold = calibration.calibrated_threshold(
        recognizer.store, recognizer.embedder.model, recognizer.embedder.centre_id
    )
    return {
        "dedupe_seconds": stored["dedupe_seconds"],
        "retention_days": stored["retention_days"],
        "liveness": bool(stored["liveness"]),
        "threshold": threshold,
    }


@router.get("/v1/privacy", response_model=models.Privacy, responses=models.errors(401, 403))
async def privacy_settings(_caller: Admin, svc: ServicesDep) -> dict:
    from facerec.store.privacy import Privacy

    return await svc.run(lambda: Privacy(svc.recognizer.store).settings())


@router.patch("/v1/privacy", response_model=models.Privacy, responses=models.errors(401, 403, 422))
async def change_privacy(body: models.PrivacyChange, caller: Admin, svc: ServicesDep) -> dict:
    """Consent required, photos kept, template retention (a new retention purges what it covers now)."""
    from facerec.store.privacy import Privacy

    changes = body.model_dump(exclude_none=True)
    if "template_retention_days" in changes:
        changes["template_retention_days"] = changes["template_retention_days"] or None

    def work() -> dict:
        settings = Privacy(svc.recognizer.store).configure(**changes)
        if "template_retention_days" in changes:
            erasure.purge_templates(svc.recognizer.store)
        return settings

    return await svc.run(work, caller=caller)


@router.get("/v1/settings", response_model=models.Settings, responses=models.errors(401, 403))
async def settings(_caller: Reader, svc: ServicesDep) -> dict:
    return await svc.run(lambda: current_settings(svc))


@router.patch("/v1/settings", response_model=models.Settings, responses=models.errors(401, 403, 422))
async def change_settings(body: models.SettingsChange, caller: Admin, svc: ServicesDep) -> dict:
    """Change the dedupe window, the retention, the liveness default or the identification threshold."""
    recognizer, log = svc.recognizer, svc.log

    def work() -> dict:
        changes: dict[str, Any] = {}
        if body.dedupe_seconds is not None:
            changes["dedupe_seconds"] = body.dedupe_seconds
        if body.retention_days is not None:
            changes["retention_days"] = body.retention_days or None
        if body.liveness is not None:
            changes["liveness"] = body.liveness
        if changes:
            erasure.apply_retention(recognizer.store, log.configure(**changes))
        store, embedder = recognizer.store, recognizer.embedder
        if body.clear_threshold:
            calibration.remove_threshold(store, embedder.model)
        elif body.threshold is not None:
            calibration.set_threshold(store, embedder.model, embedder.centre_id, body.threshold, "set through the API")
        return current_settings(svc)

    return await svc.run(work, caller=caller)


@router.get("/v1/audit", response_model=list[models.AuditEntry], responses=models.errors(401, 403))
async def audit(_caller: Admin, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[dict]:
    """The latest changes made through the API: when, by which key, what."""
    return await svc.run(lambda: AuditTrail(svc.recognizer.store).latest(limit))
