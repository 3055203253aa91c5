"""What check-ins leave behind: attendance reports (JSON and CSV), the live feed of check-ins,
events' snapshots, spoofs, and unknown sightings with their review ("this is ...")."""

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from facerec.attendance import report as reports
from facerec.attendance.assign import assign_sightings
from facerec.attendance.clusters import unknown_docs
from facerec.interfaces import api_models as models
from facerec.interfaces.deps import Enroller, Reader, Services, ServicesDep, refuse_duplicates_unless_admin
from facerec.interfaces.fields import RecordId, Zone, moment
from facerec.interfaces.http_rules import Name, Text
from facerec.interfaces.private_answers import PRIVATE, PRIVATE_PNG, photo
from facerec.store.spoofs import SpoofEvents
from facerec.store.unknowns import UnknownSightings
from facerec.types import MAX_ID

FEED_POLL_SECONDS = 1.0  # the live feed looks for new check-ins this often (from any process)

router = APIRouter(prefix="/v1")


def report_of(svc: Services, start: str, end: str, tz: str, group: str | None) -> tuple[reports.Report, list]:
    """The report of [start, end) in ``tz`` (of ``group``'s members only, if given), and its events."""
    zone = reports.zone(tz)
    lo, hi = moment(start, "start").astimezone(zone), moment(end, "end").astimezone(zone)
    return reports.gather(svc.recognizer.store, lo, hi, zone, group)


@router.get(
    "/attendance",
    response_model=models.Attendance,
    response_model_by_alias=True,
    responses=models.errors(401, 403, 404, 422),
)
async def attendance(
    _caller: Reader, svc: ServicesDep, start: Text, end: Text, tz: Zone = "UTC", group: Name | None = None
) -> dict:
    """Attendance between ``start`` and ``end`` (ISO 8601): per person and source, and who was
    absent; of one ``group`` if given."""

    def work() -> dict:
        built, events = report_of(svc, start, end, tz, group)
        return built.to_dict() | {"events": [e.to_dict(built.start.tzinfo) for e in events], "group": group}

    return await svc.run(work)


@router.get(
    "/attendance.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}, **models.errors(401, 403, 404, 422)},
)
async def attendance_csv(
    _caller: Reader, svc: ServicesDep, start: Text, end: Text, tz: Zone = "UTC", group: Name | None = None
) -> Response:
    """The same report as `facerec report --format csv`."""
    text = await svc.run(lambda: reports.render(report_of(svc, start, end, tz, group)[0], "csv"))
    return Response(
        text + "\n", media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="attendance.csv"'}
    )


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **models.errors(401, 403)},
)
async def stream(
    _caller: Reader,
    svc: ServicesDep,
    since: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None,
) -> StreamingResponse:
    """Check-ins as they happen, from every source (any process writing to the store), as
    server-sent events (``event: check_in``, data: the event as JSON). Read it with fetch()
    so the key goes in the header: EventSource cannot send one. A client that reconnects
    with ``Last-Event-ID`` (or ``since``) gets the check-ins after that id first."""
    log = svc.log
    resume = since if since is not None else last_event_id
    last = resume if resume is not None else await svc.run(log.last_event_id)

    async def events() -> AsyncIterator[str]:
        nonlocal last
        yield ": facerec check-ins\n\n"
        while True:
            fresh = await svc.run(functools.partial(log.events_after, last))
            for record in fresh:
                last = max(last, record.id)
                yield f"event: check_in\nid: {record.id}\ndata: {json.dumps(record.to_dict())}\n\n"
            await asyncio.sleep(FEED_POLL_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream", headers=PRIVATE)


@router.get(
    "/events/{event_id}/snapshot",
    response_class=Response,
    responses={**PRIVATE_PNG, **models.errors(401, 403, 404)},
)
async def event_snapshot(event_id: RecordId, _caller: Reader, svc: ServicesDep) -> Response:
    """The best face crop of an attendance event (a placeholder once its face data is erased)."""
    return photo(await svc.run(lambda: svc.log.snapshot(event_id)))


@router.get("/spoofs", response_model=list[models.Spoof], responses=models.errors(401, 403, 422))
async def spoofs(_caller: Reader, svc: ServicesDep, start: Text | None = None, end: Text | None = None) -> list[dict]:
    """Spoof events (prints and screens held up to a check-in camera), oldest first."""
    lo, hi = (moment(start, "start") if start else None), (moment(end, "end") if end else None)
    rows = await svc.run(lambda: SpoofEvents(svc.recognizer.store).between(lo, hi))
    return [r.to_dict() for r in rows]


@router.get(
    "/spoofs/{spoof_id}/snapshot",
    response_class=Response,
    responses={**PRIVATE_PNG, **models.errors(401, 403, 404)},
)
async def spoof_snapshot(spoof_id: RecordId, _caller: Reader, svc: ServicesDep) -> Response:
    return photo(await svc.run(lambda: SpoofEvents(svc.recognizer.store).snapshot(spoof_id)))


@router.get("/unknowns", response_model=list[models.Unknown], responses=models.errors(401, 403))
async def unknowns(_caller: Reader, svc: ServicesDep, clusters: bool = False) -> list[dict]:
    """Unknown sightings kept for review; with ``clusters``, each numbered by the unknown person
    it is (sightings alike at the identification operating point)."""
    recognizer = svc.recognizer
    return await svc.run(lambda: unknown_docs(recognizer.store, recognizer if clusters else None))


@router.get(
    "/unknowns/{sighting_id}/snapshot",
    response_class=Response,
    responses={**PRIVATE_PNG, **models.errors(401, 403, 404)},
)
async def unknown_snapshot(sighting_id: RecordId, _caller: Reader, svc: ServicesDep) -> Response:
    row = await svc.run(lambda: UnknownSightings(svc.recognizer.store).get(sighting_id))
    return photo(row.snapshot)


@router.post("/unknowns/assign", response_model=models.Assigned, responses=models.errors(401, 403, 404, 409, 422))
async def assign(body: models.AssignBody, caller: Enroller, svc: ServicesDep) -> dict:
    """ "This is ...": enrol unknown sightings (one, or a whole cluster's) as the person named,
    in one transaction; they leave the unknowns. 409, naming who, if a sighting is identified
    as someone else enrolled (``allow_duplicate``, admin keys only: twins)."""
    refuse_duplicates_unless_admin(body.allow_duplicate, caller)
    held = await svc.run(
        lambda: assign_sightings(svc.recognizer, svc.log, body.sightings, body.name, body.allow_duplicate),
        caller=caller,
    )
    return {"name": body.name, "sightings": body.sightings, "samples": held}
