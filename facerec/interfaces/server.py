"""The HTTP API (FastAPI): ``facerec serve``. A thin layer over FaceRecognizer, like the CLI.

- One FaceRecognizer per server process, models loaded at start-up. Work runs in the thread pool
  (the event loop never waits on a network or the database); model work is serialised by a
  lock, because two inferences at once on the same cores only slow each other down.
- Several processes may share one PostgreSQL store: identification checks the store revision on
  every request (one indexed query) and reloads the faiss index when another process changed
  the store, so an enrolment or removal anywhere is seen by the next request everywhere.
- Images arrive as multipart uploads or as base64 in JSON. Errors are JSON ``{"detail": ...}``:
  413 too large, 415 not an image, 422 undecodable or no face, 404 unknown, 409 duplicate,
  401 missing or revoked key.
"""

import base64
import binascii
import contextlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

import facerec
from facerec import errors
from facerec.attendance.checkins import Attendance
from facerec.attendance.presence import ConfirmRule, parse_time
from facerec.recognizer import FaceRecognizer
from facerec.store.api_keys import ApiKeys
from facerec.store.attendance_log import AttendanceLog

CONFIG_ENV = "FACEREC_SERVER_CONFIG"
INDEX_NAMES = {"PersonIndex": "faiss", "PgVectorIndex": "pgvector"}
MAX_ENROL_IMAGES = 50

# Leading bytes of the formats images.load_image decodes; anything else is "not an image" (415).
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


@dataclass(frozen=True)
class ServerConfig:
    db: str | None = None
    model: str | None = None
    threads: int | None = None
    backend: str = "auto"
    max_upload_mb: float = 10.0
    # A check-in terminal that must never check in a print or a screen: every check-in checks
    # liveness, whatever the request says. False: the request's liveness=, else the store's setting.
    require_liveness: bool = False
    liveness_threshold: float | None = None
    index: str = "auto"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class RenameBody(BaseModel):
    name: str


def app_from_environment() -> FastAPI:
    """The app ``facerec serve`` runs in each worker process (settings passed in the environment)."""
    return create_app(ServerConfig(**json.loads(os.environ.get(CONFIG_ENV) or "{}")))


def _status(exc: errors.FacerecError) -> int:
    if isinstance(exc, errors.UnknownPersonError):
        return 404
    if isinstance(exc, errors.DuplicateNameError):
        return 409
    return 422


def is_image(data: bytes) -> bool:
    return data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def create_app(config: ServerConfig = ServerConfig()) -> FastAPI:
    from facerec.runtime.settings import set_threads

    set_threads(config.threads)
    recognizer = FaceRecognizer(
        db=config.db,
        model=config.model,
        backend=config.backend,
        threads=config.threads,
        liveness_threshold=config.liveness_threshold,
        index=config.index,
    )
    compute = threading.Lock()
    keys = ApiKeys(recognizer.store)

    def warm() -> None:
        recognizer.detector  # noqa: B018 - load the models once, before the first request
        recognizer.embedder  # noqa: B018
        if config.require_liveness:
            recognizer.liveness_checker  # noqa: B018

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await run_in_threadpool(warm)
        yield
        recognizer.store.close()

    app = FastAPI(
        title="facerec",
        version=facerec.__version__,
        description="Face detection, recognition and attendance. Send the API key as X-API-Key.",
        lifespan=lifespan,
    )

    @app.exception_handler(errors.FacerecError)
    async def _facerec_error(_request: Request, exc: errors.FacerecError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status(exc))

    header = APIKeyHeader(name="X-API-Key", auto_error=False)

    async def authorised(key: Annotated[str | None, Security(header)]) -> str:
        name = await run_in_threadpool(keys.valid, key)
        if name is None:
            raise HTTPException(401, "a valid X-API-Key header is needed (facerec apikey create NAME)")
        return name

    Key = Annotated[str, Depends(authorised)]

    async def run(work: Callable[[], Any], *, model: bool = True) -> Any:
        """Blocking work in the thread pool; model work one request at a time."""

        def locked() -> Any:
            if not model:
                return work()
            with compute:
                return work()

        return await run_in_threadpool(locked)

    async def uploads(request: Request, fields: tuple[str, ...], many: bool = False) -> dict[str, Any]:
        """Image bytes (checked) and other fields from a multipart form or a JSON body."""
        # Refuse an oversized body before reading it: each image may use the limit, plus room for
        # the form's other fields and base64's third (enrolment may carry up to MAX_ENROL_IMAGES).
        images = MAX_ENROL_IMAGES if many else len(fields)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > images * config.max_upload_bytes * 4 // 3 + 2**20:
            raise HTTPException(413, f"upload larger than {config.max_upload_mb:g} MB per image")
        kind = request.headers.get("content-type", "")
        values: dict[str, Any] = {}
        if kind.startswith("multipart/form-data"):
            form = await request.form()
            for key, value in form.multi_items():
                data = await value.read() if hasattr(value, "read") else value
                if many and key in fields:
                    values.setdefault(key, []).append(data)
                else:
                    values[key] = data
        elif kind.startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                raise HTTPException(422, "the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise HTTPException(422, "the JSON body must be an object")
            for key, value in body.items():
                if key in fields:
                    items = value if isinstance(value, list) else [value]
                    decoded = [_base64(key, item) for item in items]
                    values[key] = decoded if many else decoded[0]
                else:
                    values[key] = value
        else:
            raise HTTPException(415, "send images as multipart/form-data or base64 in application/json")
        for key in fields:
            if key not in values:
                raise HTTPException(422, f"missing image field {key!r}")
            if many and len(values[key]) > MAX_ENROL_IMAGES:
                raise HTTPException(413, f"at most {MAX_ENROL_IMAGES} images per request")
            for data in values[key] if many else [values[key]]:
                if not isinstance(data, bytes):
                    raise HTTPException(422, f"field {key!r} must be a file upload")
                if len(data) > config.max_upload_bytes:
                    raise HTTPException(413, f"{key}: upload larger than {config.max_upload_mb:g} MB")
                if not is_image(data):
                    raise HTTPException(415, f"{key}: not an image (JPEG, PNG, GIF, BMP, TIFF or WebP)")
        return values

    def _base64(key: str, value: Any) -> bytes:
        if not isinstance(value, str):
            raise HTTPException(422, f"{key} must be a base64 string")
        try:
            return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(422, f"{key} is not valid base64") from None

    # --- no key needed ------------------------------------------------------------------------

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/version")
    async def version() -> dict:
        index = await run(lambda: type(recognizer.person_index).__name__, model=False)
        return {"version": facerec.__version__, "model": recognizer.embedder.model, "index": INDEX_NAMES[index]}

    # --- recognition ----------------------------------------------------------------------------

    @app.post("/v1/detect")
    async def detect(request: Request, _key: Key) -> dict:
        """Every face of an uploaded image (field ``image``)."""
        values = await uploads(request, ("image",))
        faces = await run(lambda: recognizer.detect(values["image"]))
        return {"faces": [face.to_dict() for face in faces]}

    @app.post("/v1/verify")
    async def verify(request: Request, _key: Key, largest: bool = False) -> dict:
        """Are the faces of ``image1`` and ``image2`` the same person?"""
        values = await uploads(request, ("image1", "image2"))
        result = await run(lambda: recognizer.verify(values["image1"], values["image2"], largest=largest))
        return result.to_dict()

    @app.post("/v1/identify")
    async def identify(
        request: Request, _key: Key, top_k: int = 1, threshold: float | None = None, liveness: bool = False
    ) -> dict:
        """Name every face of ``image``, or null for unknown; with ``liveness``, each face also
        says whether it is a live one (``live``, ``score``)."""
        values = await uploads(request, ("image",))
        found = await run(
            lambda: recognizer.identify(values["image"], top_k=max(top_k, 1), threshold=threshold, liveness=liveness)
        )
        return {"faces": [item.to_dict() for item in found]}

    @app.post("/v1/liveness")
    async def liveness(request: Request, _key: Key) -> dict:
        """Whether each face of ``image`` is a live one, or a print or a screen."""
        values = await uploads(request, ("image",))
        found = await run(lambda: recognizer.liveness(values["image"]))
        faces = [
            {k: v for k, v in face.to_dict().items() if k != "keypoints"} | verdict.to_dict() for face, verdict in found
        ]
        return {"faces": faces}

    # --- people ----------------------------------------------------------------------------------

    @app.post("/v1/persons/{name}/images")
    async def enroll(name: str, request: Request, _key: Key, largest: bool = False) -> JSONResponse:
        """Enrol one or more photos (field ``images``, repeated) for a person, created if new."""
        values = await uploads(request, ("images",), many=True)
        labelled = [(f"upload:{i}", data) for i, data in enumerate(values["images"])]
        report = await run(lambda: recognizer.enroll(name, labelled, largest=largest))
        status = 201 if report.added else 422
        return JSONResponse(report.to_dict(), status_code=status)

    @app.get("/v1/persons")
    async def people(_key: Key) -> list[dict]:
        return [p.to_dict() for p in await run(recognizer.store.people, model=False)]

    def _samples(name: str) -> list[dict]:
        return [s.to_dict() for s in recognizer.store.samples(name)]

    @app.get("/v1/persons/{name}")
    async def person(name: str, _key: Key) -> dict:
        return await run(lambda: recognizer.store.person(name).to_dict() | {"samples": _samples(name)}, model=False)

    @app.get("/v1/persons/{name}/samples")
    async def samples(name: str, _key: Key) -> list[dict]:
        return await run(lambda: _samples(name), model=False)

    @app.patch("/v1/persons/{name}")
    async def rename(name: str, body: RenameBody, _key: Key) -> dict:
        return (await run(lambda: recognizer.store.rename(name, body.name), model=False)).to_dict()

    @app.delete("/v1/persons/{name}")
    async def remove(name: str, _key: Key) -> dict:
        """The person with every sample, embedding, crop, attendance event and snapshot."""
        count = await run(lambda: recognizer.store.remove(name), model=False)
        return {"removed": name, "samples": count}

    @app.delete("/v1/samples/{sample_id}")
    async def remove_sample(sample_id: int, _key: Key) -> dict:
        record = await run(lambda: recognizer.store.remove_sample(sample_id), model=False)
        return {"removed": record.id, "person": record.person}

    # --- attendance ------------------------------------------------------------------------------

    @app.post("/v1/checkin")
    async def checkin(
        request: Request, _key: Key, threshold: float | None = None, liveness: bool | None = None
    ) -> dict:
        """An image from a check-in point (fields ``image``, ``source``, optional ISO ``time``):
        each recognised person is checked in, or their event of the dedupe window updated. Faces
        are named at the same operating point as /v1/identify (``threshold`` overrides it). With
        ``liveness`` (or the server's --require-liveness, or the store's setting) a face that is
        not live is never checked in: it is recorded as a spoof event instead."""
        values = await uploads(request, ("image",))
        source = values.get("source")
        if not isinstance(source, str) or not source.strip():
            raise HTTPException(422, "say where the image comes from: field 'source'")
        moment = _time(values.get("time"))
        keep = str(values.get("unknowns", "")).lower() in ("1", "true", "yes")

        check = True if config.require_liveness else liveness

        def work() -> list[dict]:
            tracker = Attendance(
                recognizer,
                source.strip(),
                rule=ConfirmRule(1, timedelta(0)),
                keep_unknowns=keep,
                threshold=threshold,
                liveness=check,
            )
            pixels = recognizer.load(values["image"])
            return [event.to_dict() for event in tracker.process(pixels, moment)]

        return {"events": await run(work)}

    def _time(value: Any) -> datetime:
        """Now when not given; without an offset, UTC. A bad value is a FacerecError: 422."""
        return datetime.now(UTC) if value in (None, "") else parse_time(str(value), UTC, "time")

    @app.get("/v1/attendance")
    async def attendance(_key: Key, start: str, end: str, tz: str = "UTC") -> dict:
        """Attendance between ``start`` and ``end`` (ISO 8601): per person and source, and absentees."""
        from facerec.attendance import report

        def work() -> dict:
            zone = report.zone(tz)
            lo, hi = _time(start).astimezone(zone), _time(end).astimezone(zone)
            log = AttendanceLog(recognizer.store)
            events = log.events(lo, hi)
            people = [p.name for p in recognizer.store.people()]
            built = report.build(events, people, lo, hi, zone, log.spoofs(lo, hi))
            return built.to_dict() | {"events": [e.to_dict(zone) for e in events]}

        return await run(work, model=False)

    @app.get("/v1/spoofs")
    async def spoofs(_key: Key, start: str | None = None, end: str | None = None) -> list[dict]:
        """Spoof events (prints and screens held up to a check-in camera), oldest first."""
        lo, hi = (_time(start) if start else None), (_time(end) if end else None)
        rows = await run(lambda: AttendanceLog(recognizer.store).spoofs(lo, hi), model=False)
        return [r.to_dict() for r in rows]

    @app.get("/v1/spoofs/{spoof_id}/snapshot", response_class=Response)
    async def spoof_snapshot(spoof_id: int, _key: Key) -> Response:
        data = await run(lambda: AttendanceLog(recognizer.store).spoof_snapshot(spoof_id), model=False)
        return Response(data, media_type="image/png")

    @app.get("/v1/unknowns")
    async def unknowns(_key: Key) -> list[dict]:
        rows = await run(AttendanceLog(recognizer.store).unknowns, model=False)
        return [r.to_dict() for r in rows]

    @app.get("/v1/unknowns/{sighting_id}/snapshot", response_class=Response)
    async def unknown_snapshot(sighting_id: int, _key: Key) -> Response:
        row = await run(lambda: AttendanceLog(recognizer.store).unknown(sighting_id), model=False)
        return Response(row.snapshot, media_type="image/png")

    return app
