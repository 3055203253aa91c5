"""People and what is held about them: enrolment (photos or a clip), their samples, consent, the
export of their data, renaming and removal, and the groups they are in.

The routes under ``/v1/persons/{name:path}/...`` come before ``/v1/persons/{name:path}``, which
would take them (a name may hold slashes)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from facerec.attendance import clips
from facerec.attendance.sources import Frame
from facerec.interfaces import api_models as models
from facerec.interfaces.deps import (
    Admin,
    Admitted,
    Enroller,
    Reader,
    Services,
    ServicesDep,
    refuse_duplicates_unless_admin,
)
from facerec.interfaces.fields import RecordId
from facerec.interfaces.http_rules import Name
from facerec.interfaces.private_answers import PRIVATE, PRIVATE_PNG, photo
from facerec.interfaces.uploads import read_uploads
from facerec.store.groups import Groups
from facerec.store.names import check_name
from facerec.store.people import People
from facerec.store.samples import Samples

AllowDuplicate = Annotated[
    bool, Query(description="enrol a face enrolled already as someone else (twins); admin keys only")
]

router = APIRouter(prefix="/v1")


def everyone(svc: Services) -> list[dict]:
    """Everyone enrolled, with their groups and when last seen at any check-in."""
    store = svc.recognizer.store
    last = svc.log.last_seen()
    groups: dict[str, list[str]] = {}
    for group, members in Groups(store).all().items():
        for name in members:
            groups.setdefault(name, []).append(group)
    return [
        p.to_dict() | {"last_seen": last.get(p.name), "groups": groups.get(p.name, [])} for p in People(store).all()
    ]


def one_person(svc: Services, name: str) -> dict:
    record = People(svc.recognizer.store).get(name)
    found = {p["name"]: p for p in everyone(svc)}
    return found[record.name] | {"samples": [s.to_dict() for s in Samples(svc.recognizer.store).records(name)]}


@router.get("/persons", response_model=list[models.Person], responses=models.errors(401, 403))
async def people(_caller: Reader, svc: ServicesDep) -> list[dict]:
    """Everyone enrolled: samples held, groups, when last seen at any check-in."""
    return await svc.run(lambda: everyone(svc))


@router.post(
    "/persons/{name:path}/images",
    status_code=201,
    response_model=models.EnrollReport,
    openapi_extra=models.image_body({"images": "a photo of the person"}, many="images"),
    responses={
        **models.errors(401, 403, 413, 415),
        422: models.EITHER_REPORT_OR_ERROR,
    },
)
async def enroll(
    name: Name,
    request: Request,
    caller: Enroller,
    _queued: Admitted,
    svc: ServicesDep,
    largest: bool = False,
    liveness: bool = False,
    allow_duplicate: AllowDuplicate = False,
) -> JSONResponse:
    """Enrol one or more photos (field ``images``, repeated) for a person, created if new. A
    face enrolled already as someone else is skipped, saying who."""
    refuse_duplicates_unless_admin(allow_duplicate, caller)
    values = await read_uploads(request, svc.config, ("images",), many=True)
    labelled = values["images"]
    report = await svc.compute(
        request,
        lambda: svc.recognizer.enroll(
            name, labelled, largest=largest, liveness=liveness, allow_duplicate=allow_duplicate
        ),
        caller,
    )
    status = 201 if report.added else 422
    return JSONResponse(report.to_dict(), status_code=status)


@router.post(
    "/persons/{name:path}/clip",
    status_code=201,
    response_model=models.EnrollReport,
    openapi_extra=models.image_body({"frames": "a frame of the clip, in order"}, many="frames"),
    responses={**models.errors(401, 403, 413, 415), 422: models.EITHER_REPORT_OR_ERROR},
)
async def enroll_clip(
    name: str,
    request: Request,
    caller: Enroller,
    _queued: Admitted,
    svc: ServicesDep,
    fps: Annotated[float, Query(ge=0.5, le=60, description="frames per second the clip was taken at")] = 5.0,
    faces: Annotated[int, Query(ge=1, le=20, description="samples to take from the clip")] = 5,
    allow_duplicate: AllowDuplicate = False,
) -> JSONResponse:
    """Enrol a person from a short clip (field ``frames``, repeated, in order: the desk's
    webcam sends a few seconds of them): the person is followed and the ``faces`` best, most
    varied frames become samples, as ``facerec enroll NAME CLIP`` does. A clip with several
    people in view is refused (422)."""
    refuse_duplicates_unless_admin(allow_duplicate, caller)
    values = await read_uploads(request, svc.config, ("frames",), many=True)
    recognizer = svc.recognizer

    def work():
        start = datetime.now(UTC)
        shown = (
            Frame(start + timedelta(seconds=i / fps), recognizer.load(data, name=label), f"frame {i}")
            for i, (label, data) in enumerate(values["frames"])
        )
        picked = clips.enrollment_faces(recognizer, shown, count=faces, label="clip")
        return recognizer.enroll(name, picked.images, largest=True, allow_duplicate=allow_duplicate)

    report = await svc.compute(request, work, caller)
    return JSONResponse(report.to_dict(), status_code=201 if report.added else 422)


# --- a person's data: consent, export (before /v1/persons/{name:path}, which would take them) ----


@router.get(
    "/persons/{name:path}/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, **models.errors(401, 403, 404)},
)
async def export_person(name: Name, caller: Admin, svc: ServicesDep) -> Response:
    """Everything held about one person, as one zip (GDPR Art. 15): samples' crops, embeddings and
    metadata, attendance, consent records, audit lines about them. Audited."""
    from facerec.store import subject_access

    data = await svc.run(lambda: subject_access.archive(svc.recognizer.store, name), caller=caller)
    disposition = {"Content-Disposition": 'attachment; filename="person-export.zip"'}
    return Response(data, media_type="application/zip", headers=PRIVATE | disposition)


@router.post(
    "/persons/{name:path}/consent",
    response_model=models.Consent,
    status_code=201,
    responses=models.errors(401, 403, 422),
)
async def give_consent(name: Name, body: models.ConsentGiven, caller: Enroller, svc: ServicesDep) -> dict:
    """Record a person's consent (recorded by this key), before enrolment where it is required."""
    from facerec.store.privacy import Privacy

    work = lambda: Privacy(svc.recognizer.store).give(name, body.purpose, body.policy_version)  # noqa: E731
    return (await svc.run(work, caller=caller)).to_dict()


@router.get("/persons/{name:path}/consent", response_model=list[models.Consent], responses=models.errors(401, 403))
async def consents(name: Name, _caller: Reader, svc: ServicesDep) -> list[dict]:
    from facerec.store.privacy import Privacy

    return [c.to_dict() for c in await svc.run(lambda: Privacy(svc.recognizer.store).consents(name))]


@router.delete("/persons/{name:path}/consent", response_model=models.Withdrawn, responses=models.errors(401, 403, 404))
async def withdraw_consent(name: Name, caller: Enroller, svc: ServicesDep) -> dict:
    """Withdraw consent: the person's face data is erased now; attendance rows stay. The receipt."""
    from facerec.identity import erasure

    receipt = await svc.run(lambda: erasure.withdraw(svc.recognizer.store, name), caller=caller)
    return {"withdrawn": check_name(name), "receipt": receipt}


@router.get("/persons/{name:path}/samples", response_model=list[models.Sample], responses=models.errors(401, 403, 404))
async def samples(name: Name, _caller: Reader, svc: ServicesDep) -> list[dict]:
    return await svc.run(lambda: [s.to_dict() for s in Samples(svc.recognizer.store).records(name)])


@router.get("/persons/{name:path}", response_model=models.PersonDetail, responses=models.errors(401, 403, 404))
async def person(name: Name, _caller: Reader, svc: ServicesDep) -> dict:
    return await svc.run(lambda: one_person(svc, name))


@router.patch("/persons/{name:path}", response_model=models.Person, responses=models.errors(401, 403, 404, 409, 422))
async def rename(name: Name, body: models.Rename, caller: Enroller, svc: ServicesDep) -> dict:
    """Give a person another name."""
    return (await svc.run(lambda: People(svc.recognizer.store).rename(name, body.name), caller=caller)).to_dict()


@router.delete("/persons/{name:path}", response_model=models.Removed, responses=models.errors(401, 403, 404))
async def remove(name: Name, caller: Enroller, svc: ServicesDep) -> dict:
    """The person with every sample, embedding, crop, attendance event and snapshot; the receipt
    says what was erased (also in the audit)."""
    from facerec.identity import erasure

    receipt = await svc.run(lambda: erasure.remove(svc.recognizer.store, name), caller=caller)
    return {"removed": check_name(name), "samples": receipt["samples"], "receipt": receipt}  # the name as stored


@router.get(
    "/samples/{sample_id}/crop",
    response_class=Response,
    responses={**PRIVATE_PNG, **models.errors(401, 403, 404)},
)
async def sample_crop(sample_id: RecordId, caller: Reader, svc: ServicesDep) -> Response:
    """A sample's aligned face crop (each read audited); a placeholder where photos are not kept."""
    return photo(await svc.run(lambda: Samples(svc.recognizer.store).crop(sample_id), caller=caller))


@router.delete("/samples/{sample_id}", response_model=models.SampleRemoved, responses=models.errors(401, 403, 404))
async def remove_sample(sample_id: RecordId, caller: Enroller, svc: ServicesDep) -> dict:
    record = await svc.run(lambda: Samples(svc.recognizer.store).remove(sample_id), caller=caller)
    return {"removed": record.id, "person": record.person}


# --- groups --------------------------------------------------------------------------------------


@router.get("/groups", response_model=models.Groups, responses=models.errors(401, 403))
async def groups(_caller: Reader, svc: ServicesDep) -> dict:
    return {"groups": await svc.run(Groups(svc.recognizer.store).all)}


@router.patch("/groups/{group:path}", response_model=models.Members, responses=models.errors(401, 403, 404, 422))
async def change_group(group: Name, body: models.GroupChange, caller: Enroller, svc: ServicesDep) -> dict:
    """Add people to a group (a class, a department) and take others out."""
    store = svc.recognizer.store

    def work() -> list[str]:
        members = Groups(store).add(group, body.add) if body.add else []
        if body.remove:
            members = Groups(store).remove(group, body.remove)
        return members if (body.add or body.remove) else Groups(store).members(group)

    return {"group": group, "members": await svc.run(work, caller=caller)}
