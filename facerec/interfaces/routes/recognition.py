"""Endpoints that run the models on an uploaded image: detect, verify, identify, liveness, and a
check-in point's image (each recognised person checked in). Each holds a place in the model queue
(``Admitted``) from before its body is read."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from facerec.attendance.checkins import Attendance
from facerec.attendance.following import FollowConfig
from facerec.attendance.presence import ConfirmRule, check_sighting_time
from facerec.identity.calibration import check_threshold
from facerec.interfaces import api_models as models
from facerec.interfaces.deps import Admitted, Checkin, Reader, ServicesDep
from facerec.interfaces.fields import flag, moment
from facerec.interfaces.http_rules import MAX_TEXT, TEXT_PATTERN
from facerec.interfaces.uploads import read_uploads

IMAGE = models.image_body({"image": "a photo"})
CHECKIN_BODY = models.image_body(
    {"image": "a frame from the check-in point"},
    {
        "source": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT,
            "pattern": TEXT_PATTERN,
            "description": "where the image comes from (a door, a camera)",
        },
        "time": {"type": "string", "description": "ISO 8601 (default: now)"},
        "unknowns": {"type": "string", "description": "true: keep unknown faces for review"},
        "session": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "pattern": TEXT_PATTERN,
            "description": "a kiosk's session: its frames share face tracks, so a person in front of it is "
            "checked in once, on two faces of their track, not once per frame (closed after 30 s idle)",
        },
    },
    required=("source",),
)

router = APIRouter(prefix="/v1")


@router.post(
    "/detect",
    response_model=models.Detected,
    openapi_extra=IMAGE,
    responses=models.errors(401, 403, 413, 415, 422),
)
async def detect(request: Request, _caller: Reader, _queued: Admitted, svc: ServicesDep) -> dict:
    """Every face of an uploaded image (field ``image``)."""
    values = await read_uploads(request, svc.config, ("image",))
    faces = await svc.compute(request, lambda: svc.recognizer.detect(values["image"]))
    return {"faces": [face.to_dict() for face in faces]}


@router.post(
    "/verify",
    response_model=models.Verification,
    openapi_extra=models.image_body({"image1": "a photo of one face", "image2": "another"}),
    responses=models.errors(401, 403, 413, 415, 422),
)
async def verify(request: Request, _caller: Reader, _queued: Admitted, svc: ServicesDep, largest: bool = False) -> dict:
    """Are the faces of ``image1`` and ``image2`` the same person?"""
    values = await read_uploads(request, svc.config, ("image1", "image2"))
    result = await svc.compute(
        request, lambda: svc.recognizer.verify(values["image1"], values["image2"], largest=largest)
    )
    return result.to_dict()


@router.post(
    "/identify",
    response_model=models.Identified,
    openapi_extra=IMAGE,
    responses=models.errors(401, 403, 413, 415, 422),
)
async def identify(
    request: Request,
    _caller: Checkin,
    _queued: Admitted,
    svc: ServicesDep,
    top_k: Annotated[int, Query(ge=1, le=100)] = 1,
    threshold: float | None = None,
    liveness: bool = False,
) -> dict:
    """Name every face of ``image``, or null for unknown; with ``liveness``, each face also
    says whether it is a live one (``live``, ``score``)."""
    values = await read_uploads(request, svc.config, ("image",))
    limit = None if threshold is None else check_threshold(threshold)
    found = await svc.compute(
        request, lambda: svc.recognizer.identify(values["image"], top_k=top_k, threshold=limit, liveness=liveness)
    )
    return {"faces": [item.to_dict() for item in found]}


@router.post(
    "/liveness",
    response_model=models.Liveness,
    openapi_extra=IMAGE,
    responses=models.errors(401, 403, 413, 415, 422),
)
async def liveness(request: Request, _caller: Reader, _queued: Admitted, svc: ServicesDep) -> dict:
    """Whether each face of ``image`` is a live one, or a print or a screen."""
    values = await read_uploads(request, svc.config, ("image",))
    found = await svc.compute(request, lambda: svc.recognizer.liveness(values["image"]))
    faces = [
        {k: v for k, v in face.to_dict().items() if k != "keypoints"} | verdict.to_dict() for face, verdict in found
    ]
    return {"faces": faces}


@router.post(
    "/checkin",
    response_model=models.CheckinResult,
    openapi_extra=CHECKIN_BODY,
    responses=models.errors(401, 403, 413, 415, 422),
)
async def checkin(
    request: Request,
    caller: Checkin,
    _queued: Admitted,
    svc: ServicesDep,
    threshold: float | None = None,
    liveness: bool | None = None,
) -> dict:
    """An image from a check-in point (fields ``image``, ``source``, optional ISO ``time``):
    each recognised person is checked in, or their event of the dedupe window updated. Faces
    are named at the same operating point as /v1/identify (``threshold`` overrides it). With
    ``liveness`` (or the server's --require-liveness, or the store's setting) a face that is
    not live is never checked in: it is recorded as a spoof event instead."""
    values = await read_uploads(request, svc.config, ("image",))
    source = values.get("source")
    if not isinstance(source, str) or not source.strip():
        raise HTTPException(422, "say where the image comes from: field 'source'")
    when = check_sighting_time(moment(values.get("time")))
    keep = flag(values.get("unknowns"))
    check = True if svc.config.require_liveness else liveness
    limit = None if threshold is None else check_threshold(threshold)
    session = values.get("session")
    if session is not None and (not isinstance(session, str) or not 0 < len(session) <= 100):
        raise HTTPException(422, "'session' names the kiosk's session in 1 to 100 characters")
    recognizer = svc.recognizer

    def attendance(rule: ConfirmRule, follow: FollowConfig | None = None) -> Attendance:
        where = source.strip()
        return Attendance(
            recognizer, where, rule=rule, keep_unknowns=keep, threshold=limit, liveness=check, follow=follow
        )

    def work() -> list[dict]:
        pixels = recognizer.load(values["image"])
        if session is not None:
            return [e.to_dict() for e in svc.kiosks.process(session, source.strip(), attendance, pixels, when)]
        alone = attendance(ConfirmRule(1, timedelta(0)))  # one photo: its faces decide at once
        return [event.to_dict() for event in alone.process(pixels, when) + alone.finish()]

    return {"events": await svc.compute(request, work, caller)}
